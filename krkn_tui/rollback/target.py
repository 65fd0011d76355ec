"""Which cluster and which versions folder a client acts on, from its flags and config.

Resolution, one precedence for every client (kubectl's, plus krkn's config):

- kubeconfig: ``--kubeconfig``, then ``$KUBECONFIG``, then the config's ``kraken.kubeconfig_path``,
  then ``~/.kube/config`` (the last two when the earlier are unset; a named file that does not
  exist is an error naming it, never a silent fall-through to another cluster);
- context: ``--context``, then the kubeconfig's current context;
- versions folder: ``-d/--versions-dir``, then the config's ``kraken.rollback_versions_directory``
  (krkn's default ``~/.krkn/rollback`` when the config leaves it out), then ``~/.krkn/rollback``.

A relative path in the config is resolved by ``config.resolve_relative``, as its scenario paths are.

Light on purpose: the console resolves its target before its first frame.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .naming import DEFAULT_VERSIONS_DIR, archive_dir_for


@dataclass(frozen=True)
class RollbackTarget:
    """Where rollback steps come from and which cluster they act on.

    ``kubeconfig`` is None when neither a flag, ``$KUBECONFIG`` nor the config names one: the
    client loader then reads ``$KUBECONFIG`` or ``~/.kube/config`` itself."""

    kubeconfig: str | None
    context: str | None
    versions_dir: Path

    @property
    def archive_dir(self) -> Path:
        return archive_dir_for(self.versions_dir)

    @property
    def audit_path(self) -> Path:
        from ..records import audit_path

        return audit_path(self.versions_dir)


def resolve_target(*, kubeconfig: str | os.PathLike | None = None, context: str | None = None,
                   versions_dir: str | os.PathLike | None = None, config: Any = None,
                   environ: Mapping[str, str] | None = None) -> RollbackTarget:
    """Apply the precedence of the module docstring. ``config`` is a loaded ``config.Config``
    (or None); the flags are the raw values given by the user (None when not given)."""
    env = os.environ if environ is None else environ
    if kubeconfig:
        kube = str(Path(kubeconfig).expanduser())
    elif env.get("KUBECONFIG"):
        kube = None  # the loader reads the (possibly multi-file) variable itself
    elif config is not None and config.kubeconfig_path:
        kube = str(config.kubeconfig_path)
    else:
        kube = None
    if versions_dir:
        vdir = Path(versions_dir).expanduser()
    elif config is not None:
        vdir = Path(config.versions_dir)
    else:
        vdir = DEFAULT_VERSIONS_DIR
    return RollbackTarget(kube, context or None, vdir)


def config_paths_used(target: RollbackTarget, config: Any) -> dict[str, Any]:
    """The config's paths (``config.ConfigPath``) this target uses: ``kubeconfig``, ``versions``."""
    if config is None:
        return {}
    pairs = (("kubeconfig", config.kubeconfig_from, target.kubeconfig),
             ("versions", config.versions_from, target.versions_dir))
    return {name: origin for name, origin, used in pairs
            if origin is not None and used is not None and Path(used) == origin.path}


def config_path_notes(target: RollbackTarget, config: Any) -> dict[str, str]:
    """For each path the config names (kubeconfig, versions folder): where it was found, or
    that a flag overrides it, as ``{"kubeconfig": line, "versions": line}`` (the dry run's lines)."""
    if config is None:
        return {}
    used = config_paths_used(target, config)
    notes = {}
    for name, origin in (("kubeconfig", config.kubeconfig_from), ("versions", config.versions_from)):
        if origin is None:
            continue
        by = "-d/--versions-dir" if name == "versions" else "--kubeconfig or $KUBECONFIG"
        notes[name] = origin.where if name in used else f"{origin.key} ({origin.where}) not used: overridden by {by}"
    return notes
