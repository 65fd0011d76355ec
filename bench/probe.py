"""Apps under measurement, with read-only probes.

- ``FrameProbe``: after each frame (``post_display_hook``, Textual's hook for tests) pending
  checks run, so a change counts as on screen at the first frame that shows it;
- ``ProbeConsole``: KrknConsole plus FrameProbe, keeping every drained pod event (its
  ``received`` stamp is when the watcher buffered it).
Nothing here changes what the console does.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Callable, Hashable

from krkn_tui.tui.app import KrknConsole
from krkn_tui.tui.settings import ConsoleSettings

from .env import repo_root


class FrameProbe:
    clock: Callable[[], float] = staticmethod(time.time)

    def _init_probe(self) -> None:
        self.frames = 0
        self.frame_checks: dict[Hashable, Callable[[], bool]] = {}
        self.frame_seen: dict[Hashable, float] = {}
        self.frame_cpu: dict[Hashable, float] = {}  # the process's CPU seconds at that frame

    def expect(self, key: Hashable, check: Callable[[], bool]) -> None:
        """Stamp ``frame_seen[key]`` at the first frame after which ``check()`` holds."""
        self.frame_checks[key] = check

    def post_display_hook(self) -> None:
        self.frames += 1
        if not self.frame_checks:
            return
        now, cpu = self.clock(), time.process_time()
        for key, check in list(self.frame_checks.items()):
            if check():
                self.frame_seen[key] = now
                self.frame_cpu[key] = cpu
                del self.frame_checks[key]


class ProbeConsole(FrameProbe, KrknConsole):
    # A relative CSS_PATH resolves against the subclass's module: point it back at the console's.
    CSS_PATH = str(Path(sys.modules[KrknConsole.__module__].__file__).with_name(KrknConsole.CSS_PATH))

    def __init__(self, settings: ConsoleSettings, **kwargs):
        super().__init__(settings, **kwargs)
        self._init_probe()
        self.drained: list = []

    def start_pod_watch(self) -> None:
        super().start_pod_watch()
        watcher = self.pod_watcher
        drain = watcher.drain

        def recording_drain():
            events = drain()
            self.drained.extend(events)
            return events

        watcher.drain = recording_drain


def settings(kubeconfig: str | None, namespace: str | None, versions_dir: Path, **kwargs) -> ConsoleSettings:
    """The console as a user starts it, pointed at a bench namespace and versions folder."""
    return ConsoleSettings(kubeconfig=kubeconfig, namespace=namespace,
                           config_path=repo_root() / "config.yaml", versions_dir=versions_dir, **kwargs)


def table(app: KrknConsole, view: str, table_id: str):
    return app.views[view].query_one(f"#{table_id}")


async def frame_showing(app: FrameProbe, key: Hashable, timeout: float, what: str) -> None:
    """Wait until a frame stamped ``key`` (``expect``); TimeoutError saying ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while key not in app.frame_seen:
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.002)
