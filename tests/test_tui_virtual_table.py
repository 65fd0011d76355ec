"""VirtualTable against DataTable on the same data: the same characters in the same colours.

DataTable (row cursor, zebra stripes) is the reference for how a table looks; the virtual table
must draw the same visible lines, while keeping its cursor on a key and its rows in order.
"""

from __future__ import annotations

import random

from rich.text import Text
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.geometry import Region
from textual.widgets import DataTable

from krkn_tui.tui.widgets.virtual_table import Column, VirtualTable
from tui_support import until

COLUMNS = [Column("one", "one"), Column("two", "a long column label"), Column("three", "three"),
           Column("four", "four")]
CELLS = [
    ("plain", Text("styled", style="bold red"), "04-01 10:00:00", "7"),
    ("markup-free text", Text("two\nlines, the second longer"), "wide 漢字", "3.14"),
    ("first line\nsecond, longer line", "", Text(""), "x"),
    ("a", "b", "c", "d"),
]
SIZE = (120, 14)


def record(index: int, cells: tuple) -> tuple:
    return (index, *cells)


class Both(App):
    AUTO_FOCUS = None  # compared unfocused unless a test focuses one
    CSS = "Horizontal > * { width: 1fr; height: 1fr; max-height: 100%; }"

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield DataTable(id="plain", cursor_type="row", zebra_stripes=True)
            yield VirtualTable(COLUMNS, cells=lambda r: r[1:], order=lambda r: r[0], id="virtual")

    def on_mount(self) -> None:
        self.highlighted: list[str | None] = []
        self.query_one(DataTable).add_columns(*(c.label for c in COLUMNS))

    def on_virtual_table_highlighted(self, event: VirtualTable.Highlighted) -> None:
        self.highlighted.append(event.key)


def looks(widget) -> list[list[tuple]]:
    """Each visible line as (character, colour, background, bold, dim) per cell."""
    width, height = widget.size
    out = []
    for strip in widget.render_lines(Region(0, 0, width, height)):
        line = []
        for segment in strip:
            style = segment.style
            for char in segment.text:
                line.append((char, style.color if style else None, style.bgcolor if style else None,
                             bool(style and style.bold), bool(style and style.dim)))
        out.append(line)
    return out


def same_look(app) -> None:
    plain, virtual = app.query_one(DataTable), app.query_one(VirtualTable)
    assert plain.size == virtual.size
    assert looks(virtual) == looks(plain)


async def test_same_lines_as_datatable_focused_blurred_and_scrolled():
    app = Both()
    async with app.run_test(size=SIZE) as pilot:
        plain, virtual = app.query_one(DataTable), app.query_one(VirtualTable)
        rows = [record(i, CELLS[i % len(CELLS)]) for i in range(30)]
        for r in rows:
            plain.add_row(*r[1:], key=str(r[0]))
        virtual.replace({str(r[0]): r for r in rows})
        app.set_focus(None)
        await pilot.pause()
        same_look(app)
        for table in (plain, virtual):
            table.move_cursor(row=17)
        await pilot.pause()
        assert virtual.current_key == "17" and virtual.scroll_y == plain.scroll_y > 0
        same_look(app)
        for table in (plain, virtual):  # focused, each in turn
            app.set_focus(table)
            await pilot.pause()
        looks_focused = looks(virtual)
        app.set_focus(plain)
        await pilot.pause()
        assert looks(plain) == looks_focused


async def test_adds_updates_and_removals_end_like_datatable_with_the_cursor_on_its_key():
    app = Both()
    async with app.run_test(size=SIZE) as pilot:
        plain, virtual = app.query_one(DataTable), app.query_one(VirtualTable)
        rng = random.Random(7)
        shown: dict[str, tuple] = {}
        for step in range(300):
            key = str(rng.randrange(60))
            if key in shown and rng.random() < 0.4:
                del shown[key]
                virtual.update({key: None})
            else:
                shown[key] = record(int(key), (f"row {key}", Text(f"v{step}", style="green"), "c" * rng.randrange(12), ""))
                virtual.update({key: shown[key]})
            if step == 100:
                virtual.move_cursor(5)
        cursor_key = virtual.current_key
        # DataTable built from scratch in the same order, its cursor put on the same key
        for key in sorted(shown, key=int):
            plain.add_row(*shown[key][1:], key=key)
        plain.move_cursor(row=plain.get_row_index(cursor_key))
        await pilot.pause()
        assert virtual.keys() == sorted(shown, key=int)
        assert virtual.cursor_row == plain.cursor_row
        same_look(app)


async def test_cursor_stays_on_its_key_while_rows_come_and_go_above_it():
    app = Both()
    async with app.run_test(size=SIZE) as pilot:
        virtual = app.query_one(VirtualTable)
        virtual.replace({str(i): record(i, (f"r{i}",)) for i in range(10, 200, 10)})
        virtual.move_cursor(3)
        assert virtual.current_key == "40"
        virtual.update({"5": record(5, ("r5",)), "15": record(15, ("r15",))})
        assert virtual.current_key == "40" and virtual.cursor_row == 5
        virtual.update({"40": None})  # its row goes: the cursor takes the row now at its place
        assert virtual.current_key == "50" and virtual.cursor_row == 5
        await pilot.pause()
        assert app.highlighted[-1] == "50"
        virtual.update({"60": record(60, ("r60 changed",))})  # another row: no new highlight
        await pilot.pause()
        assert app.highlighted[-1] == "50"


async def test_filter_sort_by_column_and_reverse_keep_the_cursor():
    app = Both()
    async with app.run_test(size=SIZE) as pilot:
        virtual = app.query_one(VirtualTable)
        names = ["delta", "alpha", "charlie", "bravo", "echo", "alpha2"]
        virtual.replace({n: record(i, (n, str(len(n)))) for i, n in enumerate(names)})
        virtual.move_cursor_to_key("charlie")
        virtual.sort_by("one")
        assert virtual.keys() == sorted(names) and virtual.current_key == "charlie"
        virtual.sort_by("one", reverse=True)
        assert virtual.keys() == sorted(names, reverse=True) and virtual.current_key == "charlie"
        virtual.set_filter(lambda r: "a" in r[1])
        assert virtual.keys() == ["delta", "charlie", "bravo", "alpha2", "alpha"]
        virtual.set_filter(lambda r: "al" in r[1], narrower=True)
        assert virtual.keys() == ["alpha2", "alpha"] and virtual.current_key == "alpha"  # charlie's place
        virtual.update({"alpha3": record(9, ("alpha3", "6")), "zulu": record(10, ("zulu", "4"))})
        assert virtual.keys() == ["alpha3", "alpha2", "alpha"] and virtual.total_count == 8
        virtual.set_filter(None)
        virtual.sort_by(None)
        assert virtual.keys() == [*names, "alpha3", "zulu"]
        await pilot.pause()
        header = "".join(c for c, *_ in looks(virtual)[0])
        assert "one ▲" not in header and "one" in header
        virtual.sort_by("one")
        await pilot.pause()
        assert "one ▲" in "".join(c for c, *_ in looks(virtual)[0])


async def test_only_the_changed_line_is_drawn_again():
    app = Both()
    async with app.run_test(size=SIZE) as pilot:
        virtual = app.query_one(VirtualTable)
        virtual.replace({str(i): record(i, (f"r{i}", "x")) for i in range(1000)})
        await pilot.pause()
        drawn = []
        original = virtual.render_line
        virtual.render_line = lambda y: drawn.append(y) or original(y)
        virtual.update({"3": record(3, ("r3", "y"))})  # on screen: its line only
        await pilot.pause()
        assert drawn == [4]
        drawn.clear()
        virtual.update({"900": record(900, ("r900", "y"))})  # off screen: nothing
        await pilot.pause()
        assert drawn == []
        assert virtual.cell("3", "two").plain == "y"


async def test_a_row_added_or_removed_redraws_only_the_lines_from_its_place_down():
    app = Both()
    async with app.run_test(size=SIZE) as pilot:
        virtual = app.query_one(VirtualTable)
        virtual.replace({str(i): record(i, (f"r{i}", "x")) for i in range(0, 10, 2)})  # 5 rows, 12 fit
        await pilot.pause()
        drawn = []
        original = virtual.render_line
        virtual.render_line = lambda y: drawn.append(y) or original(y)
        virtual.update({"5": record(5, ("r5", "x"))})  # between rows 2 and 3: lines 4..6 move
        await pilot.pause()
        assert sorted(drawn) == [4, 5, 6]
        drawn.clear()
        virtual.update({"5": None})  # gone again: the same rows move back, the last line goes blank
        await pilot.pause()
        assert sorted(drawn) == [4, 5, 6]
        assert [virtual.key_at(i) for i in range(virtual.row_count)] == ["0", "2", "4", "6", "8"]
        drawn.clear()
        virtual.update({"9": record(9, ("r9", "x"))})  # after the last row: its line alone
        await pilot.pause()
        assert drawn == [6]


async def test_a_least_width_keeps_a_column_from_widening_when_its_words_take_turns():
    columns = [Column("status", "st", min_width=len("executed")), Column("next", "next")]

    class One(App):
        def compose(self) -> ComposeResult:
            yield VirtualTable(columns, cells=lambda r: r[1:], order=lambda r: r[0])

    app = One()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(VirtualTable)
        table.replace({"a": (0, "pending", "n")})
        await pilot.pause()
        header = table.render_line(0).text
        assert header.index("next") > len(" executed ")  # wider than "pending" and its label
        drawn = []
        original = table.render_line
        table.render_line = lambda y: drawn.append(y) or original(y)
        table.update({"a": (0, "executed", "n")})
        await pilot.pause()
        assert drawn == [1]  # the same widths: its line alone, not the header and every row
        assert table.render_line(0).text == header
        table.update({"a": (0, "archived (executed)", "n")})  # longer than the least: it widens
        await pilot.pause()
        assert table.render_line(0).text.index("next") > header.index("next")


async def test_a_long_table_catches_up_on_its_row_count_and_the_cursor_reaches_new_rows():
    app = Both()
    async with app.run_test(size=SIZE) as pilot:
        virtual = app.query_one(VirtualTable)
        virtual.replace({str(i): record(i, (f"r{i}",)) for i in range(1000)})
        await pilot.pause()
        assert virtual.virtual_size.height == 1001
        virtual.update({str(i): record(i, (f"r{i}",)) for i in range(1000, 1005)})  # off screen, at the end
        await until(pilot, lambda: virtual.virtual_size.height == 1006)
        virtual.update({"1005": record(1005, ("r1005",))})
        virtual.action_bottom()  # at once, though the size would wait
        assert virtual.current_key == "1005" and virtual.virtual_size.height == 1007
        await pilot.pause()
        assert virtual.scroll_y == virtual.max_scroll_y > 0



async def test_large_batches_end_like_a_table_loaded_with_the_result():
    class Two(App):
        AUTO_FOCUS = None
        CSS = "Horizontal > * { width: 1fr; }"

        def compose(self) -> ComposeResult:
            with Horizontal():
                yield VirtualTable(COLUMNS, cells=lambda r: r[1:], order=lambda r: r[0], id="a")
                yield VirtualTable(COLUMNS, cells=lambda r: r[1:], order=lambda r: r[0], id="b")

    app = Two()
    async with app.run_test(size=SIZE) as pilot:
        batched, loaded = app.query_one("#a", VirtualTable), app.query_one("#b", VirtualTable)
        rng = random.Random(3)
        state: dict[str, tuple] = {}
        for round_ in range(6):
            batch = {}
            for _ in range(800):
                key = str(rng.randrange(2000))
                gone = key in state and rng.random() < 0.3
                batch[key] = None if gone else record(int(key), (f"r{key}", "w" * rng.randrange(20), str(round_)))
            batched.update(batch)
            state.update(batch)
            state = {k: v for k, v in state.items() if v is not None}
        loaded.replace(state)
        loaded.move_cursor_to_key(batched.current_key)
        await pilot.pause()
        assert batched.keys() == loaded.keys() == sorted(state, key=int)
        assert looks(batched) == looks(loaded)


async def test_redraw_of_some_keys_resizes_and_redraws_cells_that_changed_without_their_record():
    notes = {"1": "short"}

    class Noted(App):
        def compose(self) -> ComposeResult:
            yield VirtualTable(COLUMNS[:2], cells=lambda r: (r[1], notes.get(str(r[0]), "")), order=lambda r: r[0])

    app = Noted()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(VirtualTable)
        table.replace({str(i): record(i, (f"r{i}",)) for i in range(5)})
        await pilot.pause()
        notes["1"] = "a note much longer than the column label"
        table.redraw(["1"])
        await pilot.pause()
        line = "".join(c for c, *_ in looks(table)[2])
        assert "a note much longer than the column label" in line
        notes["1"] = ""
        table.redraw(["1"])
        await pilot.pause()
        assert "".join(c for c, *_ in looks(table)[0]).rstrip().endswith("a long column label")
        assert table.virtual_size.width == len(" one ") + len(" a long column label ")  # back to the label


async def test_a_listing_measured_in_one_pass_sizes_columns_as_rows_added_one_by_one():
    """A load or a large batch measures its rows column by column (printable ASCII by length):
    the widths must be those of the same rows added one at a time, for every kind of cell."""
    kinds = ["ascii", "漢字 wide", "tab\there", "two\nlines, the second longer", "", "é accent", "\x1b[31m",
             None, Text("styled 漢"), "x" * 30]
    rng = random.Random(5)
    rows = {str(i): record(i, tuple(rng.choice(kinds) for _ in range(4))) for i in range(600)}

    def texts(r):  # the plain-text path (a view's ``texts``), strings only
        return tuple("" if c is None else c.plain if isinstance(c, Text) else c for c in r[1:])

    class Three(App):
        AUTO_FOCUS = None
        CSS = "Horizontal > * { width: 1fr; }"

        def compose(self) -> ComposeResult:
            with Horizontal():
                yield VirtualTable(COLUMNS, cells=lambda r: r[1:], order=lambda r: r[0], id="loaded")
                yield VirtualTable(COLUMNS, cells=lambda r: r[1:], texts=texts, order=lambda r: r[0], id="texts")
                yield VirtualTable(COLUMNS, cells=lambda r: r[1:], order=lambda r: r[0], id="one-by-one")

    app = Three()
    async with app.run_test(size=SIZE) as pilot:
        loaded, by_texts, single = (app.query_one(f"#{i}", VirtualTable) for i in ("loaded", "texts", "one-by-one"))
        loaded.replace(rows)
        by_texts.replace(rows)
        for key, row in rows.items():
            single.update({key: row})
        await pilot.pause()
        assert loaded.virtual_size == by_texts.virtual_size == single.virtual_size
        assert looks(loaded) == looks(by_texts) == looks(single)
        # a large batch taking the widest rows away shrinks the columns as removals one by one do
        widest = {k for k, r in rows.items() if any(c == "x" * 30 or (isinstance(c, str) and "\n" in c) for c in r[1:])}
        assert len(widest) > 256
        loaded.update(dict.fromkeys(widest))
        by_texts.update(dict.fromkeys(widest))
        for key in widest:
            single.update({key: None})
        await pilot.pause()
        assert loaded.virtual_size == by_texts.virtual_size == single.virtual_size
        assert loaded.virtual_size.width < len(" two\nlines, the second longer ") + 3 * len(" x" * 15)


# ---- the drawing caches: what Textual would draw afresh ---------------------------------------------


class One(App):
    def compose(self) -> ComposeResult:
        yield VirtualTable(COLUMNS, cells=lambda r: r[1:], order=lambda r: r[0], id="virtual")


def afresh(widget) -> list:
    """The widget's lines as Textual draws them with no cache of its own."""
    from textual._styles_cache import StylesCache

    return StylesCache().render_widget(widget, widget.size.region)


async def test_lines_kept_by_row_across_moves_are_the_lines_textual_draws_afresh():
    """A row's styled line is kept by its content line (row_styles_cache.py): after rows move,
    focus tints the table, the theme, tint and opacities change and the window narrows, every
    line is the one an uncached drawing gives."""
    app = One()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(VirtualTable)
        table.replace({str(i): record(i, CELLS[i % len(CELLS)]) for i in range(10, 1000)})
        await pilot.pause()
        before = afresh(table)

        def same() -> None:
            table._styles_cache.set_dirty(table.size.region)  # every line through the kept ones
            assert table._styles_cache.render_widget(table, table.size.region) == afresh(table)

        same()
        table.update({"1": record(1, CELLS[0])})  # at the top: every row moves down one line
        await pilot.pause()
        same()
        assert afresh(table) != before
        for change in (lambda: app.set_focus(table), lambda: app.set_focus(None),
                       lambda: setattr(app, "theme", "textual-light"), lambda: table.move_cursor(500),
                       # looks Textual adds after the table's own styles
                       lambda: setattr(table.styles, "tint", "red 40%"),
                       lambda: setattr(table.styles, "text_opacity", 0.5),
                       lambda: setattr(table.styles, "opacity", 0.6)):
            change()
            await pilot.pause()
            same()
        await pilot.resize_terminal(90, 12)
        await pilot.pause()
        same()


async def test_the_scrollbar_kept_when_it_looks_the_same_is_what_textual_draws():
    """The vertical bar's lines are its last drawing's only while its look is the same
    (steady_scrollbar.py): a row added keeps them, the thumb moving, a theme and a resize do not."""
    from textual.scrollbar import ScrollBar

    app = One()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(VirtualTable)
        table.replace({str(i): record(i, CELLS[0]) for i in range(10, 2000)})
        await pilot.pause()
        bar = table.vertical_scrollbar
        assert bar.display

        def drawn() -> list:
            lines = bar.render_lines(bar.size.region)
            bar._styles_cache.clear()
            assert lines == ScrollBar.render_lines(bar, bar.size.region)
            return lines

        first = drawn()
        table.update({"1": record(1, CELLS[0])})
        await pilot.pause()
        assert drawn() == first
        table.move_cursor(1500)
        await pilot.pause()
        moved = drawn()
        assert moved != first
        app.theme = "textual-light"
        await pilot.pause()
        assert drawn() != moved
        await pilot.resize_terminal(90, 12)
        await pilot.pause()
        drawn()
