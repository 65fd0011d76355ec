"""The one sanitiser for text that came from a file (or a cluster) and goes to a terminal.

A terminal obeys what it is sent: ESC starts a sequence that can clear the screen, set the window
title, hide text (``ESC[8m``) or plant a link (OSC 8); ``\\r`` returns to the start of the line
and lets what follows overwrite what was printed; bidi overrides reorder what is shown. Every
CLI print of file-derived text and every console cell goes through ``visible`` (or ``clip``),
which replaces such characters with their Python escape (``\\x1b``, ``\\u202e``), so what is on
the screen is exactly what is in the file.
"""

from __future__ import annotations

import re
import time
import unicodedata

# Every code point of the categories Cc (controls), Cf (format: bidi overrides, zero-width
# characters, BOM, tags), Zl and Zp (line and paragraph separators), and lone surrogates (file
# names that are not UTF-8 arrive surrogate-escaped). Listed as ranges: building the class from
# unicodedata at import would walk 1.1 million code points. tests/test_sanitize.py checks it
# against unicodedata.
INVISIBLE = (
    "\x00-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\ud800-\udfff"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f"
)
_INVISIBLE_RE = re.compile(f"[{INVISIBLE}]")
# An escape as ``visible`` writes it, or any one character: the units ``clip`` never splits.
_UNIT_RE = re.compile(r"\\x[0-9a-f]{2}|\\u[0-9a-f]{4}|\\U[0-9a-f]{8}|.", re.DOTALL)

NAMES = {"\x1b": "ESC", "\r": "carriage return", "\x00": "NUL", "\x07": "BEL", "\x08": "backspace",
         "\x0b": "vertical tab", "\x0c": "form feed", "\x7f": "DEL", "\x9b": "CSI", "\x9d": "OSC"}


def escape(ch: str) -> str:
    """``\\x1b``, ``\\u202e`` or ``\\U000e0001``: the character as Python would write it."""
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def describe(ch: str) -> str:
    """``\\x1b (ESC)``: the escape and, when known, what the character is."""
    name = NAMES.get(ch)
    if name is None:
        try:
            name = unicodedata.name(ch)
        except ValueError:
            name = unicodedata.category(ch)
    return f"{escape(ch)} ({name})"


def visible(text: object, keep: str = "") -> str:
    """``text`` with every control, format and separator character replaced by its escape;
    the characters in ``keep`` (e.g. ``"\\n\\t"`` for a source listing) are left as they are."""
    text = text if isinstance(text, str) else str(text)
    if not _INVISIBLE_RE.search(text):
        return text
    return _INVISIBLE_RE.sub(lambda m: m[0] if m[0] in keep else escape(m[0]), text)


def one_line(text: object) -> str:
    """``visible`` with every run of whitespace (``str.split``'s: spaces, tabs, newlines,
    ``\\r``, line separators...) folded into one space: the one way text becomes one line."""
    return visible(" ".join(str(text).split()))


def blanked_line(text: object) -> str:
    """One line with every character ``visible`` would escape turned into a space instead: for
    text a report renders as Markdown or HTML, where an escape would only be noise."""
    return " ".join(_INVISIBLE_RE.sub(" ", str(text)).split())


def local_time(ns_or_s: float | int | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A time from a file name or record, as local time; "-" when unset. A time a file name
    made up (30 digits of nanoseconds) is "out of range", never an OverflowError."""
    if not ns_or_s:
        return "-"
    seconds = ns_or_s / 1e9 if ns_or_s > 1e12 else ns_or_s
    try:
        return time.strftime(fmt, time.localtime(seconds))
    except (OverflowError, ValueError, OSError):
        return "out of range"


def char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def text_width(text: str) -> int:
    return sum(char_width(ch) for ch in text)


def clip(text: object, width: int, ellipsis: str = "…") -> str:
    """``visible(text)`` cut to ``width`` terminal cells, ending with ``ellipsis`` when cut.

    The cut never falls inside an escape (``\\x1b`` is kept or dropped whole) nor inside a wide
    character, so the result is never wider than ``width``."""
    shown = visible(text)
    if width <= 0:
        return ""
    if text_width(shown) <= width:
        return shown
    room = width - text_width(ellipsis)
    out, used = [], 0
    for unit in _UNIT_RE.findall(shown):
        w = len(unit) if unit.startswith("\\") and len(unit) > 1 else char_width(unit)
        if used + w > room:
            break
        out.append(unit)
        used += w
    return "".join(out) + ellipsis if room >= 0 else ""
