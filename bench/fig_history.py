"""Figure: `krkn-tui history` over 1,000 run reports.

``history_1000_reports``: ``report.history.history`` (every report read by the loader's rules,
the row's fields decoded, sorted newest first) over 1,000 generated reports shaped like the
engine's (five scenario files, killed pods' recovery, checks with their transitions, rollback
steps and a timeline: about 14 KB each, the size of a demo run's). Baseline: the same files read
whole with ``json.loads``, which is what listing them through ``read_report`` would cost."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from krkn_tui.records import reports_dir

from .record import result

NAME = "history"
TYPES = ("pod_disruption_scenarios", "service_disruption_scenarios", "application_outages_scenarios",
         "node_scenarios", "hog_scenarios")


def fake_report(i: int, *, started: float = 1_790_000_000.0, failed: bool = False) -> dict:
    """A report like the engine writes for run ``i`` (started ``i`` minutes after ``started``)."""
    t0 = started + 60 * i
    run_id = f"{int(t0 * 1e9)}-{i:08x}-0000-4000-8000-000000000000"
    scenarios = []
    for k, kind in enumerate(TYPES):
        status = "failed" if failed and k == 1 else "passed"
        pods = [{"namespace": "krkn-demo", "name": f"frontend-{i}-{p}", "replacement": f"frontend-{i}-{p}b",
                 "rescheduling_seconds": 0.4 + p / 10, "readiness_seconds": 1.5 + (i % 7) / 10 + p / 10}
                for p in range(3)] if kind == "pod_disruption_scenarios" else []
        scenarios.append({"index": k, "scenario_type": kind, "file": f"/cfg/scenarios/{kind}.yaml", "id": f"s{k}",
                          "iteration": 0, "status": status, "message": "scaled to zero and back" if status == "passed"
                          else "backend did not come back within 60 s", "seconds": 5.0 + k, "started": t0 + 6 * k,
                          "details": {"pods": pods}})
    checks = [{"name": f"http://127.0.0.1:18098/health#{c}", "what": "GET /health -> 200", "abort": False,
               "state": "passing", "probes": 40, "failures": 3 if failed else 0, "last_latency": 0.004,
               "transitions": [{"at": t0 + 3 + c, "phase": "during", "state": s, "seen": "HTTP 503"}
                               for s in ("failing", "passing") * 4]} for c in range(2)]
    rollback = [{"file": f"/v/{run_id}/{kind}_{k}.py", "status": "executed", "error": None, "seconds": 0.02,
                 "during": "restore"} for k, kind in enumerate(TYPES)]
    timeline = [{"at": t0 + e / 2, "lane": ("scenario", "pod", "check", "rollback")[e % 4],
                 "text": f"event {e} of the run: frontend-{i}-{e} deleted, replacement Ready", "tone": "info"}
                for e in range(60)]
    return {"run_id": run_id, "config": "/cfg/config.yaml", "status": "failed" if failed else "passed",
            "dry_run": False, "started": t0, "finished": t0 + 42.5, "versions_dir": "/v", "scenarios": scenarios,
            "rollback": rollback, "cluster": {"server": "https://127.0.0.1:6443", "context": "krkn-tui-local",
                                              "kube_system_uid": "0f0e0d0c-0000-4000-8000-000000000000"},
            "checks": {"interval": 2, "checks": checks}, "timeline": timeline}


def fill(versions: Path, n: int) -> list[str]:
    """``n`` reports beside ``versions`` (every seventh failed), in shuffled file order."""
    folder = reports_dir(versions)
    folder.mkdir(parents=True, mode=0o700)
    ids = []
    for i in sorted(range(n), key=lambda i: (i * 7919) % n):
        report = fake_report(i, failed=i % 7 == 3)
        (folder / f"{report['run_id']}.json").write_text(json.dumps(report, indent=2))
        ids.append(report["run_id"])
    return ids


def _best(fn, repeat: int, clock=time.perf_counter) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = clock()
        fn()
        best = min(best, clock() - t)
    return best


def figure(n: int = 1000, repeat: int = 5) -> dict:
    from krkn_tui.report.history import history

    with tempfile.TemporaryDirectory() as tmp:
        versions = Path(tmp) / "versions"
        fill(versions, n)
        folder = reports_dir(versions)
        size = sum(e.stat().st_size for e in os.scandir(folder)) / n
        rows = history(versions)
        ours = _best(lambda: history(versions), repeat)
        cpu = _best(lambda: history(versions), repeat, time.process_time)  # what a busy machine hides
        whole = _best(lambda: [json.loads(Path(e.path).read_bytes()) for e in os.scandir(folder)], repeat)
    ordered = all(a.started >= b.started for a, b in zip(rows, rows[1:]))
    ok = ours < 0.2 and len(rows) == n and ordered and sum(r.status == "failed" for r in rows) == len(
        [i for i in range(n) if i % 7 == 3])
    return result(f"history_{n}_reports", ours, "s", whole, "< 0.2 s", ok,
                  {"reports": n, "mean_report_kb": round(size / 1024, 1), "newest_first": ordered,
                   "cpu_s": round(cpu, 3), "load": round(os.getloadavg()[0], 2)})


def run(env) -> list[dict]:
    return [figure(1000, 3 if env.quick else 5)]
