"""Argument handling shared by the subcommands: the flags, the config they name, and a quick
reachability check. Which kubeconfig, context and versions folder they mean is decided once, by
``rollback.service.resolve_target``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from ..sanitize import one_line

DEFAULT_CONFIG = Path("config.yaml")


def add_kube_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, then the config's kubeconfig_path, then ~/.kube/config)")
    p.add_argument("--context", help="kubeconfig context to use (default: the current context)")


def add_versions_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", type=Path, help="krkn config.yaml whose versions folder to use (default: ./config.yaml if present)")
    p.add_argument("-d", "--versions-dir", type=Path, help="rollback versions folder (overrides the config)")


def add_trust_flags(p: argparse.ArgumentParser) -> None:
    """``--trust-key LINE``: a signer trusted beside the user's own key and trusted-keys file, for
    version folders (manifest lines) and cluster journal entries alike."""
    p.add_argument("--trust-key", action="append", default=[], metavar="LINE",
                   help="also trust what this public key signed (a line 'ed25519:...', as `krkn-tui key show` "
                        "prints it; repeatable), beside your own key and ~/.config/krkn-tui/trusted-keys")


def load_config_arg(path: Path | None, *, check_files: bool = True):
    from ..config import load_config

    return load_config(path or DEFAULT_CONFIG, check_files=check_files)


def resolve_target(args, *, cluster: bool = False, config=None):
    """The rollback service's resolution (see rollback.service) for these flags.

    ``config`` is an already loaded config; else the one given with -c is loaded (a bad one is an
    error even when -d overrides its folder: a flag is never ignored), else ./config.yaml when
    present and it decides something: the versions folder, or (``cluster``) the kubeconfig. Its
    scenario files are not checked: listing must work with a config whose scenario files moved."""
    import os

    from ..rollback.front import resolve_target

    explicit = getattr(args, "config", None)
    needed = not getattr(args, "versions_dir", None) or (
        cluster and not getattr(args, "kubeconfig", None) and not os.environ.get("KUBECONFIG"))
    if config is None and (explicit or (needed and DEFAULT_CONFIG.exists())):
        config = load_config_arg(explicit, check_files=False)
    return resolve_target(kubeconfig=getattr(args, "kubeconfig", None), context=getattr(args, "context", None),
                          versions_dir=getattr(args, "versions_dir", None), config=config)


def check_reachable(kubeconfig: str | None, context: str | None, wait: float = 0.0) -> None:
    """One quick request so an unreachable cluster is one clear line before anything starts.

    With ``wait``, connection failures are retried with backoff for up to that many seconds first,
    said once on stderr: a rollback is worth waiting for while the API server restarts."""
    import sys

    from ..kube.client import describe_target, load_api_client
    from ..rollback.front import GaveUp, retry_until, short_reason

    target = describe_target(kubeconfig, context)
    client = load_api_client(kubeconfig, context)

    def announce(attempt: int, exc: Exception, delay: float) -> None:
        if attempt == 1:
            print(f"krkn-tui: cannot reach the API server {target.server} ({short_reason(_reason(exc))}); "
                  f"retrying for up to {wait:g}s", file=sys.stderr, flush=True)

    try:
        from kubernetes import client as k

        retry_until(lambda: k.VersionApi(client).get_code(_request_timeout=5), wait, on_retry=announce)
    except GaveUp as stop:  # connection refused, TLS, 401...: all mean "cannot use this cluster"
        raise UserError(f"cannot reach the API server {target.server}: {_reason(stop.cause)}",
                        file=target.kubeconfig, field=f"context {target.context}") from None
    finally:
        client.close()


def _reason(exc: BaseException) -> str:
    return one_line(getattr(exc, "reason", None) or exc)[:200]


def add_journal_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--journal-namespace", help="namespace of the cluster journal (default: the config's "
                   "kraken.cluster_journal_namespace, then krkn-rollback)")
    p.add_argument("--lease-duration", type=float, metavar="SECONDS",
                   help="lease duration taken on a run (default: the config's, then 15)")
    p.add_argument("--renew-interval", type=float, metavar="SECONDS",
                   help="how often a held lease is renewed (default: the config's, then 5)")


def journal_settings(args):
    """The config's cluster journal settings (defaults without a config), overridden by flags."""
    from dataclasses import replace

    from ..rollback.front import JournalSettings

    settings = JournalSettings()
    if getattr(args, "config", None) or DEFAULT_CONFIG.exists():
        settings = load_config_arg(getattr(args, "config", None), check_files=False).journal
    if getattr(args, "journal_namespace", None):
        settings = replace(settings, namespace=args.journal_namespace)
    if getattr(args, "lease_duration", None) is not None:
        if not args.lease_duration >= 1:
            raise UserError(f"must be at least 1, got {args.lease_duration}", field="--lease-duration")
        settings = replace(settings, lease_duration=args.lease_duration,
                           renew_every=min(settings.renew_every, args.lease_duration / 3))
    if getattr(args, "renew_interval", None) is not None:
        if not 0 < args.renew_interval < settings.lease_duration:
            raise UserError(f"must be more than 0 and less than the lease duration ({settings.lease_duration:g}s)",
                            field="--renew-interval")
        settings = replace(settings, renew_every=args.renew_interval)
    return settings


def journal_client(args):
    """``(api_client, cluster identity)`` for journal commands; one clear line when unreachable."""
    from ..kube.identity import read_identity

    if getattr(args, "in_cluster", False):
        from kubernetes import client, config

        try:
            config.load_incluster_config()
        except Exception as e:  # ConfigException: not in a pod
            raise UserError(f"not running in a pod with a service account: {e}", field="--in-cluster") from None
        api_client, context = client.ApiClient(), "in-cluster"
    else:
        from ..kube.client import describe_target, load_api_client

        resolved = resolve_target(args, cluster=True)
        target = describe_target(resolved.kubeconfig, resolved.context)
        api_client, context = load_api_client(resolved.kubeconfig, resolved.context), target.context
    try:
        identity = read_identity(api_client, context)
    except Exception as e:
        server = api_client.configuration.host
        reason = _reason(e)
        raise UserError(f"cannot reach the API server {server}: {reason}", field=f"context {context}") from None
    return api_client, identity


def local_trust(args):
    """What this user's commands accept from the cluster journal: their own key, their
    trusted-keys file and the --trust-key lines (one clear line for a bad one)."""
    from ..rollback.front import SigningError, local_trust as trust

    try:
        return trust(extra=key_lines(getattr(args, "trust_key", None) or ()))
    except SigningError as e:
        raise UserError(str(e), field="--trust-key") from None


def key_lines(lines) -> list[str]:
    """--trust-key values as given, or pasted from `krkn-tui key show` with its ``# key id`` comment."""
    return [line.split("#", 1)[0].strip() for line in lines]
