"""Secret values out of version files that no longer need them, and off the screen.

A ``recreate`` step of a deleted namespace carries the namespace's Secrets (their ``data`` and
``stringData``) in its content, because it must create them again. Once it has run it never
needs them again: the executor rewrites the executed file with every Secret value replaced
(atomically, its new digest appended to the manifest first) before it can be archived. A pending
step keeps them; ``show-rollback`` and the console mask them unless asked (``--reveal``).
"""

from __future__ import annotations

import ast
import json
import re

REDACTED = "<redacted>"
SECRET_FIELDS = ("data", "stringData")
# kubectl apply keeps the whole object, values included, in this annotation.
SECRET_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)

# The writer's content line: ``    data=json.loads(<ascii() of the JSON text>),``
_DATA_LINE_RE = re.compile(r"""^    data=json\.loads\((?P<lit>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")\),$""", re.M)


def _redact(node: object) -> int:
    """Replace, in place, the values of every Secret object found; how many were replaced."""
    count = 0
    if isinstance(node, dict):
        if node.get("kind") == "Secret":
            for field in SECRET_FIELDS:
                values = node.get(field)
                if isinstance(values, dict):
                    for key, value in values.items():
                        if value != REDACTED:
                            values[key] = REDACTED
                            count += 1
            annotations = (node.get("metadata") or {}).get("annotations")
            if isinstance(annotations, dict):
                for key in SECRET_ANNOTATIONS:
                    if key in annotations and annotations[key] != REDACTED:
                        annotations[key] = REDACTED
                        count += 1
        for value in node.values():
            count += _redact(value)
    elif isinstance(node, list):
        for value in node:
            count += _redact(value)
    return count


def redact_secrets(text: str) -> tuple[str, int]:
    """``(text with every Secret value of its content replaced, how many)``; a file with no
    content line of ours, or no Secret in it, comes back unchanged with 0."""
    m = _DATA_LINE_RE.search(text)
    if m is None:
        return text, 0
    try:
        data = json.loads(ast.literal_eval(m["lit"]))
    except (ValueError, SyntaxError):
        return text, 0
    count = _redact(data)
    if not count:
        return text, 0
    literal = ascii(json.dumps(data, sort_keys=True, ensure_ascii=True, allow_nan=False))
    return text[: m.start("lit")] + literal + text[m.end("lit"):], count
