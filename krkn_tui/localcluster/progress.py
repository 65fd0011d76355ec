"""Progress lines for the long steps (building the binaries, starting the control plane): each
says what is happening with the time since the step began, so minutes of work never look
like a hang."""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from typing import Callable


def clock(seconds: float) -> str:
    """``4.2s`` under a minute, ``6m05s`` above."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


class Progress:
    """``line("...")`` says ``[+elapsed] ...``; ``done("...", then)`` says ``... in TOTAL`` and ``then``."""

    def __init__(self, say: Callable[[str], None], clock_fn: Callable[[], float] = time.monotonic):
        self.say = say
        self._now = clock_fn
        self.started = clock_fn()

    @property
    def elapsed(self) -> float:
        return self._now() - self.started

    def line(self, text: str) -> None:
        self.say(f"[+{clock(self.elapsed)}] {text}")

    def done(self, text: str, then: str = "") -> None:
        self.say(f"{text} in {clock(self.elapsed)}{then}")


def stream(argv: list[str], env: dict[str, str], on_line: Callable[[str], None],
           on_quiet: Callable[[], None], quiet: float) -> int:
    """Run ``argv`` (stderr merged into stdout) and hand each output line to ``on_line`` as it
    is printed, not when the process ends; ``on_quiet`` is called after every ``quiet``
    seconds without a line. Returns the exit status."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1, stdin=subprocess.DEVNULL)
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, name="build-output", daemon=True).start()
    try:
        while True:
            try:
                line = lines.get(timeout=quiet)
            except queue.Empty:
                on_quiet()
                continue
            if line is None:
                return proc.wait()
            on_line(line)
    except BaseException:  # Ctrl+C: the build stops with us
        proc.terminate()
        proc.wait()
        raise
