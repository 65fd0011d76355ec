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
from typing import Callable

from ..sanitize import INVISIBLE, describe, visible

# Python's PEP 263 cookie, looked for on the first two lines.
_COOKIE_RE = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", re.ASCII)
# INVISIBLE without \n and \t, as one class (a lookahead per character was 5x slower).
_FORBIDDEN_RE = re.compile("[" + INVISIBLE.replace("\x00-\x1f", "\x00-\x08\x0b-\x1f", 1) + "]")
_ASCII_FORBIDDEN_RE = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]")
_ASCII_ALLOWED = bytes([9, 10, *range(0x20, 0x7f)])
CHUNK = 1 << 20


class UnsafeSource(ValueError):
    """The file breaks the text rule; the message says where and why, in one line."""


def _is_utf8(name: str) -> bool:
    try:
        return codecs.lookup(name).name == "utf-8"
    except LookupError:
        return False


def _check_cookie(text: str) -> None:
    first = text.find("\n")
    second = text.find("\n", first + 1) if first >= 0 else -1
    head = text if second < 0 else text[:second]  # the first two lines, whole, as Python reads them
    if "coding" not in head:
        return
    for number, line in enumerate(head.split("\n"), 1):
        cookie = _COOKIE_RE.match(line)
        if cookie and not _is_utf8(cookie[1]):
            raise UnsafeSource(
                f"line {number} declares coding {visible(cookie[1])!r}; only utf-8 is allowed")


def _forbidden(text: str, line_before: int) -> None:
    bad = _FORBIDDEN_RE.search(text)
    if bad:
        line = line_before + text.count("\n", 0, bad.start()) + 1
        raise UnsafeSource(f"line {line} holds the control character {describe(bad[0])}")


def _not_utf8(data: bytes, at: int, offset: int = 0) -> UnsafeSource:
    return UnsafeSource(f"holds binary data, not UTF-8 text (byte 0x{data[at]:02x} at offset {offset + at})")


def checked_source(data: bytes) -> str:
    """The file's text, or UnsafeSource naming the first thing that breaks the rule."""
    if data.isascii():  # the usual case, checked on the bytes at C speed
        text = data.decode("ascii")
        if data.translate(None, _ASCII_ALLOWED):  # something left once the allowed bytes go
            bad = _ASCII_FORBIDDEN_RE.search(data)
            _forbidden(text[: bad.end()], 0)
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _not_utf8(data, exc.start) from None
        _forbidden(text, 0)
    _check_cookie(text)
    return text


def check_stream(read: Callable[[int], bytes]) -> None:
    """The same rule over a file read in chunks (``read(n)`` as ``os.read``): memory stays flat
    whatever the size. Raises UnsafeSource."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, lines, head = 0, 0, ""
    while True:
        chunk = read(CHUNK)
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            raise _not_utf8(chunk, max(0, min(exc.start - len(decoder.getstate()[0]), len(chunk) - 1)),
                            offset) from None
        _forbidden(text, lines)
        if not offset:
            head = text  # the first chunk (1 MiB) holds the first two lines of any real file
        lines += text.count("\n")
        offset += len(chunk)
        if not chunk:
            break
    _check_cookie(head)
