"""What the three views share: the header, the footer, and read-only mode."""

from __future__ import annotations

from textual.screen import Screen

# Every action that changes the cluster or the version files. Read-only mode hides their keys
# (check_action False removes them from the footer and refuses them from keys and palette).
DANGEROUS_ACTIONS = frozenset({"run_marked", "execute_one", "execute_run", "archive_one", "emergency_stop",
                               "halt_toggle"})


def allowed(app, action: str) -> bool:
    return not (app.settings.readonly and action in DANGEROUS_ACTIONS)


class View(Screen):
    VIEW_TITLE = ""
    HELP_WIDGETS: tuple = ()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return allowed(self.app, action)

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.recolour())

    def recolour(self) -> None:
        """Rebuild cells whose colours come from the theme."""
