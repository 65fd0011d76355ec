"""PVC scenarios: fill a PersistentVolumeClaim to a percentage from inside the pod that mounts it,
hold, then remove the fill file, as krkn does (fallocate, else dd, by exec in the container).

krkn's `pvc_scenario` fields are read as krkn reads them: `pvc_name` wins over `pod_name` (one
running pod mounting the claim is picked at random), `fill_percentage` must lie above the
volume's current use and at most 99, usage is `df` in 1 KiB blocks with capacity = used +
available, `block_size` is dd's block size when the container has no fallocate.

Differences from krkn, on purpose:
- The rollback step (remove the file, recorded with pod, container, path, size and claim) is
  written before the file is created; krkn registers it after. So a runner killed mid-fill or
  mid-hold is undone by `execute-rollback`. When the recorded pod is gone, the undo removes the
  file through another running pod mounting the same claim (the file lives on the volume).
- The file is `krkn-tui-fill-<run>.tmp`, not krkn's `kraken.tmp`, and the run refuses when it
  already exists: the undo must remove only what this run made.
- Commands run as argument lists, not through a shell (a mount path cannot inject anything);
  dd writes without `oflag=direct`, which tmpfs and some volumes refuse.
- Bad input (a fill outside 0-99, a placeholder name) is one line at load time; a claim no
  running pod mounts fails the scenario before any change.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import Outcome, ScenarioContext, ScenarioFailed, ScenarioPlugin, register
from .pod_pick import ClaimMount, claim_mount, pod_with_claim
from .specs import check_namespace
from ..rollback import RollbackContent
from ..yamlio import Section

_DNS_SUBDOMAIN_RE = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\Z")


@dataclass(frozen=True, kw_only=True)
class PvcSpec:
    namespace: str
    pvc_name: str | None = None
    pod_name: str | None = None
    fill_percentage: float = 50.0
    duration: float = 60.0
    block_size: int = 102400
    file: Path | None = None
    field: str = "pvc_scenario"

    @property
    def id(self) -> str:
        return self.pvc_name or self.pod_name or "pvc"


def _object_name(sec: Section, key: str) -> str | None:
    value = sec.string(key)
    if value is not None and not _DNS_SUBDOMAIN_RE.match(value):
        raise sec.error(key, f"not a valid object name: {value!r}")
    return value


def parse_pvc(data: Any, file: str | Path) -> list[PvcSpec]:
    top = Section(data, file, what="a mapping with pvc_scenario")
    top.reject_unknown(("pvc_scenario",))
    sec = top.required_section("pvc_scenario")
    sec.reject_unknown(("pvc_name", "pod_name", "namespace", "fill_percentage", "duration", "block_size"))
    namespace = check_namespace(sec, "namespace")
    pvc_name, pod_name = _object_name(sec, "pvc_name"), _object_name(sec, "pod_name")
    if pvc_name is None and pod_name is None:
        raise sec.error(None, "needs pvc_name or pod_name (krkn's rule)")
    return [PvcSpec(
        namespace=namespace, pvc_name=pvc_name, pod_name=None if pvc_name else pod_name,
        fill_percentage=sec.number("fill_percentage", 50.0, above=0, maximum=99),
        duration=sec.number("duration", 60.0, minimum=0),
        block_size=sec.integer("block_size", 102400, minimum=1024),
        file=Path(file), field=sec.path)]


# ---- the undo, written into the version file -----------------------------------------------


def remove_fill_file(content, api_client):
    """Rollback: remove the fill file by exec in the recorded pod's container, or, when that pod
    is gone, in another running pod mounting the same claim; a file already gone is done.
    It carries its own exec (not kube/podexec.py): a version file imports nothing of krkn-tui."""
    import posixpath

    import yaml
    from kubernetes import client
    from kubernetes.stream import stream

    data = content.data
    core = client.CoreV1Api(api_client)

    def run(pod, container, argv):
        resp = stream(core.connect_get_namespaced_pod_exec, pod, content.namespace, container=container,
                      command=argv, stdin=False, stdout=True, stderr=True, tty=False, _preload_content=False)
        try:
            resp.run_forever(timeout=60)
            err = resp.read_stderr() or resp.read_stdout() or ""
            status = yaml.safe_load(resp.read_channel(3) or "null")
        finally:
            resp.close()
        if not (isinstance(status, dict) and status.get("status") == "Success"):
            raise RuntimeError(f"{' '.join(argv)} in {content.namespace}/{pod}/{container}: "
                               f"{' '.join(err.split()) or status}")

    def mounting_pods():
        for pod in core.list_namespaced_pod(content.namespace, field_selector="status.phase=Running").items:
            volumes = [v.name for v in pod.spec.volumes or []
                       if v.persistent_volume_claim and v.persistent_volume_claim.claim_name == data["pvc"]]
            for c in pod.spec.containers:
                for m in c.volume_mounts or []:
                    if m.name in volumes and not m.read_only:
                        yield pod.metadata.name, c.name, posixpath.join(m.mount_path, posixpath.basename(data["path"]))

    try:
        core.read_namespaced_pod(data["pod"], content.namespace)
        where = (data["pod"], data["container"], data["path"])
    except client.ApiException as exc:
        if exc.status != 404:
            raise
        where = next(mounting_pods(), None)
        if where is None:
            raise RuntimeError(f"pod {data['pod']} is gone and no running pod mounts PVC {data['pvc']}: "
                               f"{data['path']} ({data['size_kb']} KiB) is still on the volume") from None
    run(where[0], where[1], ["rm", "-f", "--", where[2]])


# ---- running it ----------------------------------------------------------------------------


Mount = ClaimMount


def find_mount(core, spec: PvcSpec) -> Mount:
    pod = pod_with_claim(core, spec.namespace, spec.pvc_name, spec.pod_name, writable=True)
    mount = claim_mount(pod, spec.pvc_name, writable=True)
    if mount is None:
        raise ScenarioFailed(f"pod {spec.namespace}/{spec.pod_name} does not mount a PVC")
    return mount


def _exec(ctx: ScenarioContext, spec: PvcSpec, m: Mount, argv: list[str]):
    from ..kube.podexec import exec_in_pod

    return exec_in_pod(ctx.api_client, spec.namespace, m.pod, m.container, argv)


def usage_kb(ctx: ScenarioContext, spec: PvcSpec, m: Mount) -> tuple[int, int]:
    """(used, capacity) in KiB from `df -k` in the container; capacity = used + available, as krkn."""
    r = _exec(ctx, spec, m, ["df", "-k", m.path])
    lines = r.stdout.strip().splitlines()
    fields = " ".join(lines[1:]).split() if r.ok and len(lines) >= 2 else []
    try:
        used, avail = int(fields[-4]), int(fields[-3])
    except (IndexError, ValueError):
        raise ScenarioFailed(f"df -k {m.path} in {spec.namespace}/{m.pod}/{m.container}: "
                             f"{r.why() if not r.ok else 'unreadable output'}") from None
    return used, used + avail


def _percent(used: int, capacity: int) -> float:
    return round(100.0 * used / capacity, 2) if capacity else 0.0


@register
class PvcPlugin(ScenarioPlugin):
    scenario_type = "pvc_scenarios"
    short_name = "pvc fill"
    undo_functions = (remove_fill_file,)
    undo_needs_exec = (remove_fill_file,)  # removes the file from inside the pod
    parse_data = staticmethod(parse_pvc)

    @staticmethod
    def describe(spec: PvcSpec) -> str:
        target = f"PVC {spec.pvc_name}" if spec.pvc_name else f"the PVC of pod {spec.pod_name}"
        return f"fill {target} (ns {spec.namespace}) to {spec.fill_percentage:g}% for {spec.duration:g}s"

    def preview(self, spec: PvcSpec, ctx: ScenarioContext) -> list:
        from kubernetes import client

        from .preview import targets

        ctx.guard_namespace(spec.namespace)
        m = find_mount(client.CoreV1Api(ctx.api_client), spec)
        return [targets("PVCs", [f"{spec.namespace}/{m.pvc}"],
                        f"filled to {spec.fill_percentage:g}% for {spec.duration:g}s, then the file removed"),
                targets("pods", [f"{spec.namespace}/{m.pod}"], f"exec in {m.container} at {m.path}", [spec.namespace])]

    def run(self, spec: PvcSpec, ctx: ScenarioContext) -> Outcome:
        from kubernetes import client

        ctx.guard_namespace(spec.namespace)
        m = find_mount(client.CoreV1Api(ctx.api_client), spec)
        used, capacity = usage_kb(ctx, spec, m)
        before = _percent(used, capacity)
        if not before < spec.fill_percentage:
            raise ScenarioFailed(f"fill_percentage {spec.fill_percentage:g}% is not above PVC {m.pvc}'s "
                                 f"current use ({before:g}%)")
        size_kb = int(spec.fill_percentage / 100 * capacity - used)
        path = posixpath.join(m.path, f"krkn-tui-fill-{ctx.rollback.run_uuid[:8] if ctx.rollback else 'dry'}.tmp")
        details = {"namespace": spec.namespace, "pvc": m.pvc, "pod": m.pod, "container": m.container,
                   "path": path, "size_kb": size_kb, "capacity_kb": capacity, "percent_before": before}
        ctx.log(f"PVC {m.pvc} at {before:g}% of {capacity} KiB; filling {path} in {m.pod}/{m.container} "
                f"with {size_kb} KiB", 0.05)
        if ctx.dry_run:
            return Outcome("passed", f"dry run: would fill PVC {m.pvc} to {spec.fill_percentage:g}%",
                           {**details, "dry_run": True})
        if _exec(ctx, spec, m, ["test", "-e", path]).ok:
            raise ScenarioFailed(f"{path} already exists in {m.pod}: refusing to fill over a file this run did not make")
        fill = self._fill_command(ctx, spec, m, path, size_kb)
        version = ctx.set_rollback_callable(
            remove_fill_file,
            RollbackContent(resource_identifier=m.pod, namespace=spec.namespace,
                            data={"pod": m.pod, "container": m.container, "path": path, "size_kb": size_kb,
                                  "pvc": m.pvc}),
            verb="remove", kind="fill file")
        result = _exec(ctx, spec, m, fill)
        ctx.audit("fill_pvc", namespace=spec.namespace, pvc=m.pvc, pod=m.pod, container=m.container, path=path,
                  size_kb=size_kb, exit_code=result.code)
        if not result.ok:
            raise ScenarioFailed(f"{fill[0]} in {m.pod}/{m.container}: {result.why()}", details)
        details["percent_during"] = _percent(*usage_kb(ctx, spec, m))
        ctx.log(f"PVC {m.pvc} at {details['percent_during']:g}%; holding {spec.duration:g}s", 0.2)
        ctx.sleep(spec.duration)
        ctx.restore(version)
        details["percent_after"] = _percent(*usage_kb(ctx, spec, m))
        return Outcome("passed", f"filled PVC {m.pvc} to {details['percent_during']:g}% for {spec.duration:g}s",
                       details)

    @staticmethod
    def _fill_command(ctx: ScenarioContext, spec: PvcSpec, m: Mount, path: str, size_kb: int) -> list[str]:
        """fallocate when the container has it, else dd (krkn's order)."""
        if _exec(ctx, spec, m, ["sh", "-c", "command -v fallocate"]).ok:
            return ["fallocate", "-l", str(size_kb * 1024), path]
        if _exec(ctx, spec, m, ["sh", "-c", "command -v dd"]).ok:
            blocks = max(1, size_kb // (spec.block_size // 1024))
            return ["dd", "if=/dev/urandom", f"of={path}", f"bs={spec.block_size}", f"count={blocks}"]
        raise ScenarioFailed(f"neither fallocate nor dd in {m.pod}/{m.container}")
