"""Secret values out of version files that no longer need them, and off the screen.

A ``recreate`` step of a deleted namespace carries the namespace's Secrets (their ``data`` and
``stringData``) in its content, because it must create them again. Once it has run it never
needs them again: the executor rewrites the executed file with every Secret value replaced
(atomically, its new digest appended to the manifest first) before it can be archived. A pending
step keeps them; ``show-rollback`` and the console's inspect view mask them unless asked
(``--reveal``, the ``v`` key), through ``shown_source``, the one rule both call; the rollback
service audits a reveal before it is shown.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass

from ..sanitize import visible
from .source_text import checked_source

REDACTED = "<redacted>"
SECRET_FIELDS = ("data", "stringData")
# kubectl apply keeps the whole object, values included, in this annotation.
SECRET_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)

# The writer's content line: ``    data=json.loads(<ascii() of the JSON text>),``
_DATA_LINE_RE = re.compile(r"""^    data=json\.loads\((?P<lit>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")\),$""", re.M)


def _secret_values(node: object, replace: bool) -> tuple[int, int]:
    """``(values held, values already redacted)`` of every Secret object found; with
    ``replace``, the held values are replaced in place."""
    held = redacted = 0

    def visit(values: dict, keys) -> None:
        nonlocal held, redacted
        for key in keys:
            if values[key] == REDACTED:
                redacted += 1
            else:
                held += 1
                if replace:
                    values[key] = REDACTED

    if isinstance(node, dict):
        if node.get("kind") == "Secret":
            for field in SECRET_FIELDS:
                values = node.get(field)
                if isinstance(values, dict):
                    visit(values, list(values))
            annotations = (node.get("metadata") or {}).get("annotations")
            if isinstance(annotations, dict):
                visit(annotations, [k for k in SECRET_ANNOTATIONS if k in annotations])
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        children = ()
    for value in children:
        h, r = _secret_values(value, replace)
        held, redacted = held + h, redacted + r
    return held, redacted


def _content(text: str) -> tuple[re.Match | None, object]:
    """The writer's content line and the data it holds; ``(None, None)`` when there is none."""
    m = _DATA_LINE_RE.search(text)
    if m is None:
        return None, None
    try:
        return m, json.loads(ast.literal_eval(m["lit"]))
    except (ValueError, SyntaxError):
        return None, None


def _with_content(text: str, m: re.Match, data: object) -> str:
    literal = ascii(json.dumps(data, sort_keys=True, ensure_ascii=True, allow_nan=False))
    return text[: m.start("lit")] + literal + text[m.end("lit"):]


def redact_secrets(text: str) -> tuple[str, int]:
    """``(text with every Secret value of its content replaced, how many)``; a file with no
    content line of ours, or no Secret in it, comes back unchanged with 0."""
    m, data = _content(text)
    if m is None:
        return text, 0
    count, _redacted = _secret_values(data, replace=True)
    if not count:
        return text, 0
    return _with_content(text, m, data), count


@dataclass(frozen=True)
class ShownSource:
    """A version file's text as a person may see it: checked (the text rule), sanitised, and
    its Secret values masked unless revealed."""

    text: str
    secrets: int  # Secret values the file holds: masked in ``text``, or shown when ``revealed``
    redacted: int  # values the file no longer holds (replaced once its step ran)
    revealed: bool

    def note(self, how_to_reveal: str) -> str:
        """One line on the Secret values, "" when the file has none; ``how_to_reveal`` is the
        client's way to ask (``--reveal``, a key)."""
        if self.revealed:
            return f"{self.secrets} Secret value(s) REVEALED"
        if self.secrets:
            return f"{self.secrets} Secret value(s) masked; {how_to_reveal} shows them"
        if self.redacted:
            return f"{self.redacted} Secret value(s) redacted when the step ran: nothing to reveal"
        return ""


def shown_source(raw: bytes, *, reveal: bool = False) -> ShownSource:
    """The one masking rule of ``show-rollback`` and the console: the file's checked text
    (``UnsafeSource`` when it breaks the text rule), with every Secret value masked unless
    ``reveal``, passed through the sanitiser. Revealing is the caller's to audit
    (``RollbackService.shown_source`` does)."""
    text = checked_source(raw)
    m, data = _content(text)
    held = redacted = 0
    if m is not None:
        held, redacted = _secret_values(data, replace=not reveal)
        if held and not reveal:
            text = _with_content(text, m, data)
    return ShownSource(visible(text, keep="\n\t"), held, redacted, reveal and held > 0)
