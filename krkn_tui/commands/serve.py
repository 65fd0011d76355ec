"""`krkn-tui serve`: the console on a browser (the room's big screen), with textual-serve.

Loopback by default; read-only unless --allow-control; bound beyond loopback, the URL carries a
random token (krkn_tui/tui/serve.py says how it is checked)."""

from __future__ import annotations

import secrets
import shlex
import socket
import sys

from ..errors import UserError
from . import common


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="serve the console to browsers (read-only unless --allow-control)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only; "
                   "another address needs the token printed with the URL)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--public-url", help="the URL viewers open, when not http://HOST:PORT (a proxy, a name)")
    p.add_argument("--allow-control", action="store_true",
                   help="viewers may run, stop, execute and halt (default: read-only consoles)")
    p.add_argument("-c", "--config", type=common.Path, help="krkn config.yaml (default ./config.yaml)")
    p.add_argument("-d", "--versions-dir", type=common.Path, help="rollback versions folder (overrides the config's)")
    p.add_argument("-n", "--namespace", help="only watch pods of this namespace")
    common.add_kube_flags(p)
    p.set_defaults(func=cmd_serve)


def console_command(args, target, readonly: bool) -> str:
    """The console each viewer gets: the same cluster, config and folders whatever its cwd."""
    argv = [sys.executable, "-m", "krkn_tui"]
    if target.kubeconfig:
        argv += ["--kubeconfig", str(target.kubeconfig)]
    if target.context:
        argv += ["--context", target.context]
    config = (args.config or common.DEFAULT_CONFIG)
    argv += ["-c", str(config.resolve()), "-d", str(target.versions_dir)]
    if args.namespace:
        argv += ["-n", args.namespace]
    if readonly:
        argv.append("--readonly")
    return shlex.join(argv)


def cmd_serve(args) -> int:
    from ..tui.serve import ConsoleServer, is_loopback

    if not 0 < args.port < 65536:
        raise UserError(f"must be 1-65535, got {args.port}", field="--port")
    target = common.resolve_target(args, cluster=True)
    token = None if is_loopback(args.host) else secrets.token_urlsafe(24)
    shown = socket.gethostname() if args.host in ("0.0.0.0", "::") else args.host
    shown = f"[{shown}]" if ":" in shown else shown
    public = (args.public_url or f"http://{shown}:{args.port}").rstrip("/")
    command = console_command(args, target, readonly=not args.allow_control)
    server = ConsoleServer(command, args.host, args.port, public, token)
    url = public + "/" + (f"?token={token}" if token else "")
    mode = "control allowed" if args.allow_control else "read-only"
    print(f"serving the console ({mode}) on {url}  (Ctrl+C stops)", flush=True)
    try:
        server.serve()
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", field="--port") from None
    return 0
