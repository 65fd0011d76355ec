"""Rollback version files: register before changing the cluster, list offline, execute, archive.

Layout (krkn's): ``<versions_dir>/<run_time_ns>-<run_uuid>/<scenario_type>_<time_ns>_<suffix>.py``.
Clients go through ``rollback.front``; these few names are the engine's and the tests'.
"""

from typing import Any

# Eager: the submodule of the same name would otherwise shadow the function once imported.
from .archive import archive as archive

# Loaded on first use, through the front: the console's first frame needs only the listing side.
_LAZY = frozenset({"DEFAULT_VERSIONS_DIR", "Executor", "RollbackContent", "RunRollback", "StepResult",
                   "VersionInfo", "list_versions", "read_version"})


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import front

    value = getattr(front, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY)


__all__ = sorted(_LAZY | {"archive"})
