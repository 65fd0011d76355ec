"""Rollback version files: register before changing the cluster, list offline, execute, archive.

Layout (krkn's): ``<versions_dir>/<run_time_ns>-<run_uuid>/<scenario_type>_<time_ns>_<suffix>.py``.
"""

from importlib import import_module

# Eager: the submodule of the same name would otherwise shadow the function once imported.
from .archive import archive

# Loaded on first use: the console's first frame needs only the listing side, not the executor.
_WHERE = {
    "RollbackContent": ".content",
    "Executor": ".executor",
    "StepResult": ".executor",
    "DEFAULT_VERSIONS_DIR": ".naming",
    "RunRollback": ".registry",
    "VersionInfo": ".store",
    "list_versions": ".store",
    "read_version": ".store",
}


def __getattr__(name: str):
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(where, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


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
