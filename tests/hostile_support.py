"""Helpers for the hostile-folder tests: plant version files of "ours" (header and manifest
digest included, so only the rule under test can refuse them) and run the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from krkn_tui.rollback import manifest
from krkn_tui.fsio import sha256_hex

RUN = "1755523355298089000-d3f0859b-91f7-490a-afb9-878478b1574a"
NAME = "pod_disruption_scenarios_1755523353558511000_abcdefgh.py"


def meta(verb="delete", kind="ConfigMap", namespace="demo", name="cm", **extra) -> bytes:
    fields = {"verb": verb, "kind": kind, "namespace": namespace, "name": name, **extra}
    return ("# krkn-tui-meta: " + json.dumps(fields, sort_keys=True) + "\n").encode()


def body(marker: Path, text: str = "ran") -> bytes:
    """A minimal step of ours: appends ``text`` to ``marker`` when executed."""
    return (
        "def touch(content, api_client):\n"
        "    with open(content, 'a') as f:\n"
        f"        f.write({text + chr(10)!r})\n"  # no "+": the utf-7 case must decode
        f"CONTENT = {str(marker)!r}\n"
        "ROLLBACK = touch\n"
    ).encode()


def plant(versions: Path, data: bytes, name: str = NAME, run: str = RUN, digest: bool = True,
          mode: int = 0o600) -> Path:
    """Write ``data`` as a version file of ``run`` (0700 folders), with its manifest line."""
    run_dir = versions / run
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(versions, 0o700)
    os.chmod(run_dir, 0o700)
    path = run_dir / name
    path.write_bytes(data)
    os.chmod(path, mode)
    if digest:
        manifest.append_entry(run_dir, name, sha256_hex(data), 1)
    return path


def krkn(*args, env=None, timeout=60) -> subprocess.CompletedProcess:
    """The CLI in a subprocess; bytes out, so a raw escape cannot hide in decoding."""
    return subprocess.run([sys.executable, "-m", "krkn_tui", *map(str, args)], capture_output=True,
                          env={**os.environ, **(env or {})}, timeout=timeout, stdin=subprocess.DEVNULL)


def no_raw_controls(data: bytes) -> bool:
    """Nothing a terminal would obey: no C0 control except newline, no DEL, no C1 (as UTF-8)."""
    text = data.decode("utf-8", "replace")
    return not any((ord(c) < 0x20 and c not in "\n\t") or 0x7f <= ord(c) <= 0x9f or 0x202a <= ord(c) <= 0x202e
                   for c in text)


def break_manifest(run_dir: Path, how: str | None, elsewhere: Path) -> None:
    """Make the run's manifest a symlink (to ``elsewhere``), a directory, a FIFO, loose (0666)
    or a stranger's (uid 4242)."""
    target = run_dir / ".krkn-tui-manifest.jsonl"
    if how == "symlink":
        target.rename(elsewhere)
        target.symlink_to(elsewhere)
    elif how == "directory":
        target.unlink()
        target.mkdir()
    elif how == "fifo":
        target.unlink()
        os.mkfifo(target, 0o600)
    elif how in ("loose", "world-writable"):
        os.chmod(target, 0o666)
    elif how in ("stranger", "foreign-owner"):
        os.chown(target, 4242, 4242)
