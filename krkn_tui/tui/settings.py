"""What the console was started with, and what follows from it (config, folders, kubeconfig:
resolved by the rollback service, as for the command line).

Loading never raises: a config that does not load becomes an error string the console shows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from ..config import Config, load_config
from ..errors import UserError
from ..rollback.front import RollbackTarget, resolve_target


@dataclass
class ConsoleSettings:
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None  # None: pods of every namespace
    config_path: str | Path = "config.yaml"
    readonly: bool = False
    versions_dir: str | Path | None = None  # overrides the config's rollback_versions_directory
    allow_foreign: bool = False  # execute version files written by krkn itself
    force_cluster: bool = False  # execute version files recorded for another cluster (audited)
    # Tests and snapshots turn the live parts off and freeze the clock.
    watch_pods: bool = True
    probe_cluster: bool = True
    clock: Callable[[], float] = field(default=time.time)


@dataclass
class LoadedConfig:
    config: Config | None
    error: str | None
    target: RollbackTarget  # kubeconfig, context and versions folder, resolved as the CLI does

    @property
    def versions_dir(self) -> Path:
        return self.target.versions_dir

    @property
    def archive_dir(self) -> Path:
        return self.target.archive_dir


def load_console_config(settings: ConsoleSettings) -> LoadedConfig:
    config, error = None, None
    try:
        config = load_config(settings.config_path)
    except UserError as exc:
        error = str(exc)
    except OSError as exc:  # a folder given as the config, a permission problem
        error = f"{settings.config_path}: {exc.strerror or exc}"
    target = resolve_target(kubeconfig=settings.kubeconfig, context=settings.context,
                            versions_dir=settings.versions_dir, config=config)
    if config is not None:
        config = replace(config, versions_dir=target.versions_dir)  # a run writes where the view lists
    return LoadedConfig(config, error, target)
