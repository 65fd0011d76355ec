"""The strict text rule for version files: what ``show-rollback`` shows is exactly what runs.

A version file is code. Python reads bytes through a coding cookie (``# coding: utf-7`` turns
``+AAo-`` into a newline that no viewer shows), and a terminal hides what follows ``\\r`` or
sits between ``ESC[8m`` and ``ESC[0m``. So a version file must be UTF-8, declare no other
coding, and hold no control, format or separator character except ``\\n`` and ``\\t``; the
executor compiles the decoded, checked text (``compile`` of a ``str`` ignores any cookie), and
list/show call a file that breaks the rule "unsafe".
"""

from __future__ import annotations

import codecs
import re

from ..sanitize import INVISIBLE, describe, visible

# Python's PEP 263 cookie, looked for on the first two lines.
_COOKIE_RE = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", re.ASCII)
_FORBIDDEN_RE = re.compile(f"(?![\n\t])[{INVISIBLE}]")


class UnsafeSource(ValueError):
    """The file breaks the text rule; the message says where and why, in one line."""


def _is_utf8(name: str) -> bool:
    try:
        return codecs.lookup(name).name == "utf-8"
    except LookupError:
        return False


def checked_source(data: bytes) -> str:
    """The file's text, or UnsafeSource naming the first thing that breaks the rule."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnsafeSource(
            f"holds binary data, not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
    bad = _FORBIDDEN_RE.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise UnsafeSource(f"line {line} holds the control character {describe(bad[0])}")
    for number, line in enumerate(text.split("\n", 2)[:2], 1):
        cookie = _COOKIE_RE.match(line)
        if cookie and not _is_utf8(cookie[1]):
            raise UnsafeSource(
                f"line {number} declares coding {visible(cookie[1])!r}; only utf-8 is allowed")
    return text
