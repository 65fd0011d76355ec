"""Start, identify and stop the control plane's processes by recorded pid.

A pid alone can be reused by the system; each record also keeps the process start time from
/proc, so a stale record never makes us signal an unrelated process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    """A port that is free on loopback right now (the caller retries if it is taken later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    """Whether a server could listen on the port now. With SO_REUSEADDR, as servers bind (the
    demo's health endpoint does): the TIME_WAIT connections a stopped server leaves behind for a
    minute do not hold its port, a live listener does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces: split after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def start_time(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def alive(pid: int, started: int | None) -> bool:
    fields = _stat_fields(pid)
    if not fields or fields[0] in ("Z", "X"):  # a zombie has exited already
        return False
    return started is None or int(fields[19]) == started


def launch(name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> dict:
    """Start one component detached in its own session so it outlives `cluster up`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {name}: {' '.join(argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    return {"name": name, "pid": proc.pid, "start_time": start_time(proc.pid), "log": str(log_path), "argv": argv}


def stop(records: list[dict], timeout: float = 10.0) -> list[str]:
    """Stop each live process group in the order given: SIGTERM, then SIGKILL after `timeout`.

    One at a time, because an API server that loses etcd mid-shutdown waits out its whole grace
    period; stopped in order (controllers, API server, etcd) the cluster is down in about a second.
    """
    stopped = []
    for r in records:
        if not alive(r["pid"], r.get("start_time")):
            continue
        _signal_group(r["pid"], signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and alive(r["pid"], r.get("start_time")):
            _reap([r])
            time.sleep(0.05)
        if alive(r["pid"], r.get("start_time")):
            _signal_group(r["pid"], signal.SIGKILL)
        _reap([r])
        stopped.append(r["name"])
    return stopped


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # the component leads its own session, so its group id is its pid
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def _reap(records: list[dict]) -> None:
    """Collect the components that are children of this process, so they do not linger as
    zombies. Only their pids: other children (a test's subprocess) are not ours to collect."""
    for r in records:
        try:
            os.waitpid(r["pid"], os.WNOHANG)
        except ChildProcessError:
            pass
