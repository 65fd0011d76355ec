"""ConsoleFooter: Textual's Footer, drawn the same, its keys styled once instead of three times."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from krkn_tui.tui.widgets.footer import ConsoleFooter


class Keys(App):
    BINDINGS = [Binding("a", "alpha", "Alpha"), Binding("b", "beta", "Beta"), Binding("q", "quit", "Quit")]

    def __init__(self, footer: type[Footer], compact: bool = False):
        super().__init__()
        self.footer, self.compact = footer, compact
        self.style_updates = 0

    def compose(self) -> ComposeResult:
        yield Static("body")
        yield self.footer(compact=self.compact)

    def update_styles(self, node, animate: bool = True) -> None:
        self.style_updates += 1
        super().update_styles(node, animate)


async def look(footer: type[Footer], compact: bool = False):
    app = Keys(footer, compact)
    async with app.run_test(size=(70, 5)) as pilot:
        await pilot.pause()
        keys = [(k.key, sorted(k.classes), k.compact, k.region) for k in app.query("FooterKey")]
        return keys, app.export_screenshot(), app.style_updates


async def test_console_footer_looks_like_footer_with_fewer_style_passes():
    for compact in (False, True):
        keys, screen, updates = await look(Footer, compact)
        our_keys, our_screen, our_updates = await look(ConsoleFooter, compact)
        assert our_keys == keys and len(keys) == 4  # three bound keys and the command palette's
        assert our_screen == screen
        assert our_updates < updates
