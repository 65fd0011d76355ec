"""What the console was started with, and what follows from it (config, folders, kubeconfig).

Loading never raises: a config that does not load becomes an error string the console shows.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from ..config import Config, load_config
from ..errors import UserError
from ..rollback.naming import DEFAULT_VERSIONS_DIR, archive_dir_for


@dataclass
class ConsoleSettings:
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None  # None: pods of every namespace
    config_path: str | Path = "config.yaml"
    readonly: bool = False
    versions_dir: str | Path | None = None  # overrides the config's rollback_versions_directory
    allow_foreign: bool = False  # execute version files written by krkn itself
    # Tests and snapshots turn the live parts off and freeze the clock.
    watch_pods: bool = True
    probe_cluster: bool = True
    clock: Callable[[], float] = field(default=time.time)


@dataclass
class LoadedConfig:
    config: Config | None
    error: str | None
    versions_dir: Path
    archive_dir: Path


def load_console_config(settings: ConsoleSettings) -> LoadedConfig:
    config, error = None, None
    try:
        config = load_config(settings.config_path)
    except UserError as exc:
        error = str(exc)
    except OSError as exc:  # a folder given as the config, a permission problem
        error = f"{settings.config_path}: {exc.strerror or exc}"
    if settings.versions_dir is not None:
        versions_dir = Path(settings.versions_dir).expanduser()
        if config is not None:
            config = replace(config, versions_dir=versions_dir)
    elif config is not None:
        versions_dir = config.versions_dir
    else:
        versions_dir = DEFAULT_VERSIONS_DIR
    return LoadedConfig(config, error, versions_dir, archive_dir_for(versions_dir))


def effective_kubeconfig(settings: ConsoleSettings, config: Config | None) -> str | None:
    """Like kubectl: --kubeconfig, then $KUBECONFIG, then the config's kubeconfig_path when that
    file exists, then ~/.kube/config (None lets the loader apply the last two)."""
    if settings.kubeconfig:
        return str(settings.kubeconfig)
    if os.environ.get("KUBECONFIG"):
        return None
    if config is not None and config.kubeconfig_path and config.kubeconfig_path.is_file():
        return str(config.kubeconfig_path)
    return None
