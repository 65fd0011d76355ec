"""Many version files fast: one real registration, then copies under krkn's naming scheme.

Writing 10,000 steps through RunRollback costs an fsync each (~40 s); copies with their own
names, times and resource names list exactly like registered ones, which is all the version
table reads.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from krkn_tui.rollback import RollbackContent, RunRollback
from krkn_tui.rollback.naming import new_suffix, next_time_ns, version_file_name
from krkn_tui.scenarios.application_outage import delete_network_policy

SCENARIO_TYPE = "application_outages_scenarios"
TEMPLATE_NAME = "bench-np-XXXXXX"
PER_RUN = 500  # files per run directory, as a long game day might leave


def template_text() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = RunRollback(Path(tmp)).set_rollback_callable(
            delete_network_policy, RollbackContent(resource_identifier=TEMPLATE_NAME, namespace="bench"),
            scenario_type=SCENARIO_TYPE, verb="delete", kind="NetworkPolicy")
        return path.read_text()


class VersionFiles:
    """Writes pending steps into ``versions_dir``; ``new_path`` names one more, not yet written."""

    def __init__(self, versions_dir: Path):
        self.versions_dir = Path(versions_dir)
        self.text = template_text()
        self.count = 0
        self.run_dir: Path | None = None
        self.versions_dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _run_dir(self) -> Path:
        if self.run_dir is None or self.count % PER_RUN == 0:
            self.run_dir = self.versions_dir / f"{next_time_ns()}-bench-{self.count // PER_RUN:04d}"
            self.run_dir.mkdir(mode=0o700)
        return self.run_dir

    def new_path(self) -> Path:
        path = self._run_dir() / version_file_name(SCENARIO_TYPE, next_time_ns(), new_suffix())
        self.count += 1
        return path

    def content(self) -> bytes:
        return self.text.replace(TEMPLATE_NAME, f"bench-np-{self.count:06d}").encode()

    def write(self, path: Path) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(self.content())

    def fill(self, n: int) -> None:
        for _ in range(n):
            self.write(self.new_path())
