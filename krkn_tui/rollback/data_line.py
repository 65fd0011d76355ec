"""The writer's long literals: ``CONTENT``'s ``data``, JSON text in Python string literals,
and its other strings (a resource name may be 253 characters).

One line, ``    data=json.loads('<JSON>'),``, when it fits in the text rule's width
(``source_text.MAX_COLUMNS``); else wrapped, the JSON cut into adjacent literals that Python
joins (a namespace capture's JSON runs to megabytes, and a line off the screen could hide code)::

        data=json.loads(
            '{"objects": [...'
            '...}'
        ),

The redaction (redact.py) finds it again with ``find`` and writes it back with ``render``.
"""

from __future__ import annotations

import ast
import re

from .source_text import MAX_COLUMNS, STRING_LITERAL as _LIT

_HEAD, _TAIL, _PIECE_INDENT = "    data=json.loads(", "),", " " * 8
_ONE_RE = re.compile(rf"^    data=json\.loads\((?P<lit>{_LIT})\),$", re.M)
_WRAPPED_RE = re.compile(rf"^    data=json\.loads\(\n(?P<lits>(?:        (?:{_LIT})\n)+)    \),$", re.M)
_PIECE_RE = re.compile(_LIT)


def wrapped(head: str, value: str, tail: str, parens: bool = False) -> str:
    """``head + ascii(value) + tail`` on one line when it fits, else the literal cut into
    pieces on lines of their own (inside parentheses when ``parens``); no final newline."""
    literal = ascii(value)
    if len(head) + len(literal) + len(tail) <= MAX_COLUMNS:
        return f"{head}{literal}{tail}"
    room = MAX_COLUMNS - len(_PIECE_INDENT)
    pieces, start = [], 0
    while start < len(value):
        size = room - 2
        while True:  # an escaped character takes 2 to 10 columns: shrink until it fits
            piece = ascii(value[start:start + size])
            if len(piece) <= room:
                break
            # in proportion to the columns, by one at least and never below one character
            # (which always fits): each step makes progress and no piece is empty
            size = max(1, min(size - 1, size * (room - 2) // (len(piece) - 2)))
        pieces.append(_PIECE_INDENT + piece)
        start += size
    return "\n".join([head + ("(" if parens else ""), *pieces, "    " + (")" if parens else "") + tail])


def render(json_text: str) -> str:
    """The data line(s) for ``json_text`` (ASCII JSON), without the final newline."""
    return wrapped(_HEAD, json_text, _TAIL)


def find(text: str) -> tuple[int, int, str] | None:
    """``(start, end, JSON text)`` of the data line(s) in ``text``, None when there are none
    (or a literal there is not a plain string)."""
    m = _ONE_RE.search(text)
    wrapped = _WRAPPED_RE.search(text)
    if m is None and wrapped is None:
        return None
    try:
        if m is not None and (wrapped is None or m.start() < wrapped.start()):
            value = ast.literal_eval(m["lit"])
            span = m.span()
        else:
            value = "".join(ast.literal_eval(p) for p in _PIECE_RE.findall(wrapped["lits"]))
            span = wrapped.span()
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return (*span, value) if isinstance(value, str) else None
