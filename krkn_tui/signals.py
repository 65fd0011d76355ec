"""Signals during a run: the first SIGINT, SIGTERM or SIGHUP asks the engine to stop and roll
back (at any phase: during a scenario, between two, during a wait or a rollback); a second SIGINT
leaves at once, with the pending version files left on disk for `execute-rollback`."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
WAKE_SLICE = 0.2  # seconds: the longest a wait in the main thread delays a signal's handler


def quiet_thread() -> None:
    """Called first in every background thread of a run: the stop signals are then delivered to
    the main thread alone, which runs their handlers at once and in signal-number order."""
    signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)


def wait_for_stop(stop: threading.Event, seconds: float) -> bool:
    """``stop.wait(seconds)`` in short slices. The kernel may deliver a signal to any thread
    (a Lease renewer, a check, a pod watch), and Python runs its handler only when the main
    thread wakes: one long wait would hold a Ctrl+C back until it ends."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return stop.is_set()
        if stop.wait(min(left, WAKE_SLICE)):
            return True


class StopOnSignals:
    def __init__(self, stop: threading.Event):
        self.stop = stop
        self.received: int | None = None
        self._previous: dict[int, object] = {}
        # The handler runs in the main thread between two bytecodes, possibly while that thread
        # holds ``stop``'s own lock (inside ``stop.wait``): ``stop.set()`` there would wait for
        # itself forever. So the handler only writes a byte to a pipe (no lock), and a relay
        # thread sets ``stop``.
        self._wake_r, self._wake_w = os.pipe()
        self._relay: threading.Thread | None = None

    def _relay_stop(self) -> None:
        quiet_thread()
        while True:
            try:
                got = os.read(self._wake_r, 1)
            except OSError:
                return
            if got != b"s":  # b"" (closed) or b"q" (the run is over): nothing more to relay
                return
            self.stop.set()

    def _handle(self, signum, _frame) -> None:
        if self.received is not None and signum == signal.SIGINT:
            # The user insists: no rollback, files stay pending and say so.
            os.write(2, b"krkn-tui: second interrupt: exiting now; pending rollback files are left on disk\n")
            os._exit(128 + signum)
        if self.received is None:
            self.received = signum
            name = signal.Signals(signum).name
            os.write(2, f"krkn-tui: {name}: stopping and rolling back (Ctrl+C again to exit at once)\n".encode())
        os.write(self._wake_w, b"s")

    @property
    def exit_code(self) -> int | None:
        return 128 + self.received if self.received is not None else None

    def __enter__(self) -> "StopOnSignals":
        self._relay = threading.Thread(target=self._relay_stop, name="signal-relay", daemon=True)
        self._relay.start()
        for sig in HANDLED:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        os.write(self._wake_w, b"q")
        if self._relay is not None:
            self._relay.join(timeout=5)
        os.close(self._wake_w)
        os.close(self._wake_r)
        sys.stderr.flush()
