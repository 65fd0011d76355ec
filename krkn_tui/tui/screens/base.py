"""What the three views share: the header, the footer, and read-only mode."""

from __future__ import annotations

from textual.screen import UPDATE_PERIOD, Screen
from textual.timer import Timer

from ..frame_timer import FrameTimer

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

    @property
    def _update_timer(self) -> Timer:
        """Textual's screen update timer, paced to the next free frame slot (frame_timer.py)."""
        timer = getattr(self, "_frame_timer", None)
        if timer is None:
            timer = self._frame_timer = FrameTimer(self, UPDATE_PERIOD, name="screen_update",
                                                   callback=self._on_timer_update, pause=True)
            timer._start()
            self._timers.add(timer)  # stopped with the screen, as set_interval's are
        return timer

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.recolour())

    def recolour(self) -> None:
        """Rebuild cells whose colours come from the theme."""
