"""The one sanitiser: control, format and separator characters shown as escapes, cuts that
never split an escape, and the strict text rule of version files."""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from krkn_tui.rollback.source_text import UnsafeSource, checked_source
from krkn_tui.sanitize import _UNIT_RE, INVISIBLE, clip, one_line, text_width, visible

HIDING = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def test_invisible_covers_every_control_format_and_separator_character():
    pattern = re.compile(f"[{INVISIBLE}]")
    missing = [hex(c) for c in range(sys.maxunicode + 1)
               if unicodedata.category(chr(c)) in HIDING and not pattern.match(chr(c))]
    assert missing == []


@pytest.mark.parametrize("raw, shown", [
    ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
    ("a\rb", "a\\x0db"),
    ("rtl\u202eevil", "rtl\\u202eevil"),
    ("tag\U000e0041", "tag\\U000e0041"),
    ("name\udcff", "name\\udcff"),  # a file name that is not UTF-8
    ("plain [b]markup[/b] é 日本", "plain [b]markup[/b] é 日本"),
])
def test_visible(raw, shown):
    assert visible(raw) == shown


def test_visible_keeps_what_it_is_told_and_one_line_folds_whitespace():
    assert visible("a\n\tb\x1b", keep="\n\t") == "a\n\tb\\x1b"
    assert one_line("a\n  b\tc\x1b") == "a b c\\x1b"


@given(st.text(), st.integers(min_value=0, max_value=80))
def test_clip_is_never_wider_never_raw_and_a_prefix_of_visible(text, width):
    cut = clip(text, width)
    assert text_width(cut) <= width
    assert not re.search(f"[{INVISIBLE}]", cut)
    full = visible(text)
    assert cut == full or full.startswith(cut.removesuffix("…"))
    # the cut falls between two escapes or characters, never inside one
    stem = cut.removesuffix("…")
    bounds, at = {0}, 0
    for unit in _UNIT_RE.findall(full):
        at += len(unit)
        bounds.add(at)
    assert len(stem) in bounds


@pytest.mark.parametrize("data, why", [
    (b"# coding: latin-1\nx = 1\n", "declares coding 'latin-1'"),
    (b"#!/usr/bin/env python\n# vim: set fileencoding=utf-7 :\n", "line 2 declares coding 'utf-7'"),
    (b"x = 1\r\n", "line 1 holds the control character \\x0d (carriage return)"),
    (b"ok\n# \x1b[8m\n", "line 2 holds the control character \\x1b (ESC)"),
    (b"x = '\xe9'\n", "not UTF-8 text (byte 0xe9 at offset 5)"),
    (b"\xef\xbb\xbfx = 1\n", "\\ufeff"),
    ("s = '\u2066'\n".encode(), "\\u2066"),
    (b"x = 1\x0c\n", "form feed"),
    (b"x = 1\x00\n", "NUL"),
])
def test_strict_text_rule_refuses_with_one_line(data, why):
    with pytest.raises(UnsafeSource) as err:
        checked_source(data)
    assert why in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("data", [b"", b"# -*- coding: utf-8 -*-\nx = '\xc3\xa9'\n", b"# coding=UTF8\n\tx\n",
                                  b"# a comment that mentions encoding\n"])
def test_strict_text_rule_accepts_plain_utf8(data):
    assert checked_source(data) == data.decode()
