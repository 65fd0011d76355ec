"""Where a relative path a krkn config names is found: one rule for the config loader and the
sections it hands off (monitoring's alert profile and resiliency file), below both of them so that
neither imports the other for it."""

from __future__ import annotations

import os
from pathlib import Path

FROM_CWD = "working directory"
FROM_CONFIG = "config folder"
FROM_ABSOLUTE = "absolute path"


def resolve_relative(base: Path, value: str, check_exists: bool = False) -> tuple[Path, str, Path | None]:
    """The one rule for every relative path a config names (scenario files, kubeconfig, versions
    folder): ``~`` expanded; then the working directory if the path exists there, as krkn (run
    from its repository root) resolves it; else the config's folder, existing or not (a versions
    folder not created yet is made there: the same place whichever folder the tool is run from).

    Returns ``(path, resolved_from, other)``; ``other`` is the working-directory candidate when
    ``check_exists`` and neither place has the path, for the not-found message."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return Path(os.path.normpath(path)), FROM_ABSOLUTE, None
    from_cwd = Path(os.path.normpath(Path.cwd() / path))
    from_config = Path(os.path.normpath(base / path))
    if os.path.lexists(from_cwd) or from_cwd == from_config:
        return from_cwd, (FROM_CONFIG if from_cwd == from_config else FROM_CWD), None
    if os.path.lexists(from_config) or not check_exists:
        return from_config, FROM_CONFIG, None
    return from_config, FROM_CONFIG, from_cwd
