"""Argument handling shared by the subcommands: kubeconfig/context like kubectl, and the
versions folder from the flag, the config file, or krkn's default."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError

DEFAULT_CONFIG = Path("config.yaml")


def add_kube_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, then the config's kubeconfig_path, then ~/.kube/config)")
    p.add_argument("--context", help="kubeconfig context to use (default: the current context)")


def add_versions_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", type=Path, help="krkn config.yaml whose versions folder to use (default: ./config.yaml if present)")
    p.add_argument("-d", "--versions-dir", type=Path, help="rollback versions folder (overrides the config)")


def load_config_arg(path: Path | None, *, check_files: bool = True):
    from ..config import load_config

    return load_config(path or DEFAULT_CONFIG, check_files=check_files)


def versions_dir(args) -> Path:
    from ..rollback import DEFAULT_VERSIONS_DIR

    if args.versions_dir:
        return args.versions_dir.expanduser()
    if args.config or DEFAULT_CONFIG.exists():
        # Listing must work offline and with a config whose scenario files moved: check none.
        return load_config_arg(args.config, check_files=False).versions_dir
    return Path(DEFAULT_VERSIONS_DIR).expanduser()


def kubeconfig_for(args, config=None) -> str | None:
    """--kubeconfig, then $KUBECONFIG (resolved by the client), then the config's kubeconfig_path."""
    import os

    if getattr(args, "kubeconfig", None):
        return args.kubeconfig
    if os.environ.get("KUBECONFIG"):
        return None
    if config is not None and config.kubeconfig_path:
        return str(config.kubeconfig_path)
    return None


def api_client_factory(kubeconfig: str | None, context: str | None):
    from ..kube.client import load_api_client

    return lambda: load_api_client(kubeconfig, context)


def check_reachable(kubeconfig: str | None, context: str | None, wait: float = 0.0) -> None:
    """One quick request so an unreachable cluster is one clear line before anything starts.

    With ``wait``, connection failures are retried with backoff for up to that many seconds first,
    said once on stderr: a rollback is worth waiting for while the API server restarts."""
    import sys
    import time

    from ..kube.client import describe_target, load_api_client
    from ..rollback.retry import backoff_delays, is_transient
    from .run import short_reason

    target = describe_target(kubeconfig, context)
    client = load_api_client(kubeconfig, context)
    deadline = time.monotonic() + wait
    try:
        from kubernetes import client as k

        for attempt, delay in enumerate(backoff_delays()):
            try:
                k.VersionApi(client).get_code(_request_timeout=5)
                return
            except Exception as e:  # connection refused, TLS, 401...: all mean "cannot use this cluster"
                reason = " ".join(str(getattr(e, "reason", None) or e).split())[:200]
                if not is_transient(e) or time.monotonic() + delay > deadline:
                    raise UserError(f"cannot reach the API server {target.server}: {reason}",
                                    file=target.kubeconfig, field=f"context {target.context}") from None
                if attempt == 0:
                    print(f"krkn-tui: cannot reach the API server {target.server} ({short_reason(reason)}); "
                          f"retrying for up to {wait:g}s", file=sys.stderr, flush=True)
                time.sleep(delay)
    finally:
        client.close()
