"""ctrl+p: every action of the current view and of the console, by name.

Built from the key bindings themselves, so the palette and the keys can never disagree, and an
action that read-only mode removed is absent here too."""

from __future__ import annotations

from functools import partial
from typing import Iterator

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

# Moving a cursor is not worth a palette entry.
_NOT_COMMANDS = {"cursor_down", "cursor_up", "top", "bottom", "scroll", "command_palette"}


class ConsoleCommands(Provider):
    def _commands(self) -> Iterator[tuple[str, str, object]]:
        seen: set[str] = set()
        app = self.app
        for node in (self.screen, app):
            for binding in getattr(node, "BINDINGS", []):
                if not isinstance(binding, Binding) or not binding.description:
                    continue
                name = binding.action.split("(", 1)[0]
                if name in _NOT_COMMANDS or binding.description in seen:
                    continue
                if node.check_action(name, ()) is False:
                    continue
                seen.add(binding.description)
                key = app.get_key_display(binding)
                help_text = f"{binding.tooltip or binding.description}  [{key}]"
                yield binding.description, help_text, partial(app.run_action, binding.action, node)

    async def discover(self) -> Hits:
        for title, help_text, command in self._commands():
            yield DiscoveryHit(title, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, command in self._commands():
            score = max(matcher.match(title), matcher.match(help_text) * 0.8)
            if score > 0:
                yield Hit(score, matcher.highlight(title), command, help=help_text)
