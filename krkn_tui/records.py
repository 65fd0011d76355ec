"""What a run leaves besides version files: a JSON report per run and an append-only JSONL
audit log of every change made to the cluster and every rollback executed.

Both sit beside the versions folder: ``<versions_dir>-reports/<run_id>.json`` and
``<versions_dir>-audit.jsonl``, so a custom versions folder keeps its history with it."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

AUDITED = {"cluster_change", "rollback_registered", "rollback_started", "rollback_executed",
           "rollback_failed", "rollback_refused", "rollback_archived", "stale_temp_removed",
           "rollback_executed_elsewhere", "run_started", "run_finished"}


def reports_dir(versions_dir: Path) -> Path:
    return versions_dir.with_name(versions_dir.name + "-reports")


def audit_path(versions_dir: Path) -> Path:
    return versions_dir.with_name(versions_dir.name + "-audit.jsonl")


class AuditLog:
    def __init__(self, path: Path, run_id: str):
        self.path = path
        self.run_id = run_id
        self._lock = threading.Lock()

    def record(self, event: dict[str, Any]) -> None:
        if event.get("event") not in AUDITED:
            return
        line = json.dumps({"time": time.time(), "run_id": self.run_id, **event}, default=str) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())  # one write of one line: O_APPEND keeps lines whole
                os.fsync(fd)
            finally:
                os.close(fd)


def write_report(versions_dir: Path, report: dict[str, Any]) -> Path:
    folder = reports_dir(versions_dir)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{report['run_id']}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2, default=str))
    os.replace(tmp, path)
    return path
