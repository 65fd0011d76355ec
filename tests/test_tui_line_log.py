"""LineLog: Textual's Log drawn the same, written without a layout pass per batch of lines."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.geometry import Region
from textual.widgets import Log

from krkn_tui.tui.widgets.line_log import LineLog


def counting(cls):
    class Counted(cls):
        layouts = 0

        def refresh(self, *regions, repaint=True, layout=False, recompose=False):
            type(self).layouts += bool(layout)
            return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    return Counted


PlainLog, OurLog = counting(Log), counting(LineLog)


class Both(App):
    CSS = "Horizontal > * { width: 1fr; height: 1fr; }"

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield PlainLog(max_lines=30, highlight=True, id="plain")
            yield OurLog(max_lines=30, highlight=True, id="ours")


def lines(widget) -> list[str]:
    width, height = widget.size
    return ["".join(s.text for s in strip) for strip in widget.render_lines(Region(0, 0, width, height))]


async def test_line_log_shows_what_log_shows_with_fewer_layout_passes():
    app = Both()
    async with app.run_test(size=(120, 12)) as pilot:
        plain, ours = app.query_one("#plain", Log), app.query_one("#ours", LineLog)
        await pilot.pause()
        PlainLog.layouts = OurLog.layouts = 0
        batches = [[f"line {i}.{j} ADDED pod-{i} tab\there wide 漢字 {'x' * (i % 7)}" for j in range(3)]
                   for i in range(20)]
        for batch in batches:
            for log in (plain, ours):
                log.write_lines(batch)
            await pilot.pause()
        await pilot.pause(0.2)  # Log's width arrives from a thread worker
        assert ours.lines == plain.lines and len(ours.lines) == 30  # both capped alike
        assert ours.virtual_size == plain.virtual_size
        assert ours.scroll_offset == plain.scroll_offset and ours.max_scroll_y > 0  # both followed the end
        top, shown = int(ours.scroll_y), lines(ours)
        assert [line.rstrip() for line in shown if line.strip()] == \
            [line.expandtabs() for line in ours.lines[top:top + len(shown)]]
        plain.refresh()  # Log, capped and at its end, repaints only after its next layout pass
        await pilot.pause()
        assert shown == lines(plain)
        assert OurLog.layouts < PlainLog.layouts
        for log in (plain, ours):
            log.clear()
        await pilot.pause()
        assert ours.virtual_size == plain.virtual_size and lines(ours) == lines(plain)


async def test_a_line_drawn_again_comes_from_its_cached_strip():
    from rich.highlighter import Highlighter

    built = []

    class Counting(Highlighter):
        def highlight(self, text):
            built.append(text.plain)

    class One(App):
        def compose(self) -> ComposeResult:
            log = LineLog(max_lines=30, highlight=True)
            log.highlighter = Counting()
            yield log

    app = One()
    async with app.run_test(size=(80, 12)) as pilot:
        log = app.query_one(LineLog)
        log.write_lines([f"line {i}" for i in range(20)])  # it scrolls: every line on screen moves
        await pilot.pause()
        first = list(built)
        assert first  # drawn once
        built.clear()
        log.write_lines(["line 20"])
        await pilot.pause()
        assert built == ["line 20"]  # the others moved up, each from its cached strip
        built.clear()
        log.refresh()
        await pilot.pause()
        assert built == []
