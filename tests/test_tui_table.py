"""KeyedTable sizes its columns exactly as DataTable does, without formatting every cell."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from krkn_tui.tui.widgets.keyed_table import KeyedTable, SortText

CELLS = [
    ("plain", Text("styled", style="bold"), SortText("04-01 10:00:00", (1, 2)), 7, None),
    ("[b]markup[/b] text", Text("two\nlines, the second longer"), "emoji :smile: code", 3.14159, "x"),
    ("first line\nsecond, longer line", "", Text(""), "wide 漢字", "[not a tag"),
    ("a", "b", "c", "d", "e"),
]


class Tables(App):
    def compose(self) -> ComposeResult:
        yield DataTable(id="plain", cursor_type="row", zebra_stripes=True)
        yield KeyedTable(id="keyed")

    def on_mount(self) -> None:
        self.highlighted = []
        for table in self.query(DataTable):
            table.add_columns("one", Text("a long column label"), "three", "four", "five")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.highlighted.append(event.data_table.id)


def widths(table) -> list[int]:
    return [c.content_width for c in table.ordered_columns]


async def test_column_widths_match_datatable_after_adds_updates_and_removals():
    app = Tables()
    async with app.run_test() as pilot:
        plain, keyed = app.query_one("#plain", DataTable), app.query_one("#keyed", KeyedTable)
        for table in (plain, keyed):
            for i, cells in enumerate(CELLS):
                table.add_row(*cells, key=str(i))
        await pilot.pause()
        assert widths(keyed) == widths(plain) and keyed.virtual_size == plain.virtual_size

        # narrower than the widest: the whole column is measured again, as DataTable does
        for table in (plain, keyed):
            table.update_cell("1", table.ordered_columns[0].key, "x")
            table.update_cell("2", table.ordered_columns[2].key, Text("a wider cell than before"))
            table.remove_row("3")
        await pilot.pause()
        assert widths(keyed) == widths(plain) and keyed.virtual_size == plain.virtual_size

        for table in (plain, keyed):  # a row with its own height goes through DataTable's measure
            table.add_row("tall\ncell with more", "b", "c", "d", "e", key="tall", height=2)
        await pilot.pause()
        assert widths(keyed) == widths(plain) and keyed.virtual_size == plain.virtual_size


async def test_rows_added_at_once_are_the_rows_added_one_by_one():
    app = Tables()
    async with app.run_test() as pilot:
        plain, keyed = app.query_one("#plain", DataTable), app.query_one("#keyed", KeyedTable)
        items = [(str(i), cells) for i, cells in enumerate(CELLS)]
        for key, cells in items:
            plain.add_row(*cells, key=key)
        keyed.add_keyed_rows(items)
        await pilot.pause()
        assert keyed.row_count == plain.row_count == len(CELLS)
        assert [keyed.get_row_at(i) for i in range(len(CELLS))] == [plain.get_row_at(i) for i in range(len(CELLS))]
        assert keyed.cursor_coordinate == plain.cursor_coordinate
        assert keyed.virtual_size == plain.virtual_size
        assert sorted(app.highlighted) == ["keyed", "plain"]  # the first row got the cursor in both
        keyed.add_keyed_rows([("9", ("more",)), ("10", ("rows",))])  # short rows: the rest is None
        assert keyed.get_row("10") == ["rows", None, None, None, None]


async def test_removing_rows_keeps_the_order_and_cursor_of_datatable():
    app = Tables()
    async with app.run_test() as pilot:
        plain, keyed = app.query_one("#plain", DataTable), app.query_one("#keyed", KeyedTable)
        for table in (plain, keyed):
            for i in range(12):
                table.add_row(f"row {i}", key=str(i))
            table.move_cursor(row=7)
            for key in ("0", "5", "11", "6"):
                table.remove_row(key)
        await pilot.pause()
        assert [keyed.get_row_at(i) for i in range(keyed.row_count)] == \
            [plain.get_row_at(i) for i in range(plain.row_count)]
        assert keyed.cursor_coordinate == plain.cursor_coordinate
        assert keyed.get_row_index("7") == plain.get_row_index("7") == 4
