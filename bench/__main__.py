"""`python -m bench [--quick] [--only NAME] [--out FILE]`: one JSON line per figure."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from pathlib import Path

from .env import BenchEnv, machine
from .record import failed

# Figure name -> module; order puts the cluster-free and cheap ones first.
FIGURES = {
    "pods": "bench.fig_pods",
    "versions": "bench.fig_versions",
    "listing": "bench.fig_listing",
    "history": "bench.fig_history",
    "views": "bench.fig_views",
    "scale": "bench.fig_scale",
    "rollback": "bench.fig_rollback",
    "startup": "bench.fig_startup",
    "cluster": "bench.fig_cluster",
    "realnode": "bench.fig_realnode",
    "journal": "bench.fig_journal",
    "bigcluster": "bench.fig_bigcluster",
    "coldbuild": "bench.fig_coldbuild",
}
# Minutes long and cluster-free: only when named with --only.
ON_REQUEST = ("coldbuild",)
MACHINE = machine()
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "latest.jsonl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller samples: everything in under two minutes")
    parser.add_argument("--only", action="append", choices=sorted(FIGURES), metavar="NAME",
                        help=f"run only this figure (repeatable): {', '.join(FIGURES)}")
    parser.add_argument("--scale", type=int, metavar="N",
                        help="pods of the bigcluster figure (default 30,000; --quick 5,000)")
    parser.add_argument("--cluster-dir", type=Path, metavar="DIR",
                        help="the local cluster's state folder to use (started if needed; kept, pods and all); "
                             "default $KRKN_TUI_CLUSTER_DIR when set, else a private cluster of the run's own, "
                             "removed at the end")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON lines file (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)

    names = args.only or [name for name in FIGURES if name not in ON_REQUEST]
    env = BenchEnv(quick=args.quick, say=lambda line: print(line, file=sys.stderr, flush=True), scale=args.scale,
                   cluster_dir=args.cluster_dir)
    lines: list[dict] = []
    started = time.perf_counter()
    try:
        for name in names:
            t = time.perf_counter()
            try:
                records = importlib.import_module(FIGURES[name]).run(env)
            except Exception as exc:  # one broken figure must not hide the others
                traceback.print_exc()
                records = [failed(name, "", None, exc)]
            for record in records:
                record.setdefault("detail", {})["quick"] = args.quick
                record["detail"]["machine"] = MACHINE
                print(json.dumps(record), flush=True)
                lines.append(record)
            print(f"bench: {name} took {time.perf_counter() - t:.1f}s", file=sys.stderr, flush=True)
    finally:
        env.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(r) + "\n" for r in lines))
    print(f"bench: {len(lines)} results in {time.perf_counter() - started:.1f}s -> {args.out}",
          file=sys.stderr, flush=True)
    return 0 if all(r.get("ok") is not False for r in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
