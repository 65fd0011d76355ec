"""The baseline watcher: `kubectl get pods -w --output-watch-events -o json`, stamped per line."""

from __future__ import annotations

import subprocess
import sys
import threading

from .env import repo_root


class KubectlWatch:
    def __init__(self, kubectl: str, kubeconfig: str, namespace: str, resource: str = "pods"):
        self.argv = [kubectl, "--kubeconfig", kubeconfig, "get", resource, "-n", namespace, "-w",
                     "--output-watch-events", "-o", "json"]
        self.seen: dict[tuple[str, str, str], float] = {}  # (type, name, rv) -> first arrival
        self._procs: list[subprocess.Popen] = []

    def start(self) -> "KubectlWatch":
        kubectl = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        stamp = subprocess.Popen([sys.executable, "-m", "bench.stamp"], stdin=kubectl.stdout,
                                 stdout=subprocess.PIPE, text=True, cwd=repo_root())
        kubectl.stdout.close()  # the stamper owns the pipe now
        self._procs = [kubectl, stamp]
        threading.Thread(target=self._read, args=(stamp.stdout,), daemon=True, name="kubectl-watch").start()
        return self

    def _read(self, stream) -> None:
        for line in stream:
            parts = line.split()
            if len(parts) == 4:
                self.seen.setdefault((parts[1], parts[2], parts[3]), float(parts[0]))

    def stop(self) -> None:
        for proc in self._procs:
            proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
