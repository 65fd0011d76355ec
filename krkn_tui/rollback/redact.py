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

import json
from dataclasses import dataclass

from ..sanitize import visible
from ..secret_values import (REDACTED, SECRET_ANNOTATIONS, SECRET_FIELDS, mask_secret_values,  # noqa: F401
                             secret_values as _secret_values)
from . import data_line
from .source_text import UnsafeSource, checked_source

class Unredactable(ValueError):
    """The content cannot be read (or written back) as the writer's JSON; one line says why."""


def _not_json(constant: str) -> object:
    raise Unredactable(f"its data holds {constant}, which is not JSON")


def _content(text: str) -> tuple[tuple[int, int] | None, object]:
    """The span of the writer's data line(s) and the data they hold; ``(None, None)`` when
    there are none. Unredactable when the data is not the JSON the writer writes (NaN,
    Infinity, nesting deeper than the parser goes)."""
    found = data_line.find(text)
    if found is None:
        return None, None
    start, end, raw = found
    try:
        return (start, end), json.loads(raw, parse_constant=_not_json)
    except RecursionError:
        raise Unredactable("its data is nested too deeply to read") from None
    except Unredactable:
        raise
    except ValueError as exc:
        raise Unredactable(f"its data is not JSON: {visible(exc)}") from None


def _with_content(text: str, span: tuple[int, int], data: object) -> str:
    try:
        encoded = json.dumps(data, sort_keys=True, ensure_ascii=True, allow_nan=False)
    except (ValueError, TypeError, RecursionError) as exc:
        raise Unredactable(f"its data cannot be written back: {type(exc).__name__}") from None
    return text[: span[0]] + data_line.render(encoded) + text[span[1]:]


def redaction(text: str) -> tuple[str, int]:
    """``(text with every Secret value of its content replaced, how many)``; a file with no
    content line of ours, or no Secret in it, comes back unchanged with 0. Unredactable when
    its data cannot be read: the executor asks before a step runs, and refuses it then."""
    span, data = _content(text)
    if span is None:
        return text, 0
    count, _redacted = _secret_values(data, replace=True)
    if not count:
        return text, 0
    return _with_content(text, span, data), count


def redact_secrets(text: str) -> tuple[str, int]:
    """``redaction``, for a caller that must go on whatever the file holds: never raises; data
    it cannot read comes back unchanged with 0 (the executor refuses such a step before it
    runs, so only text from elsewhere, a journal entry, can end here)."""
    try:
        return redaction(text)
    except Exception:
        return text, 0


def redact_data(data: object) -> tuple[object, int]:
    """``(data with every Secret value replaced in place, how many)``: what the cluster journal
    holds of a step's content (the values stay in the local version file)."""
    count, _redacted = _secret_values(data, replace=True)
    return data, count


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
    try:
        span, data = _content(text)
    except Unredactable as exc:  # masking cannot find the values: refuse rather than show them
        raise UnsafeSource(f"{exc}, so its Secret values cannot be masked") from None
    held = redacted = 0
    if span is not None:
        held, redacted = _secret_values(data, replace=not reveal)
        if held and not reveal:
            try:
                text = _with_content(text, span, data)
            except Unredactable as exc:
                raise UnsafeSource(f"{exc}, so its Secret values cannot be masked") from None
    return ShownSource(visible(text, keep="\n\t"), held, redacted, reveal and held > 0)
