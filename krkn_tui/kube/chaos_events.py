"""Each change a run makes and each rollback step it executes, recorded as a Kubernetes Event on
the object it touched, so `kubectl get events -n NS` shows what chaos did without the console.

Reasons: ``ChaosInjected`` (a plugin changed the object), ``ChaosRolledBack`` (a step undid a
change), ``RollbackFailed`` and ``RollbackRefused`` (it did not). ``source.component`` and
``reportingComponent`` are ``krkn-tui``; the message names the run, the scenario type and what
was done. Node and Namespace events go to ``default``, as the kubelet's do (a namespace being
deleted takes no new object).

Best effort: Events are written by one background thread, in order, each with a short timeout,
so a slow or refusing API server never delays a scenario or a rollback step; a failure is noted
once for the run (``take_note``) and never fails it.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any, Callable

from ..sanitize import one_line
from ..events import ClusterChange, Event, RollbackExecuted, RollbackFailed, RollbackRefused, RollbackRegistered

COMPONENT = "krkn-tui"
CLUSTER_SCOPED = {"Node": "default", "Namespace": "default"}  # where their Events live
API_VERSIONS = {"Pod": "v1", "Node": "v1", "Namespace": "v1", "Service": "v1", "ConfigMap": "v1", "Secret": "v1",
                "NetworkPolicy": "networking.k8s.io/v1", "Deployment": "apps/v1", "StatefulSet": "apps/v1",
                "DaemonSet": "apps/v1", "ReplicaSet": "apps/v1"}
REQUEST_TIMEOUT = 5.0
STEP_REASONS = {RollbackExecuted: ("ChaosRolledBack", "Normal"), RollbackFailed: ("RollbackFailed", "Warning"),
                RollbackRefused: ("RollbackRefused", "Warning")}


def _camel(word: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in word.split("_"))


def change_target(action: str, fields: dict) -> tuple[str, str | None, str] | None:
    """(kind, namespace, name) a plugin's audited change touched: ``fields["kind"]`` when given,
    else the action's object word (``cordon_node`` -> Node, ``create_network_policy`` ->
    NetworkPolicy); the name from ``name`` or the field named like the kind (``node``, ``pod``)."""
    kind = fields.get("kind") if isinstance(fields.get("kind"), str) else _camel(action.partition("_")[2])
    if not kind:
        return None
    namespace = fields.get("namespace") if isinstance(fields.get("namespace"), str) else None
    name = fields.get("name") or fields.get(kind.lower()) or (namespace if kind == "Namespace" else None)
    if not isinstance(name, str) or not name:
        return None
    return kind, (None if kind in CLUSTER_SCOPED else namespace), name


def event_body(*, kind: str, namespace: str | None, name: str, reason: str, type_: str, action: str, message: str,
               instance: str, now: float | None = None) -> dict:
    """A core/v1 Event on ``kind namespace/name`` (``kubectl get events`` and ``describe`` read it)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if now is None else now))
    where = namespace or CLUSTER_SCOPED.get(kind, "default")
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"generateName": f"{name[:200]}.", "namespace": where},
        "involvedObject": {"apiVersion": API_VERSIONS.get(kind, ""), "kind": kind, "name": name,
                           **({"namespace": namespace} if namespace else {})},
        "reason": reason, "type": type_, "action": action[:128], "message": message[:1024],
        "source": {"component": COMPONENT}, "reportingComponent": COMPONENT, "reportingInstance": instance[:128],
        "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
    }


class ChaosEventRecorder:
    """Turns a run's typed events into Kubernetes Events (see the module's policy)."""

    def __init__(self, api_client: Callable[[], Any], run_id: Callable[[], str], instance: str):
        self._api_client, self._run_id, self._instance = api_client, run_id, instance
        self._targets: dict[str, tuple[str, str | None, str, str]] = {}  # version file -> its object
        self._queue: queue.Queue[dict | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._note: str | None = None
        self._noted = False
        self.written = 0

    def observe(self, event: Event) -> None:
        body = self._body_for(event)
        if body is None:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._drain, name="kube-events", daemon=True)
            self._thread.start()
        self._queue.put(body)

    def _body_for(self, event: Event) -> dict | None:
        run = event.run_id or self._run_id()
        if isinstance(event, RollbackRegistered):
            if event.name:
                self._targets[event.file] = (event.kind, event.namespace, event.name, event.scenario_type)
            return None
        if isinstance(event, ClusterChange):
            target = change_target(event.action, dict(event.fields))
            if target is None:
                return None
            kind, namespace, name = target
            said = ", ".join(f"{k}={v}" for k, v in event.fields.items() if k not in ("namespace", "name", "kind"))
            return event_body(kind=kind, namespace=namespace, name=name, reason="ChaosInjected", type_="Warning",
                              action=event.action, instance=self._instance,
                              message=f"run {run} {event.scenario_type}: {event.action}" + (f" ({said})" if said else ""))
        reason = STEP_REASONS.get(type(event))
        if reason is None or event.file not in self._targets:
            return None
        kind, namespace, name, scenario_type = self._targets[event.file]
        step = event.file.rsplit("/", 1)[-1]
        error = getattr(event, "error", None)
        return event_body(kind=kind, namespace=namespace, name=name, reason=reason[0], type_=reason[1],
                          action="rollback", instance=self._instance,
                          message=f"run {run} {scenario_type}: rollback step {step} {type(event).STATUS}"
                                  + (f": {error}" if error else ""))

    def _drain(self) -> None:
        from kubernetes import client

        while True:
            body = self._queue.get()
            try:
                if body is None:
                    return
                client.CoreV1Api(self._api_client()).create_namespaced_event(
                    body["metadata"]["namespace"], body, _preload_content=False, _request_timeout=REQUEST_TIMEOUT)
                self.written += 1
            except Exception as exc:  # best effort: the run goes on, the reason is said once
                if self._note is None:
                    self._note = _reason(exc)
            finally:
                self._queue.task_done()

    def take_note(self) -> str | None:
        """The first failure's reason, once per run (None otherwise)."""
        if self._note is None or self._noted:
            return None
        self._noted = True
        return f"Kubernetes Events not recorded ({self._note}); the run goes on (said once)"

    def close(self, timeout: float = REQUEST_TIMEOUT) -> None:
        """Writes what is queued (at most ``timeout`` seconds more) and stops the thread."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)


def _reason(exc: Exception) -> str:
    status, body = getattr(exc, "status", None), getattr(exc, "body", None)
    if status:
        try:
            message = json.loads(body).get("message") if body else None
        except (ValueError, AttributeError):
            message = None
        return f"HTTP {status}" + (f": {one_line(message)[:200]}" if message else "")
    return f"{type(exc).__name__}: {one_line(exc)[:200]}"
