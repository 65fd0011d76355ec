"""Figure 5: start-up.

Time from process start to the first headless frame of the console's first view (on the local
cluster, as `krkn-tui` starts) beside a minimal Textual app (one Static), each in a fresh
interpreter, alternated, median of several. `krkn-tui --help` beside a bare argparse `--help` is
reported in the detail (no target).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from .env import repo_root
from .record import result, summary

NAME = "startup"
RATIO_TARGET = 1.5
MINIMAL_CLI = "import argparse; argparse.ArgumentParser(prog='x').parse_args(['--help'])"


def _child_env() -> dict:
    # Both sides start from compiled bytecode, as an installed console does (pip compiles
    # Textual's and ours at install): with PYTHONDONTWRITEBYTECODE set in the caller's shell the
    # warm-up run below would leave our modules to be compiled again in every timed run.
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _first_frame(which: str, kubeconfig: str) -> tuple[float, float]:
    """Wall seconds from process start to the first frame, and the child's CPU seconds then."""
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "bench.startup_child", which, repr(t0), kubeconfig],
                          cwd=repo_root(), capture_output=True, text=True, timeout=120, env=_child_env())
    if proc.returncode != 0:
        raise RuntimeError(f"startup child {which} failed: {proc.stderr.strip()[-400:]}")
    wall, cpu = proc.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def _wall(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=repo_root(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60, check=True)
    return time.perf_counter() - t0


def run(env) -> list[dict]:
    rounds = 3 if env.quick else 9
    kubeconfig = env.kubeconfig
    _first_frame("minimal", kubeconfig)  # warm the page cache and .pyc files for both sides
    _first_frame("console", kubeconfig)
    console, minimal, help_ours, help_bare = [], [], [], []
    console_cpu, minimal_cpu = [], []
    for _ in range(rounds):
        for which, wall, cpu in (("console", console, console_cpu), ("minimal", minimal, minimal_cpu)):
            w, c = _first_frame(which, kubeconfig)
            wall.append(w)
            cpu.append(c)
        help_ours.append(_wall([sys.executable, "-m", "krkn_tui", "--help"]))
        help_bare.append(_wall([sys.executable, "-c", MINIMAL_CLI]))
    value, base = statistics.median(console), statistics.median(minimal)
    detail = {
        "console_s": summary(console, 1, 3), "minimal_textual_s": summary(minimal, 1, 3),
        "console_cpu_s": summary(console_cpu, 1, 3), "minimal_textual_cpu_s": summary(minimal_cpu, 1, 3),
        "cpu_ratio": round(statistics.median(console_cpu) / statistics.median(minimal_cpu), 3),
        "help_wall_s": {"krkn_tui": summary(help_ours, 1, 3), "argparse_only": summary(help_bare, 1, 3)},
        "measured": "process start -> first headless frame of the first view (median)",
    }
    rec = result("startup_first_frame", value, "s", base, f"<= {RATIO_TARGET}x minimal Textual app", None, detail)
    rec["ok"] = rec["ratio"] is not None and rec["ratio"] <= RATIO_TARGET
    return [rec]
