"""Rollback version files: register before changing the cluster, list offline, execute, archive.

Layout (krkn's): ``<versions_dir>/<run_time_ns>-<run_uuid>/<scenario_type>_<time_ns>_<suffix>.py``.
"""

from .archive import archive
from .content import RollbackContent
from .executor import Executor, StepResult
from .naming import DEFAULT_VERSIONS_DIR
from .registry import RunRollback
from .store import VersionInfo, list_versions, read_version

__all__ = [
    "DEFAULT_VERSIONS_DIR",
    "Executor",
    "RollbackContent",
    "RunRollback",
    "StepResult",
    "VersionInfo",
    "archive",
    "list_versions",
    "read_version",
]
