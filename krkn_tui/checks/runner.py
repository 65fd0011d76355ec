"""Run the checks: all at once for a phase (before the first scenario, after the rollback), or
each in its own thread at the interval during the run.

A check's state is ``unknown`` until probed, then ``passing`` or ``failing``; every probe goes
to ``on_probe`` (with whether the state changed), and the first failure of an aborting check
goes to ``on_abort`` once, from the monitor thread that saw it: the caller stops the run there."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from .probes import Observation, PodBaseline, probe
from .spec import Check, ChecksConfig
from .transition import Transition
from ..signals import quiet_thread


@dataclass
class CheckState:
    check: Check
    state: str = "unknown"  # unknown | passing | failing
    probes: int = 0
    failures: int = 0
    last: Observation | None = None
    # Every change of state: the report's check history.
    transitions: list[Transition] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.check.name


OnProbe = Callable[[CheckState, Observation, bool, str], None]
OnAbort = Callable[[CheckState, Observation], None]


class CheckRunner:
    def __init__(self, config: ChecksConfig, api_client: Callable[[], Any], on_probe: OnProbe | None = None):
        self.config = config
        self.api_client = api_client
        self.on_probe = on_probe or (lambda *_: None)
        self.states = [CheckState(c) for c in config.checks]
        self.baseline = PodBaseline()
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self._threads: list[threading.Thread] = []
        self.aborted: tuple[CheckState, Observation] | None = None

    @property
    def interval(self) -> float:
        return self.config.interval

    def probe_one(self, st: CheckState, phase: str) -> Observation:
        obs = probe(st.check, self.api_client(), self.baseline)
        with self._lock:
            new = "passing" if obs.ok else "failing"
            changed = new != st.state
            st.probes += 1
            st.failures += 0 if obs.ok else 1
            st.last = obs
            st.state = new
            if changed:
                st.transitions.append(Transition(obs.at, phase, new, obs.seen))
        self.on_probe(st, obs, changed, phase)
        return obs

    def probe_all(self, phase: str) -> list[CheckState]:
        """Every check once, in parallel (a slow endpoint does not hold the others)."""
        if self.states:
            with ThreadPoolExecutor(max_workers=min(8, len(self.states)), initializer=quiet_thread) as pool:
                list(pool.map(lambda st: self.probe_one(st, phase), self.states))
        return self.states

    def failing(self) -> list[CheckState]:
        return [st for st in self.states if st.state == "failing"]

    def wait_passing(self, phase: str, timeout: float, stop: threading.Event | None = None) -> bool:
        """Probe all at the interval until every check passes or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while True:
            self.probe_all(phase)
            if not self.failing():
                return True
            left = deadline - time.monotonic()
            if left <= 0 or (stop is not None and stop.is_set()):
                return False
            time.sleep(min(self.interval, left))

    # -- during the run -----------------------------------------------------------------------

    def start(self, on_abort: OnAbort) -> None:
        self._halt.clear()
        for st in self.states:
            t = threading.Thread(target=self._monitor, args=(st, on_abort), name=f"check {st.name}", daemon=True)
            t.start()
            self._threads.append(t)

    def _monitor(self, st: CheckState, on_abort: OnAbort) -> None:
        quiet_thread()
        while not self._halt.wait(self.interval):
            obs = self.probe_one(st, "during")
            if not obs.ok and st.check.abort:
                with self._lock:
                    first = self.aborted is None
                    if first:
                        self.aborted = (st, obs)
                if first:
                    on_abort(st, obs)
                return

    def stop(self) -> None:
        self._halt.set()
        for t in self._threads:
            t.join(timeout=max(10.0, self.interval * 2))
        self._threads.clear()
