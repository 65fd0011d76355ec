"""Runs bench.bare_watch as a child process and collects what it saw."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from .env import repo_root


class BareWatch:
    def __init__(self, root: Path, debounce_ms: int, step_ms: int):
        self.argv = [sys.executable, "-m", "bench.bare_watch", str(root), str(debounce_ms), str(step_ms)]
        self.seen: dict[tuple[str, str], float] = {}  # (change, path) -> first time seen
        self.ready = threading.Event()
        self._proc: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> "BareWatch":
        self._proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                      cwd=repo_root())
        threading.Thread(target=self._read, daemon=True, name="bare-watch").start()
        if not self.ready.wait(timeout):
            self.stop()
            raise TimeoutError("the bare watchfiles loop did not start")
        return self

    def _read(self) -> None:
        for line in self._proc.stdout:
            if line.strip() == "ready":
                self.ready.set()
                continue
            stamp, change, path = line.rstrip("\n").split(" ", 2)
            self.seen.setdefault((change, path), float(stamp))

    def stop(self) -> None:
        if self._proc is None:
            return
        try:
            self._proc.stdin.close()
            self._proc.wait(timeout=5)
        except (subprocess.TimeoutExpired, OSError):
            self._proc.kill()
            self._proc.wait()
        self._proc = None


def wait_until(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.002)
    return False
