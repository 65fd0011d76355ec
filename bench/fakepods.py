"""A synthetic pod source for the burst: the real PodWatcher thread reads it like the API.

``list()`` returns the steady pods (namespace a-bench) and a few churned ones (z-churn, sorted
after, so churn never shifts the rows the cursor walks over). The first ``watch()`` yields
``rate`` events a second for ``seconds`` once ``go`` is set: 90 % restartCount bumps on steady pods, 10 % a churn
pod deleted or a replacement added. Later watches idle until closed.
"""

from __future__ import annotations

import random
import threading
import time

STEADY_NS, CHURN_NS = "a-bench", "z-churn"
CREATED = "2025-01-01T00:00:00Z"


def pod(namespace: str, name: str, restarts: int, rv: int) -> dict:
    return {
        "metadata": {"namespace": namespace, "name": name, "resourceVersion": str(rv), "creationTimestamp": CREATED},
        "spec": {"nodeName": f"kwok-node-{hash(name) % 3}", "containers": [{"name": "c"}]},
        "status": {"phase": "Running", "containerStatuses": [{"name": "c", "ready": True, "restartCount": restarts}]},
    }


class _Idle:
    def __init__(self):
        self._closed = threading.Event()

    def __iter__(self):
        self._closed.wait()
        return iter(())

    def close(self) -> None:
        self._closed.set()


class _Paced:
    def __init__(self, source: "BurstSource"):
        self.source = source
        self._closed = threading.Event()

    def __iter__(self):
        s = self.source
        while not s.go.wait(0.05):  # the burst starts when the bench says so
            if self._closed.is_set():
                return
        s.started = time.time()
        for i in range(s.total):
            if self._closed.is_set():
                return
            due = s.started + i / s.rate
            ahead = due - time.time()
            if ahead > 0.001:
                time.sleep(ahead)
            yield s.next_event()
        s.finished = time.time()

    def close(self) -> None:
        self._closed.set()


class BurstSource:
    def __init__(self, steady: int, churn: int, rate: float, seconds: float, seed: int = 3):
        self.rate, self.total = rate, int(rate * seconds)
        self.rng = random.Random(seed)
        self.rv = 1
        self.restarts = {f"bench-{i:05d}": 0 for i in range(steady)}
        self.churned = [f"churn-{i:05d}" for i in range(churn)]
        self.next_churn = churn
        self.sent = 0
        self.started = self.finished = None
        self._watches = 0
        self.go = threading.Event()

    def list(self):
        items = [pod(STEADY_NS, n, r, self.rv) for n, r in self.restarts.items()]
        items += [pod(CHURN_NS, n, 0, self.rv) for n in self.churned]
        return items, str(self.rv)

    def watch(self, resource_version, timeout_seconds):
        self._watches += 1
        return _Paced(self) if self._watches == 1 and self.total else _Idle()

    def next_event(self) -> dict:
        self.rv += 1
        self.sent += 1
        if self.rng.random() < 0.9 or not self.churned:
            name = self.rng.choice(list(self.restarts)) if len(self.restarts) < 64 else \
                f"bench-{self.rng.randrange(len(self.restarts)):05d}"
            self.restarts[name] += 1
            return {"type": "MODIFIED", "object": pod(STEADY_NS, name, self.restarts[name], self.rv)}
        if self.rng.random() < 0.5:
            name = self.churned.pop(self.rng.randrange(len(self.churned)))
            return {"type": "DELETED", "object": pod(CHURN_NS, name, 0, self.rv)}
        name = f"churn-{self.next_churn:05d}"
        self.next_churn += 1
        self.churned.append(name)
        return {"type": "ADDED", "object": pod(CHURN_NS, name, 0, self.rv)}

    def expected_rows(self) -> dict[str, int]:
        """Final key -> restarts, once every event is out."""
        out = {f"{STEADY_NS}/{n}": r for n, r in self.restarts.items()}
        out.update({f"{CHURN_NS}/{n}": 0 for n in self.churned})
        return out
