"""Pod disruption: kill pods chosen by namespace pattern and labels/name, then time their recovery.

Differences from krkn, on purpose:
- Pods matching `exclude_label` are removed before choosing, so `kill` pods really die (krkn
  counts excluded picks against `kill`).
- Recovery is tracked per killed pod: its replacement is the first pod of the same controller
  that appears after the deletion, and both times are measured from the deletion request:
  `rescheduling_seconds` (replacement created) and `readiness_seconds` (replacement Ready).
  krkn reports their sum. krkn's count poll (`timeout`, `duration` as its interval) is replaced
  by this, bounded by `krkn_pod_recovery_time`.
- `execution: serial` kills one pod and waits for its recovery before the next; `parallel`
  deletes all at once and then waits.

Pod kills cannot be undone (the controller recreates the pod, or nothing does), so this plugin
writes no rollback file.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import Outcome, ScenarioContext, ScenarioFailed, ScenarioPlugin, register
from .specs import check_selector, section_entries
from ..signals import quiet_thread


# ---- the scenario file: spec and parser ----------------------------------------------------

EXECUTION_MODES = ("serial", "parallel")


@dataclass(frozen=True, kw_only=True)
class PodDisruptionSpec:
    namespace_pattern: str  # regex on namespace names
    label_selector: str | None = None
    name_pattern: str | None = None  # regex on pod names
    id: str | None = None
    kill: int = 1
    krkn_pod_recovery_time: float = 120.0
    execution: str = "serial"
    timeout: float = 180.0
    duration: float = 0.0
    exclude_label: str | None = None
    node_label_selector: str | None = None
    node_names: tuple[str, ...] = ()
    force: bool = False  # grace period 0
    file: Path | None = None
    field: str = ""


_POD_KEYS = (
    "namespace_pattern", "label_selector", "name_pattern", "kill", "krkn_pod_recovery_time",
    "execution", "timeout", "duration", "exclude_label", "node_label_selector", "node_names", "force",
)


def parse_pod_disruption(data: Any, file: str | Path) -> list[PodDisruptionSpec]:
    specs = []
    for entry in section_entries(data, file, "", "pod disruption entries (- id: ..., config: ...)"):
        entry.reject_unknown(("id", "config"))
        ident = entry.string("id")
        cfg = entry.required_section("config")
        cfg.reject_unknown(_POD_KEYS)
        namespace_pattern = cfg.regex("namespace_pattern", required=True)
        label_selector = check_selector(cfg, "label_selector")
        name_pattern = cfg.regex("name_pattern")
        if label_selector is None and name_pattern is None:
            raise cfg.error(None, "needs label_selector or name_pattern to choose pods")
        specs.append(PodDisruptionSpec(
            id=ident,
            namespace_pattern=namespace_pattern,
            label_selector=label_selector,
            name_pattern=name_pattern,
            kill=cfg.integer("kill", 1, minimum=1),
            krkn_pod_recovery_time=cfg.number("krkn_pod_recovery_time", 120.0, above=0),
            execution=cfg.choice("execution", EXECUTION_MODES, "serial"),
            timeout=cfg.number("timeout", 180.0, above=0),
            duration=cfg.number("duration", 0.0, minimum=0),
            exclude_label=check_selector(cfg, "exclude_label"),
            node_label_selector=check_selector(cfg, "node_label_selector"),
            node_names=cfg.string_list("node_names"),
            force=cfg.boolean("force", False),
            file=Path(file),
            field=entry.path,
        ))
    return specs


# ---- running it ----------------------------------------------------------------------------

WATCH_SECONDS = 5  # server-side watch timeout: the longest a stopped watcher lingers


def _is_ready(pod: dict) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _owner_uids(pod: dict) -> frozenset[str]:
    refs = pod["metadata"].get("ownerReferences") or []
    controllers = [r["uid"] for r in refs if r.get("controller")]
    return frozenset(controllers or [r["uid"] for r in refs])


@dataclass
class SeenPod:
    """One pod as the tracker saw it; `seq` orders first sightings and deletions together."""

    uid: str
    name: str
    owners: frozenset[str]
    seq: int
    added_at: float  # monotonic time of the first event naming this pod
    node: str | None = None
    ready_at: float | None = None
    gone_seq: int | None = None  # when its deletion (deletionTimestamp or DELETED) was seen


class PodTracker:
    """Watches one namespace's pods from before the first kill, in the API server's event order.

    Watch events arrive in etcd revision order, and a controller only creates a replacement
    after it saw the deletion, so a pod first seen after the killed pod's deletion event was
    created after the deletion. That settles "new pod" without 1 s creationTimestamps.

    Raw JSON events, read here rather than through `kubernetes.watch`: with `timeout_seconds`
    that helper ends silently on 410 Gone, and a re-list is needed then.
    """

    def __init__(self, core, namespace: str):
        self.core = core
        self.namespace = namespace
        self._lock = threading.Lock()
        self._seq = 0
        self._pods: dict[str, SeenPod] = {}
        self._stopped = threading.Event()
        self._resp = None
        self._resource_version = self._relist()
        self._thread = threading.Thread(target=self._run, name=f"pod-tracker-{namespace}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Not joined: the thread ends at its next event or watch timeout."""
        self._stopped.set()
        resp = self._resp
        if resp is not None:
            try:
                resp.shutdown()  # unblocks the reading thread
            except Exception:
                pass

    def seen(self, pod) -> SeenPod:
        """The tracked record of a pod chosen from an earlier list (added if the list missed it)."""
        return self._observe(self.core.api_client.sanitize_for_serialization(pod), "SELECTED", time.monotonic())

    def replacement_for(self, killed: SeenPod, claimed: set[str]) -> SeenPod | None:
        with self._lock:
            if killed.gone_seq is None or not killed.owners:
                return None
            later = [p for p in self._pods.values()
                     if p.seq > killed.gone_seq and p.owners & killed.owners and p.uid not in claimed]
            return min(later, key=lambda p: p.seq, default=None)

    # -- watching -----------------------------------------------------------------------------

    def _observe(self, pod: dict, event_type: str, now: float) -> SeenPod:
        meta = pod["metadata"]
        with self._lock:
            seen = self._pods.get(meta["uid"])
            if seen is None:
                self._seq += 1
                seen = SeenPod(meta["uid"], meta["name"], _owner_uids(pod), self._seq, now)
                self._pods[seen.uid] = seen
            seen.node = (pod.get("spec") or {}).get("nodeName") or seen.node
            if seen.ready_at is None and _is_ready(pod):
                seen.ready_at = now
            if seen.gone_seq is None and (event_type == "DELETED" or meta.get("deletionTimestamp")):
                self._mark_gone(seen)
            return seen

    def _mark_gone(self, seen: SeenPod) -> None:
        self._seq += 1
        seen.gone_seq = self._seq

    def _relist(self) -> str:
        """Full list: at the start, and to resume after 410 Gone (times are then list times)."""
        resp = self.core.list_namespaced_pod(self.namespace, _preload_content=False)
        listing = json.loads(resp.data)
        now = time.monotonic()
        present = {self._observe(pod, "LISTED", now).uid for pod in listing.get("items") or []}
        with self._lock:
            for seen in self._pods.values():
                if seen.uid not in present and seen.gone_seq is None:
                    self._mark_gone(seen)
        return listing["metadata"]["resourceVersion"]

    def _run(self) -> None:
        from kubernetes.client import ApiException

        quiet_thread()

        delay = 0.2
        while not self._stopped.is_set():
            try:
                try:
                    self._watch_once()
                except ApiException as exc:
                    if exc.status != 410:
                        raise
                    self._resource_version = self._relist()
                delay = 0.2
            except Exception:  # connection trouble or a failed re-list: retry with backoff
                self._stopped.wait(delay)
                delay = min(delay * 2, 5.0)

    def _watch_once(self) -> None:
        from kubernetes.watch.watch import iter_resp_lines

        self._resp = self.core.list_namespaced_pod(
            self.namespace, watch=True, resource_version=self._resource_version,
            allow_watch_bookmarks=True, timeout_seconds=WATCH_SECONDS, _preload_content=False)
        try:
            for line in iter_resp_lines(self._resp):
                if self._stopped.is_set():
                    return
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") != 410:
                        raise RuntimeError(f"watch error: {obj.get('message')}")
                    self._resource_version = self._relist()
                    return
                if kind != "BOOKMARK":
                    self._observe(obj, kind, time.monotonic())
                self._resource_version = obj["metadata"]["resourceVersion"]
        finally:
            self._resp.release_conn()
            self._resp = None


# ---- selection ------------------------------------------------------------------------------


def matching_namespaces(core, pattern: str) -> list[str]:
    # re.match, as krkn does: krkn's files anchor with ^...$ and rely on prefix semantics
    # otherwise, so the same file must select the same namespaces here.
    regex = re.compile(pattern)
    return sorted(ns.metadata.name for ns in core.list_namespace().items
                  if regex.match(ns.metadata.name) and (ns.status is None or ns.status.phase != "Terminating"))


def _allowed_nodes(core, spec: PodDisruptionSpec) -> set[str] | None:
    """Node names pods must run on, or None when the spec does not restrict nodes."""
    allowed = None
    if spec.node_label_selector:
        allowed = {n.metadata.name for n in core.list_node(label_selector=spec.node_label_selector).items}
    if spec.node_names:
        names = set(spec.node_names)
        allowed = names if allowed is None else allowed & names
    return allowed


def select_pods(core, spec: PodDisruptionSpec, namespaces: list[str]) -> list:
    """Running, not terminating pods matching the spec, minus `exclude_label` matches."""
    nodes = _allowed_nodes(core, spec)
    name_re = re.compile(spec.name_pattern) if spec.name_pattern else None
    chosen = []
    for ns in namespaces:
        excluded = set()
        if spec.exclude_label:
            excluded = {p.metadata.uid for p in core.list_namespaced_pod(ns, label_selector=spec.exclude_label).items}
        pods = core.list_namespaced_pod(ns, label_selector=spec.label_selector or "",
                                        field_selector="status.phase=Running").items
        for pod in pods:
            if pod.metadata.deletion_timestamp or pod.metadata.uid in excluded:
                continue
            if name_re and not name_re.match(pod.metadata.name):
                continue
            if nodes is not None and pod.spec.node_name not in nodes:
                continue
            chosen.append(pod)
    return chosen


# ---- killing and recovery -------------------------------------------------------------------


@dataclass
class Kill:
    namespace: str
    seen: SeenPod
    tracker: PodTracker
    started: float = 0.0  # monotonic time of the deletion request: the origin of both times
    replacement: SeenPod | None = None

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.seen.name}"

    def recovered(self, claimed: set[str]) -> bool:
        """`claimed`: replacements already matched to other kills of this run."""
        if self.replacement is None:
            self.replacement = self.tracker.replacement_for(self.seen, claimed)
            if self.replacement is not None:
                claimed.add(self.replacement.uid)
        return self.replacement is not None and self.replacement.ready_at is not None

    def report(self) -> dict:
        rep = self.replacement
        if rep is None:
            return pod_entry(self.namespace, self.seen.name, self.seen.node)

        def since(t: float | None) -> float | None:
            return None if t is None else round(t - self.started, 3)

        return pod_entry(self.namespace, self.seen.name, self.seen.node, rep.name,
                         since(rep.added_at), since(rep.ready_at))


def pod_entry(namespace: str, name: str, node: str | None, replacement: str | None = None,
              rescheduling: float | None = None, readiness: float | None = None) -> dict:
    """One killed pod in Outcome.details["pods"]; both times count from the deletion request."""
    return {"namespace": namespace, "name": name, "node": node, "replacement": replacement,
            "rescheduling_seconds": rescheduling, "readiness_seconds": readiness}


def _delete(core, kill: Kill, force: bool, ctx: ScenarioContext) -> None:
    from kubernetes.client import ApiException

    kill.started = time.monotonic()
    try:
        core.delete_namespaced_pod(kill.seen.name, kill.namespace, grace_period_seconds=0 if force else None)
    except ApiException as exc:
        if exc.status == 404:
            raise ScenarioFailed(f"pod {kill.label} vanished before it could be deleted") from None
        raise
    ctx.audit("delete_pod", namespace=kill.namespace, name=kill.seen.name, force=force)


def _await_recovery(kills: list[Kill], ctx: ScenarioContext, timeout: float, claimed: set[str]) -> None:
    """Wait for every kill's replacement to be Ready; ScenarioFailed names those that are not."""
    waiting = [k for k in kills if k.seen.owners]

    def all_recovered() -> bool:
        # Earliest deletion first, so each kill is matched with the first pod created after it.
        order = sorted(waiting, key=lambda k: k.seen.gone_seq if k.seen.gone_seq is not None else 1 << 62)
        return all([k.recovered(claimed) for k in order])

    ctx.wait_until(all_recovered, timeout, interval=0.1)
    bad = []
    for k in kills:
        if not k.seen.owners:
            bad.append(f"{k.label} (no owning controller: nothing recreates it)")
        elif not k.recovered(claimed):
            what = "no replacement was created" if k.replacement is None else \
                f"replacement {k.replacement.name} was not Ready"
            bad.append(f"{k.label} ({what} within {timeout:g}s)")
    if bad:
        # Partial times go into the report too: they show how far recovery got.
        raise ScenarioFailed("pods did not recover: " + "; ".join(bad), {"pods": [k.report() for k in kills]})


@register
class PodDisruptionPlugin(ScenarioPlugin):
    scenario_type = "pod_disruption_scenarios"
    short_name = "pod disruption"
    parse_data = staticmethod(parse_pod_disruption)

    @staticmethod
    def describe(spec: PodDisruptionSpec) -> str:
        target = spec.label_selector or f"name~{spec.name_pattern}"
        return f"ns~{spec.namespace_pattern} {target} kill {spec.kill}, recover ≤{spec.krkn_pod_recovery_time:g}s"

    def run(self, spec: PodDisruptionSpec, ctx: ScenarioContext) -> Outcome:
        from kubernetes import client

        core = client.CoreV1Api(ctx.api_client)
        _namespaces, candidates = self._candidates(core, spec, ctx)
        victims = random.SystemRandom().sample(candidates, spec.kill)
        names = ", ".join(f"{p.metadata.namespace}/{p.metadata.name}" for p in victims)
        ctx.log(f"{len(candidates)} candidate pods; chosen: {names}", 0.05)
        if ctx.dry_run:
            pods = [pod_entry(p.metadata.namespace, p.metadata.name, p.spec.node_name) for p in victims]
            return Outcome("passed", f"dry run: would delete {names}", {"pods": pods, "dry_run": True})
        kills = self._kill(core, spec, ctx, victims)
        return Outcome("passed", f"{len(kills)} pods killed and recovered",
                       {"pods": [k.report() for k in kills]})

    def preview(self, spec: PodDisruptionSpec, ctx: ScenarioContext) -> list:
        from kubernetes import client

        from .preview import targets

        namespaces, candidates = self._candidates(client.CoreV1Api(ctx.api_client), spec, ctx)
        return [targets("namespaces", namespaces, "searched", namespaces),
                targets("pods", [f"{p.metadata.namespace}/{p.metadata.name}" for p in candidates],
                        f"{spec.kill} deleted ({spec.execution}, picked at random)",
                        [p.metadata.namespace for p in candidates])]

    @staticmethod
    def _candidates(core, spec: PodDisruptionSpec, ctx: ScenarioContext) -> tuple[list[str], list]:
        """Matching namespaces and candidate pods; ScenarioFailed when fewer than `kill`."""
        namespaces = matching_namespaces(core, spec.namespace_pattern)
        if not namespaces:
            raise ScenarioFailed(f"no namespace matches {spec.namespace_pattern!r}")
        for ns in namespaces:
            ctx.guard_namespace(ns)
        candidates = select_pods(core, spec, namespaces)
        if len(candidates) < spec.kill:
            what = f"label selector {spec.label_selector!r}" if spec.label_selector else \
                f"name pattern {spec.name_pattern!r}" if spec.name_pattern else "the selection"
            raise ScenarioFailed(f"kill {spec.kill} pods, but only {len(candidates)} match {what} "
                                 f"(running, in {', '.join(namespaces)})")
        return namespaces, candidates

    def _kill(self, core, spec: PodDisruptionSpec, ctx: ScenarioContext, victims: list) -> list[Kill]:
        trackers: dict[str, PodTracker] = {}
        try:
            for ns in sorted({p.metadata.namespace for p in victims}):
                trackers[ns] = PodTracker(core, ns)  # started before any deletion
            claimed: set[str] = set()
            kills = [Kill(p.metadata.namespace, trackers[p.metadata.namespace].seen(p),
                          trackers[p.metadata.namespace]) for p in victims]
            if spec.execution == "parallel":
                ctx.check_stop()
                with ThreadPoolExecutor(max_workers=min(len(kills), 16), initializer=quiet_thread) as pool:
                    list(pool.map(lambda k: _delete(core, k, spec.force, ctx), kills))
                ctx.log(f"deleted {len(kills)} pods; waiting for replacements", 0.5)
                _await_recovery(kills, ctx, spec.krkn_pod_recovery_time, claimed)
            else:
                for i, kill in enumerate(kills):
                    ctx.check_stop()
                    _delete(core, kill, spec.force, ctx)
                    ctx.log(f"deleted {kill.label}; waiting for its replacement", (i + 0.5) / len(kills))
                    _await_recovery([kill], ctx, spec.krkn_pod_recovery_time, claimed)
            for kill in kills:
                r = kill.report()
                ctx.log(f"{kill.label} replaced by {r['replacement']}: created after "
                        f"{r['rescheduling_seconds']}s, Ready after {r['readiness_seconds']}s", 1.0)
            return kills
        finally:
            for tracker in trackers.values():
                tracker.stop()
