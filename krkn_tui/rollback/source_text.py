"""The strict text rule for version files: what ``show-rollback`` shows is exactly what runs.

A version file is code. Python reads bytes through a coding cookie (``# coding: utf-7`` turns
``+AAo-`` into a newline that no viewer shows), and a terminal hides what follows ``\\r`` or
sits between ``ESC[8m`` and ``ESC[0m``. So a version file must be UTF-8, declare no other
coding, and hold no control, format or separator character except ``\\n`` and ``\\t``; the
executor compiles the decoded, checked text (``compile`` of a ``str`` ignores any cookie), and
list/show call a file that breaks the rule "unsafe".

What reads one way and runs another is refused too:
- any Unicode default-ignorable code point, anywhere: Python accepts some in identifiers
  (variation selectors, the combining grapheme joiner, Hangul fillers, Khmer and Mongolian
  invisibles) and no screen shows them, so ``eval`` and ``eval<U+FE00>`` look alike;
- a non-ASCII identifier (from the ``tokenize`` module's tokens): Python folds identifiers
  with NFKC, so math-italic or fullwidth ``eval`` is the builtin ``eval``, and a Cyrillic ``е``
  makes another name that looks the same. Non-ASCII stays allowed in strings and comments
  (accents in a krkn file's messages), where it is data or prose, and visible;
- a tab in a line's indentation: it reads differently at another tab width;
- a line wider than MAX_COLUMNS: what follows thousands of spaces is off any screen (except
  two lines krkn-tui writes whole, below).
"""

from __future__ import annotations

import codecs
import json
import re
import tokenize
import unicodedata
from typing import Callable, Iterable, Iterator

from ..sanitize import INVISIBLE, describe, escape, text_width, visible

# Python's PEP 263 cookie, looked for on the first two lines.
_COOKIE_RE = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", re.ASCII)
# Default_Ignorable_Code_Point, from the Unicode Character Database's DerivedCoreProperties.txt
# (Unicode 15.1; unicodedata has no such property). The ranges INVISIBLE already holds (the
# format characters among them) are listed too: the class is the whole property.
#   00AD SOFT HYPHEN; 034F COMBINING GRAPHEME JOINER; 061C ARABIC LETTER MARK;
#   115F..1160 HANGUL CHOSEONG/JUNGSEONG FILLER; 17B4..17B5 KHMER VOWEL INHERENT AQ/AA;
#   180B..180D, 180F MONGOLIAN FREE VARIATION SELECTORS; 180E MONGOLIAN VOWEL SEPARATOR;
#   200B..200F zero width and directional marks; 202A..202E bidi embeddings and overrides;
#   2060..206F word joiner, invisible operators, bidi isolates (2065 reserved);
#   3164 HANGUL FILLER; FE00..FE0F VARIATION SELECTORS 1-16; FEFF ZERO WIDTH NO-BREAK SPACE;
#   FFA0 HALFWIDTH HANGUL FILLER; FFF0..FFF8 reserved; 1BCA0..1BCA3 SHORTHAND FORMAT controls;
#   1D173..1D17A MUSICAL SYMBOL BEGIN BEAM..END PHRASE; E0000..E0FFF tags, VARIATION
#   SELECTORS 17-256 and reserved.
DEFAULT_IGNORABLE = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
)
# INVISIBLE without \n and \t, and the default-ignorables, as one class (a lookahead per
# character was 5x slower).
_FORBIDDEN_RE = re.compile(
    "[" + INVISIBLE.replace("\x00-\x1f", "\x00-\x08\x0b-\x1f", 1) + DEFAULT_IGNORABLE + "]")
_INVISIBLE_RE = re.compile(f"[{INVISIBLE}]")
_ASCII_FORBIDDEN_RE = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]")
_ASCII_ALLOWED = bytes([9, 10, *range(0x20, 0x7f)])
CHUNK = 1 << 20

# 200 columns: wider than an editor split or an 80-column terminal shows without scrolling, and
# still within a maximised terminal on a common screen. krkn's content line,
# ``rollback_content = RollbackContent(namespace="...", resource_identifier="...")``, is 199
# columns with a 63-character namespace and a 63-character (DNS label) name; our own files wrap
# their data literal (data_line.py) to stay within it.
MAX_COLUMNS = 200
_TAB_INDENT_RE = re.compile(r"^ *\t", re.M)
# The tokenize module reads ~1 MB/s: a file larger than this that is not all ASCII is refused
# rather than tokenized (krkn-tui's own files are ASCII whatever they hold; see data_line.py).
MAX_TOKENIZED_BYTES = 256 * 1024
# Two lines of ours may be wider, as they hold names and data that are ours to write whole:
# - the ``# krkn-tui-meta:`` header, a comment (no code), in JSON exactly as ``json.dumps``
#   writes it (no padding, no key given twice: what is on screen is all it says);
# - the data line of a file written before the data literal was wrapped, nothing but an ASCII
#   string literal inside ``json.loads(...)``: pending steps on disk still run.
_META_PREFIX = "# krkn-tui-meta: "
# One Python string literal without prefix, on one line (data_line.py writes them).
STRING_LITERAL = r"""'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*\""""
_LEGACY_DATA_LINE_RE = re.compile(rf"    data=json\.loads\((?:{STRING_LITERAL})\),", re.ASCII)


def _ours_whole(line: str) -> bool:
    if line.startswith(_META_PREFIX):
        raw = line[len(_META_PREFIX):]
        try:
            return raw.isascii() and json.dumps(json.loads(raw), ensure_ascii=True) == raw
        except (ValueError, RecursionError):
            return False
    return _LEGACY_DATA_LINE_RE.fullmatch(line) is not None


# Tokens whose non-ASCII text is data or prose (an f-string before Python 3.12 is one STRING
# token that holds code: its text must be ASCII).
_TEXT_TOKENS = frozenset({tokenize.COMMENT, tokenize.STRING,
                          getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)})
_FSTRING_PREFIX_RE = re.compile(r"[A-Za-z]*[fF][A-Za-z]*['\"]")


def shown_unsafe(data: bytes) -> str:
    """An unsafe file's text for a screen: every character the rule forbids, the
    default-ignorables the sanitiser leaves alone included, as its escape (tabs and newlines
    kept)."""
    text = visible(data.decode("utf-8", "replace"), keep="\n\t")
    return _FORBIDDEN_RE.sub(lambda m: escape(m[0]), text)


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
        what = "control character" if _INVISIBLE_RE.match(bad[0]) else "invisible character"
        raise UnsafeSource(f"line {line} holds the {what} {describe(bad[0])}")


def _lines_longer(text: str, limit: int) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each line of more than ``limit`` characters. From a line's start, a
    window of ``limit + 1`` characters holding no newline is such a line; else the search jumps
    past the window's last newline (a regular expression tries every position: 60x slower)."""
    pos, size = 0, len(text)
    while pos + limit < size:
        newline = text.rfind("\n", pos, pos + limit + 1)
        if newline >= 0:
            pos = newline + 1
            continue
        end = text.find("\n", pos)
        end = size if end < 0 else end
        yield pos, end
        pos = end + 1


def _layout(text: str, line_before: int) -> None:
    """Complete lines only: no tab in the indentation, none wider than MAX_COLUMNS."""
    tab = _TAB_INDENT_RE.search(text) if "\t" in text else None
    if tab:
        line = line_before + text.count("\n", 0, tab.start()) + 1
        raise UnsafeSource(f"line {line} is indented with a tab, which reads differently at another tab width")
    # A character takes at most two columns: a line of MAX_COLUMNS // 2 characters always fits.
    for start, end in _lines_longer(text, MAX_COLUMNS if text.isascii() else MAX_COLUMNS // 2):
        whole = text[start:end]
        width = len(whole) if whole.isascii() else text_width(whole)
        if width > MAX_COLUMNS and not _ours_whole(whole):
            line = line_before + text.count("\n", 0, start) + 1
            raise UnsafeSource(f"line {line} is {width} columns wide, more than the {MAX_COLUMNS} a screen shows")


def _tokens(lines: Iterable[str]) -> None:
    """Non-ASCII only in comments and string literals: every identifier is ASCII."""
    readline = iter(lines).__next__
    try:
        for tok in tokenize.generate_tokens(readline):
            text = tok.string
            if text.isascii() or (tok.type in _TEXT_TOKENS and not (
                    tok.type == tokenize.STRING and _FSTRING_PREFIX_RE.match(text))):
                continue
            line = tok.start[0]
            bad = next(c for c in text if not c.isascii())
            if tok.type == tokenize.NAME:
                folded = unicodedata.normalize("NFKC", text)
                reads = f", which Python reads as {folded!r}" if folded != text and folded.isascii() else ""
                raise UnsafeSource(f"line {line} holds the non-ASCII identifier {visible(text)!r} "
                                   f"({describe(bad)}{reads}); identifiers must be ASCII")
            where = "an f-string, which holds code" if tok.type == tokenize.STRING else "code"
            raise UnsafeSource(f"line {line} holds {describe(bad)} in {where}; only strings and comments "
                               "may hold non-ASCII")
    except (tokenize.TokenError, SyntaxError) as exc:
        message = exc.args[0] if exc.args else exc
        if isinstance(exc, tokenize.TokenError) and len(exc.args) > 1:
            at = exc.args[1][0]
        else:
            at = getattr(exc, "lineno", "?")
        raise UnsafeSource(f"line {at} cannot be split into Python tokens ({visible(message)}), "
                           "so its identifiers cannot be checked") from None


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
    _layout(text, 0)
    if not text.isascii():  # an ASCII file has only ASCII identifiers: no tokenizing
        if len(data) > MAX_TOKENIZED_BYTES:
            raise _too_large_to_tokenize()
        _tokens(text.splitlines(keepends=True))
    return text


def _too_large_to_tokenize() -> UnsafeSource:
    return UnsafeSource(f"is larger than {MAX_TOKENIZED_BYTES // 1024} KiB and not all ASCII, "
                        "too large to check its identifiers")


def _decoded(read: Callable[[int], bytes]) -> Iterator[str]:
    """The text of ``read``'s chunks (``os.read``-like), decoded as UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    while True:
        chunk = read(CHUNK)
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            raise _not_utf8(chunk, max(0, min(exc.start - len(decoder.getstate()[0]), len(chunk) - 1)),
                            offset) from None
        offset += len(chunk)
        yield text
        if not chunk:
            return


def check_stream(read: Callable[[int], bytes]) -> None:
    """The same rule over a file read in chunks (``read(n)`` as ``os.read``): memory stays flat
    whatever the size. Raises UnsafeSource."""
    lines, head, carry = 0, "", ""
    kept: list[str] | None = []  # the text while it may still be tokenized
    size, ascii_only = 0, True
    for text in _decoded(read):
        _forbidden(text, lines)
        if not head:
            head = text  # the first chunk (1 MiB) holds the first two lines of any real file
        size += len(text.encode("utf-8", "surrogatepass")) if not text.isascii() else len(text)
        ascii_only = ascii_only and text.isascii()
        if kept is not None:
            kept.append(text)
            if size > MAX_TOKENIZED_BYTES:
                kept = None
        if not ascii_only and kept is None:
            raise _too_large_to_tokenize()
        whole = carry + text
        cut = whole.rfind("\n") + 1 if text else len(whole)
        _layout(whole[:cut], lines)
        lines += whole.count("\n", 0, cut)
        carry = whole[cut:]
        if len(carry) > MAX_COLUMNS and not carry.startswith(("    data=json.loads(", _META_PREFIX)):
            _layout(carry[: MAX_COLUMNS * 2], lines)  # a line already too wide: say so now
    _check_cookie(head)
    if not ascii_only:
        _tokens("".join(kept).splitlines(keepends=True))
