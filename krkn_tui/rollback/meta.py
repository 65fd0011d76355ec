"""The ``# krkn-tui-meta:`` header line that marks a version file as ours."""

from __future__ import annotations

import json

META_PREFIX = "# krkn-tui-meta: "
# The header sits in the leading comment block; looking further would let a comment in the
# callable's body claim the file.
_HEADER_LINES = 20


def meta_line(meta: dict) -> str:
    # ensure_ascii: no character in a name can end the comment line early.
    return META_PREFIX + json.dumps(meta, sort_keys=True, ensure_ascii=True)


def find_meta_line(text: str) -> str | None:
    """The JSON after the prefix, or None when the file has no header of ours."""
    start = 0
    for _ in range(_HEADER_LINES):  # line by line: a listing must not split a 16 MiB file
        end = text.find("\n", start)
        line = text[start:] if end < 0 else text[start:end]
        start = end + 1
        if line.startswith(META_PREFIX):
            return line[len(META_PREFIX) :]
        if line.strip() and not line.startswith("#"):
            return None
        if end < 0:
            break
    return None


def parse_meta(text: str) -> dict | None:
    """The header as a dict; None if absent. Raises ValueError if present but not a JSON object."""
    raw = find_meta_line(text)
    if raw is None:
        return None
    meta = json.loads(raw)
    if not isinstance(meta, dict):
        raise ValueError("krkn-tui-meta header is not a JSON object")
    return meta
