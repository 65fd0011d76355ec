"""Figure 1: pod event latency, API change -> krkn-tui (event buffer, then screen) vs kubectl -w.

Per pod: create, label patch, status patch (restartCount, a visible column), delete, made by
another process (bench.pod_ops) that takes t0 just before each API call. An event is matched by
(type, name, resourceVersion of the call's answer). The label patch changes no visible column,
so it has no screen time.
The pods never schedule (a nodeSelector no node has), so only our changes make events.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from pathlib import Path

from .kubectl_watch import KubectlWatch
from .kubeops import wait_service_account
from .pod_ops import PodOps
from .probe import ProbeConsole, settings, table
from .record import result, summary

NAME = "pods"
WAIT_S = 5.0
FRAME_MS = 16.7  # one frame at Textual's 60 fps: the target is kubectl's p95 plus one frame
JITTER_S = 0.2  # two drain periods of the console
EVENT_TYPE = {"create": "ADDED", "label": "MODIFIED", "status": "MODIFIED", "delete": "DELETED"}


def _model_index(app: ProbeConsole, index: dict, done: list[int]) -> None:
    """(type, name, rv) -> buffered time, for drained events not yet indexed."""
    events = app.drained
    for e in events[done[0]:]:
        if e.kind in ("ADDED", "MODIFIED", "DELETED"):
            index.setdefault((e.kind, e.payload.name, e.version), e.received)
    done[0] = len(events)


SAME = object()


async def _measure(env, namespace: str, cycles: int, versions_dir: Path, app_class=ProbeConsole,
                   watch_namespace=SAME, expect_rows: int = 0) -> list[dict]:
    """``watch_namespace`` None: the console watches every namespace (``expect_rows`` rows are
    shown before anything is timed)."""
    ops = await PodOps(env.kubeconfig, namespace).start()
    kubectl = KubectlWatch(env.kubectl, env.kubeconfig, namespace).start()
    app = app_class(settings(env.kubeconfig, namespace if watch_namespace is SAME else watch_namespace,
                             versions_dir))
    samples: list[dict] = []
    jitter = random.Random(1)
    model: dict = {}
    indexed = [0]
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.press("2")
            pods = table(app, "pods", "pod-table")
            deadline = time.monotonic() + 900
            while (pods.row_count < expect_rows or app.watch_state != "connected") and time.monotonic() < deadline:
                await asyncio.sleep(0.05)

            async def one(op: str, name: str, value=None, screen_check=None) -> None:
                # A random pause first: changes must not arrive in step with the console's timers.
                await asyncio.sleep(jitter.uniform(0, JITTER_S))
                if screen_check is not None:
                    app.expect(op, screen_check)
                t0, rv = await ops.call(op, name, value)
                key = (EVENT_TYPE[op], name, rv)
                deadline = time.monotonic() + WAIT_S
                while time.monotonic() < deadline:
                    _model_index(app, model, indexed)
                    screen_done = screen_check is None or op in app.frame_seen
                    if key in kubectl.seen and key in model and screen_done:
                        break
                    await asyncio.sleep(0.002)
                screen = app.frame_seen.pop(op, None)
                app.frame_checks.pop(op, None)
                samples.append({"op": op, "kubectl": _lat(kubectl.seen.get(key), t0),
                                "model": _lat(model.get(key), t0),
                                "screen": _lat(screen, t0) if screen_check else None,
                                "visible": screen_check is not None})

            # Warm-up: both watchers connected and the table drawing before anything is timed.
            await one("create", "warm-up", screen_check=lambda: pods.record(f"{namespace}/warm-up") is not None)
            samples.clear()
            for i in range(cycles):
                name = f"bench-pod-{i:04d}"
                key = f"{namespace}/{name}"
                await one("create", name, screen_check=lambda: pods.record(key) is not None)
                await one("label", name, i + 1)
                await one("status", name, i + 1, lambda: pods.record(key) is not None
                          and pods.cell(key, "restarts").plain == str(i + 1))
                await one("delete", name, screen_check=lambda: pods.record(key) is None)
    finally:
        kubectl.stop()
        await ops.stop()
    return samples


def _lat(t: float | None, t0: float) -> float | None:
    return None if t is None else t - t0


def _figure(name: str, samples: list[dict], side: str, detail_extra: dict) -> dict:
    rows = [s for s in samples if side == "model" or s["visible"]]
    ours = [s[side] for s in rows if s[side] is not None]
    theirs = [s["kubectl"] for s in rows if s["kubectl"] is not None]
    ours_s, theirs_s = summary(ours, 1000), summary(theirs, 1000)
    by_op = {}
    for op in sorted({s["op"] for s in rows}):
        sel = [s for s in rows if s["op"] == op]
        by_op[op] = {"krkn_tui_ms": summary([s[side] for s in sel if s[side] is not None], 1000),
                     "kubectl_ms": summary([s["kubectl"] for s in sel if s["kubectl"] is not None], 1000)}
    missing = sum(1 for s in rows if s[side] is None or s["kubectl"] is None)
    detail = {"krkn_tui_ms": ours_s, "kubectl_ms": theirs_s, "by_op": by_op, "missing": missing, **detail_extra}
    value, base = ours_s.get("p95"), theirs_s.get("p95")
    rec = result(name, value, "ms p95", base, f"p95 <= kubectl p95 + {FRAME_MS:g} ms", None, detail)
    rec["ok"] = value is not None and base is not None and value <= base + FRAME_MS and missing == 0
    return rec


def run(env) -> list[dict]:
    cycles = 12 if env.quick else 75
    api = env.api_client()
    with env.namespace("pods") as ns, tempfile.TemporaryDirectory(prefix="bench-pods-") as tmp:
        wait_service_account(api, ns)
        samples = asyncio.run(_measure(env, ns, cycles, Path(tmp)))
    extra = {"cycles": cycles, "ops_per_cycle": "create, label patch, status patch, delete"}
    return [
        _figure("pod_event_latency_model", samples, "model", {**extra, "krkn_tui_side": "PodWatcher buffer"}),
        _figure("pod_event_latency_screen", samples, "screen",
                {**extra, "krkn_tui_side": "first headless frame showing the row change (label patch not visible)"}),
    ]
