"""The key bar under every view: Textual's Footer, its keys made in their final style.

A FooterKey starts compact (its reactive's default) and the Footer's data binding then sets it
to the Footer's own value (not compact): two style passes for each key, each time the footer is
made again (every screen, every change of the keys on offer). A third of the CPU between
pressing a view's key and its first frame went there. Here each key is given its final value
(the Footer's for a bound key, the default for the command palette's, which is not bound) and
its class before it is mounted, so neither the default nor the binding changes a class.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class ConsoleFooter(Footer):
    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                bound = "compact" in (getattr(widget, "_reactive_connect", None) or ())
                compact = self.compact if bound else True  # FooterKey's default
                widget.set_reactive(FooterKey.compact, compact)
                widget.set_class(compact, "-compact", update=False)
            yield widget
