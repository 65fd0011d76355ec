"""Rollback version files: register before changing the cluster, list offline, execute, archive.

Layout (krkn's): ``<versions_dir>/<run_time_ns>-<run_uuid>/<scenario_type>_<time_ns>_<suffix>.py``.
Clients go through ``rollback.front``; these few names are the engine's and the tests'.
"""

from ..lazy import lazy_names

# Eager: the submodule of the same name would otherwise shadow the function once imported.
from .archive import archive as archive

# Loaded on first use: the console's first frame needs only the listing side, not the executor.
__getattr__, __dir__ = lazy_names(__name__, {
    "RollbackContent": ".content",
    "Executor": ".executor",
    "StepResult": ".executor",
    "DEFAULT_VERSIONS_DIR": ".naming",
    "RunRollback": ".registry",
    "VersionInfo": ".store",
    "list_versions": ".store",
    "read_version": ".store",
})

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
