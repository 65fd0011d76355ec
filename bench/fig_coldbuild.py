"""The cold build: `localcluster/build.sh` from an empty Go build cache (the module cache kept:
downloads are not compilation) into a scratch bin and image folder, every program and image, wall
time against the 15-minute aim on two cores, with the CPU seconds (user + system) the build's
processes used. Minutes long, so only on request: `python -m bench --only coldbuild`."""

from __future__ import annotations

import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from .env import repo_root
from .record import result

TARGET_S = 15 * 60


def run(env) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="bench-coldbuild-") as tmp:
        scratch = Path(tmp)
        envvars = {**os.environ, "GOCACHE": str(scratch / "gocache"), "KRKN_TUI_CACHE": str(scratch / "cache")}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(["bash", str(repo_root() / "localcluster" / "build.sh")], env=envvars,
                              capture_output=True, text=True)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    built = [line for line in done.stdout.splitlines() if " built " in line or "packed image" in line]
    detail = {"cpu_s": round(cpu, 1), "cores": os.cpu_count(), "load_before": os.getloadavg()[0],
              "exit_code": done.returncode, "steps": len(built)}
    if done.returncode != 0:
        detail["error"] = done.stderr.strip()[-300:]
    return [result("cold_build_everything", wall, "s", None, f"<= {TARGET_S} s on 2 cores",
                   done.returncode == 0 and wall <= TARGET_S, detail, digits=1)]
