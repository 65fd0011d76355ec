"""The one sanitiser: control, format and separator characters shown as escapes, cuts that
never split an escape, and the strict text rule of version files."""

from __future__ import annotations

import json
import re
import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from krkn_tui.rollback.source_text import UnsafeSource, check_stream, checked_source
from krkn_tui.sanitize import _UNIT_RE, INVISIBLE, blanked_line, clip, escape, one_line, text_width, visible

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
    assert one_line(" a\r\u2028b\x0bc ") == "a b c"  # every run of whitespace, as str.split folds it
    assert blanked_line("a\x1b[31m\u202eb\n") == "a [31m b"


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


@pytest.mark.parametrize("data", [b"", b"# -*- coding: utf-8 -*-\nx = '\xc3\xa9'\n", b"# coding=UTF8\nx =\t1\n",
                                  b"# a comment that mentions encoding\n"])
def test_strict_text_rule_accepts_plain_utf8(data):
    assert checked_source(data) == data.decode()


# -- what reads one way and runs another ---------------------------------------------------------

# Default_Ignorable_Code_Point as DerivedCoreProperties.txt lists it (Unicode 15.1).
DEFAULT_IGNORABLE = [0xAD, 0x34F, 0x61C, 0x115F, 0x1160, 0x17B4, 0x17B5, *range(0x180B, 0x1810),
                     *range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2060, 0x2070), 0x3164,
                     *range(0xFE00, 0xFE10), 0xFEFF, 0xFFA0, *range(0xFFF0, 0xFFF9), *range(0x1BCA0, 0x1BCA4),
                     *range(0x1D173, 0x1D17B), *range(0xE0000, 0xE1000)]


@pytest.mark.parametrize("where", ["x{} = 1\n", "# {}\n", "s = '{}'\n"])
def test_every_default_ignorable_code_point_is_refused_anywhere(where):
    for code in DEFAULT_IGNORABLE:
        with pytest.raises(UnsafeSource) as err:
            checked_source(where.format(chr(code)).encode())
        assert f"line 1 holds the " in str(err.value) and escape(chr(code)) in str(err.value), hex(code)


def test_invisible_characters_python_takes_in_identifiers_are_named():
    for code in (0xFE00, 0xE0100, 0x34F, 0x115F, 0x1160, 0x3164, 0xFFA0, 0x17B4, 0x17B5, 0x180B, 0x180F):
        name = "touch" + chr(code)
        assert name.isidentifier()  # Python would run it as another name than the one on screen
        with pytest.raises(UnsafeSource, match="holds the invisible character"):
            checked_source(f"def {name}(): pass\n".encode())


@pytest.mark.parametrize("source, why", [
    ("\U0001d626\U0001d637\U0001d622\U0001d62d('1')\n", "which Python reads as 'eval'"),
    ("\uff45\uff56\uff41\uff4c('1')\n", "which Python reads as 'eval'"),
    ("t\u043euch = 1\n", "\\u043e (CYRILLIC SMALL LETTER O)); identifiers must be ASCII"),
    ("x = f'{\uff45\uff56\uff41\uff4c(1)}'\n", "in an f-string, which holds code"),
    ("x = 1 \u00a0+ 1\n", "line 1 holds \\xa0 (NO-BREAK SPACE) in code; only strings and comments may hold"),
    ("x = ('\u00e9'\n", "line 2 cannot be split into Python tokens (EOF in multi-line statement)"),
    ("s = '''\n\tdata'''\n", "line 2 is indented with a tab"),  # in a string too: the rule reads lines
    ("if x:\n\ty = 1\n", "line 2 is indented with a tab"),
    ("if x:\n    \ty = 1\n", "line 2 is indented with a tab"),
    ("x = 1" + " " * 3000 + "; y = 2\n", "line 1 is 3012 columns wide, more than the 200"),
    ("# " + "\u65e5" * 120 + "\n", "line 1 is 242 columns wide"),
    ("# krkn-tui-meta: " + '{"a": 1,' + " " * 300 + '"a": 2}\n', "columns wide"),
])
def test_look_alikes_tabs_and_long_lines_are_refused(source, why):
    with pytest.raises(UnsafeSource) as err:
        checked_source(source.encode())
    assert why in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("source", [
    "# Réinitialisé « démo » 日本語\nx = 'café ✓'\ny = \"\"\"naïve\n  in a string\tand a tab\"\"\"\n",
    "x = 1  # \u00e9\n" + "# " + "x" * 198 + "\n",
    "# krkn-tui-meta: " + json.dumps({"name": "n" * 253, "cluster": {"server": "https://h"}}, sort_keys=True) + "\n",
])
def test_visible_non_ascii_in_strings_and_comments_and_our_header_pass(source):
    assert checked_source(source.encode()) == source


@pytest.mark.parametrize("source", ["ok = 1\n" * 3 + "t\u043euch = 1\n", "x = '\u00e9'\n" * 4_000 + "\tx = 1\n",
                                    "x = '\u00e9'\n" * 40_000, "x = 1\n" * 200_000 + "# " + "x" * 300 + "\n",
                                    "x = 'ok \u00e9'\n", "# \u00e9\n" + "x = 1\n" * 200_000])
def test_the_streamed_check_agrees_with_the_whole_one(source):
    import io

    data = source.encode()
    try:
        checked_source(data)
        whole = None
    except UnsafeSource as exc:
        whole = str(exc)
    try:
        check_stream(io.BytesIO(data).read)
        streamed = None
    except UnsafeSource as exc:
        streamed = str(exc)
    assert streamed == whole


def test_a_large_file_that_is_not_all_ascii_is_refused_not_tokenized():
    with pytest.raises(UnsafeSource, match="is larger than 256 KiB and not all ASCII"):
        checked_source(("x = '\u00e9'\n" * 40_000).encode())
