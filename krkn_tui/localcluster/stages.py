"""kwok stages that make the demo workload behave like a real one.

kwok's fast stages turn a pod Ready the instant it is scheduled, so a demo's recovery times mean
nothing. Pods that carry the label ``PROFILE_LABEL`` take a slower path instead:

- ``realistic``: the container is created at once, then the pod turns Ready after a random 1-5 s
  (delay 1 s, jitter up to 5 s: what kwok's own general pod-ready stage does);
- ``flaky``: the same, but about one replacement in three crash-loops (not Ready) for 10-30 s first.

Pods without the label (every test's pods, and the demo workload with profile ``fast``) keep
kwok's fast stages, so tests that share the local cluster are not slowed down: the profile is
chosen per pod, not per cluster.
"""

from __future__ import annotations

import yaml

PROFILE_LABEL = "krkn-tui/kwok-profile"
PROFILES = ("fast", "realistic", "flaky")
SLOW_PROFILES = ("realistic", "flaky")

_LABEL_KEY = f'.metadata.labels["{PROFILE_LABEL}"]'
_NOT_DELETED = {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"}
_WAITING_REASON = ".status.containerStatuses.[].state.waiting.reason"


def _profile(*values: str) -> dict:
    return {"key": _LABEL_KEY, "operator": "In", "values": list(values)}


def _status(phase: str, ready: bool, container_state: str, restarts: int = 0) -> str:
    """A status template: Initialized, Ready/ContainersReady as given, one status per container."""
    flag = '"True"' if ready else '"False"'
    return f"""\
{{{{ $now := Now }}}}
conditions:
- lastTransitionTime: {{{{ $now | Quote }}}}
  status: "True"
  type: Initialized
- lastTransitionTime: {{{{ $now | Quote }}}}
  status: {flag}
  type: Ready
- lastTransitionTime: {{{{ $now | Quote }}}}
  status: {flag}
  type: ContainersReady
containerStatuses:
{{{{ range .spec.containers }}}}
- image: {{{{ .image | Quote }}}}
  name: {{{{ .name | Quote }}}}
  ready: {str(ready).lower()}
  started: {str(ready).lower()}
  restartCount: {restarts}
  state:
{container_state}
{{{{ end }}}}
hostIP: {{{{ NodeIPWith .spec.nodeName | Quote }}}}
podIP: {{{{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}}}
phase: {phase}
startTime: {{{{ $now | Quote }}}}
"""


_CREATING = "    waiting:\n      reason: ContainerCreating"
_CRASHING = "    waiting:\n      reason: CrashLoopBackOff\n      message: back-off restarting failed container"
_RUNNING = "    running:\n      startedAt: {{ $now | Quote }}"


def _stage(name: str, match: list[dict], status: str, *, weight: int = 1,
           delay_ms: int = 0, jitter_ms: int = 0) -> dict:
    spec: dict = {
        "resourceRef": {"apiGroup": "v1", "kind": "Pod"},
        "selector": {"matchExpressions": [_NOT_DELETED, *match]},
        "weight": weight,
        "next": {"statusTemplate": status},
    }
    if delay_ms or jitter_ms:
        # kwok waits `delay`, or a random time between `delay` and `jitter` when jitter is set.
        spec["delay"] = {"durationMilliseconds": delay_ms, "jitterDurationMilliseconds": jitter_ms}
    return {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Stage", "metadata": {"name": name}, "spec": spec}


def demo_stages() -> list[dict]:
    waiting = lambda reason: {"key": _WAITING_REASON, "operator": "In", "values": [reason]}  # noqa: E731
    return [
        _stage("krkn-demo-pod-create", [_profile(*SLOW_PROFILES), {"key": ".status.podIP", "operator": "DoesNotExist"}],
               _status("Pending", False, _CREATING)),
        # When both match (profile flaky) kwok picks one by weight: one pod in three crash-loops.
        _stage("krkn-demo-pod-ready", [_profile(*SLOW_PROFILES), waiting("ContainerCreating")],
               _status("Running", True, _RUNNING), weight=2, delay_ms=1000, jitter_ms=5000),
        _stage("krkn-demo-pod-crash", [_profile("flaky"), waiting("ContainerCreating")],
               _status("Running", False, _CRASHING, restarts=1), weight=1, delay_ms=1000, jitter_ms=3000),
        _stage("krkn-demo-pod-recover", [_profile("flaky"), waiting("CrashLoopBackOff")],
               _status("Running", True, _RUNNING, restarts=1), delay_ms=10000, jitter_ms=30000),
    ]


def kwok_stages(base_text: str) -> str:
    """kwok's stages from the build (``base_text``) with the fast pod-ready stage kept off the
    profiled pods, followed by the demo stages."""
    docs = [d for d in yaml.safe_load_all(base_text) if d]
    for doc in docs:
        if doc.get("kind") == "Stage" and doc["metadata"]["name"] == "pod-ready":
            selector = doc["spec"].setdefault("selector", {})
            selector.setdefault("matchExpressions", []).append({"key": _LABEL_KEY, "operator": "DoesNotExist"})
    return yaml.safe_dump_all([*docs, *demo_stages()], sort_keys=False, explicit_start=True)
