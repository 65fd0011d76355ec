"""Build an API client the way kubectl would: --kubeconfig, then $KUBECONFIG, then ~/.kube/config,
with an optional --context. Problems become one-line UserErrors naming the file and field."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import UserError


@dataclass(frozen=True)
class KubeTarget:
    """Where we talk to: shown in the console header and written into reports."""

    kubeconfig: str
    context: str
    server: str
    user: str


def resolve_kubeconfig(path: str | os.PathLike | None) -> Path:
    if path:
        return Path(path).expanduser()
    env = os.environ.get("KUBECONFIG")
    if env:
        # Like kubectl, a list is allowed; the first existing file is the one we read.
        for part in env.split(os.pathsep):
            if part and Path(part).expanduser().exists():
                return Path(part).expanduser()
        return Path(env.split(os.pathsep)[0]).expanduser()
    return Path.home() / ".kube" / "config"


def _read_kubeconfig(kubeconfig: str | os.PathLike | None) -> tuple[Path, dict]:
    path = resolve_kubeconfig(kubeconfig)
    if not path.is_file():
        raise UserError("kubeconfig not found (set --kubeconfig, KUBECONFIG, or run `krkn-tui cluster up`)", file=path)
    try:
        cfg = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise UserError(f"not a readable kubeconfig: {e}", file=path) from None
    if not isinstance(cfg, dict):
        raise UserError("not a kubeconfig (top level is not a mapping)", file=path)
    return path, cfg


def _target(path: Path, cfg: dict, name: str) -> KubeTarget:
    ctx = next((c for c in cfg.get("contexts") or [] if isinstance(c, dict) and c.get("name") == name), None)
    if ctx is None:
        known = ", ".join(str(c.get("name")) for c in cfg.get("contexts") or [] if isinstance(c, dict)) or "none"
        raise UserError(f"context {name!r} not found (known: {known})", file=path, field="contexts")
    body = ctx.get("context") or {}
    cluster = next((c for c in cfg.get("clusters") or [] if isinstance(c, dict) and c.get("name") == body.get("cluster")), None)
    if cluster is None or not (cluster.get("cluster") or {}).get("server"):
        raise UserError(f"context {name!r} names cluster {body.get('cluster')!r}, which has no server",
                        file=path, field="clusters")
    return KubeTarget(str(path), name, cluster["cluster"]["server"], str(body.get("user", "")))


def describe_target(kubeconfig: str | os.PathLike | None = None, context: str | None = None) -> KubeTarget:
    path, cfg = _read_kubeconfig(kubeconfig)
    name = context or cfg.get("current-context")
    if not name:
        raise UserError("no current context; pass --context", file=path, field="current-context")
    return _target(path, cfg, name)


def list_contexts(kubeconfig: str | os.PathLike | None = None) -> list[KubeTarget | str]:
    """Every context of the kubeconfig in its order: its target, or one line saying why it is unusable."""
    path, cfg = _read_kubeconfig(kubeconfig)
    out: list[KubeTarget | str] = []
    for c in cfg.get("contexts") or []:
        if isinstance(c, dict) and isinstance(c.get("name"), str):
            try:
                out.append(_target(path, cfg, c["name"]))
            except UserError as exc:
                out.append(f"{c['name']}: {exc}")
    return out


def load_api_client(kubeconfig: str | os.PathLike | None = None, context: str | None = None):
    """An ApiClient for the chosen kubeconfig and context; no request is made here."""
    from kubernetes import config

    target = describe_target(kubeconfig, context)
    try:
        return config.new_client_from_config(config_file=target.kubeconfig, context=target.context)
    except Exception as e:  # the loader raises a zoo of types (ConfigException, ValueError, OSError)
        raise UserError(f"cannot use context {target.context!r}: {e}", file=target.kubeconfig) from None
