"""storage_throttle_scenarios: limit the I/O of a pod's volume for `duration`, as krkn's
storage_throttle does: the volume's block device (major:minor from the container's mountinfo) gets
blkio limits (cgroup v1 `blkio.throttle.{read,write}_{bps,iops}_device`; v2 `io.max`) in the
target container's cgroup, written by a privileged pod of krkn's helper image
(`quay.io/krkn-chaos/krkn:tools`, krkn-lib's io-throttle pod: `nodeName`, the node's / at /host).

krkn's scenario file is read as krkn reads it (`storage_throttle_scenario`: `pvc_name` wins over
`pod_name`, a running pod mounting the claim picked at random; the first PVC mount, or the one at
`mount_path`; `throttle_type` iops, bandwidth or both; byte values with Ki/Mi/Gi or K/M/G;
durations with s/m/h).

Differences from krkn, on purpose:
- The limits the container's cgroup holds for the device are recorded in the version file,
  exactly as found, before the write; the undo writes them back (in v1 `<dev> 0` where there was
  none, which removes the device's line; in v2 the found `io.max` line, or `max`) and checks the
  file reads as found. krkn resets to 0 / max, dropping a limit set before its run. The helper
  pod has its own version file, written before it is created (krkn registers after), so a runner
  killed mid-run is undone by `execute-rollback`: limits first, then the pod.
- The helper pod's command is a TERM trap that writes the recorded limits back (trap_undo.py;
  krkn's pod sleeps): the guard, which has no pods/exec, undoes a killed run by deleting the pod.
- The container's cgroup is found by its full ID (krkn: the first 12 characters), and exactly one
  must match.
- A volume with no block device (major 0: tmpfs, overlay, NFS) is refused before any change:
  blkio limits would have nothing to act on (krkn writes them anyway). On the local cluster's
  real node a device that is not a loop device is refused too: the node's volumes live on its
  own loop device (localcluster/blockvol.py), and the machine's disks get no limit.
- The helper pod's shell writes /host/sys/fs/cgroup/... with the values as arguments (krkn:
  `chroot /host bash -c "echo '<value>' > <path>"`, the values spliced into the command).
- Bad input (a placeholder name, an unknown throttle_type, a value not above 0, a mount_path with
  `..`) is one line at load time, naming the field.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..rollback import RollbackContent
from ..statuses import ScenarioStatus
from ..yamlio import Section, describe
from .base import Outcome, ScenarioContext, ScenarioFailed, ScenarioPlugin, register, target_namespace
from .krkn_pods import LOCAL_NODE_LABEL, START_TIMEOUT, delete_hog_pod, wait_gone
from .pod_pick import claim_mount, pod_with_claim
# The helper pod's undo is the hog pod's: delete it at once, already gone counts as done.
from .specs import check_namespace
from .trap_undo import HOLD_GRACE, POD, add_argv, hold_command, stop_chaos_pod, throttle_script

DEFAULT_IMAGE = "quay.io/krkn-chaos/krkn:tools"
THROTTLE_TYPES = ("iops", "bandwidth", "both")
V1_FILES = {"read_bps": "blkio.throttle.read_bps_device", "write_bps": "blkio.throttle.write_bps_device",
            "read_iops": "blkio.throttle.read_iops_device", "write_iops": "blkio.throttle.write_iops_device"}
V2_KEYS = {"read_bps": "rbps", "write_bps": "wbps", "read_iops": "riops", "write_iops": "wiops"}
LOOP_MAJOR = 7  # Linux's fixed major number of loop devices
CONTAINER = "io-throttle"
_KEYS = ("pvc_name", "pod_name", "namespace", "mount_path", "throttle_type", "read_iops", "write_iops",
         "read_bps", "write_bps", "duration", "image")
_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\Z")
_PATH_RE = re.compile(r"/[a-zA-Z0-9._/-]+\Z")  # krkn's validate_mount_path (and no "..")
_IMAGE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]*\Z")
_BYTES_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|K|M|G)?\s*\Z")
_DURATION_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*\Z")
_BYTE_UNITS = {"Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "K": 1000, "M": 1000 ** 2, "G": 1000 ** 3}
_SECONDS = {"s": 1, "m": 60, "h": 3600}
MAJ_MIN_RE = re.compile(r"[0-9]+:[0-9]+\Z")
CGROUP_PATH_RE = re.compile(r"/[a-zA-Z0-9._/-]+\Z")


@dataclass(frozen=True, kw_only=True)
class ThrottleSpec:
    namespace: str
    pvc_name: str | None = None
    pod_name: str | None = None
    mount_path: str | None = None
    throttle_type: str = "bandwidth"
    read_iops: int = 100
    write_iops: int = 50
    read_bps: int = 1048576
    write_bps: int = 524288
    duration: int = 60
    image: str = DEFAULT_IMAGE
    file: Path | None = None
    field: str = "storage_throttle_scenario"

    @property
    def id(self) -> str:
        return self.pvc_name or self.pod_name or "storage-throttle"

    def limits(self) -> dict[str, int]:
        """The limits to set, by krkn's names, in krkn's order (iops, then bandwidth)."""
        out: dict[str, int] = {}
        if self.throttle_type in ("iops", "both"):
            out.update(read_iops=self.read_iops, write_iops=self.write_iops)
        if self.throttle_type in ("bandwidth", "both"):
            out.update(read_bps=self.read_bps, write_bps=self.write_bps)
        return out


def _scaled(sec: Section, key: str, default: int, pattern: re.Pattern, units: dict[str, int], form: str) -> int:
    """krkn's parse_byte_value / parse_duration_value; the result must be above 0 (krkn's check)."""
    value = sec.raw(key, blank_is_absent=False)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise sec.error(key, f"expected {form}, got {describe(value)}")
    if isinstance(value, str):
        m = pattern.match(value)
        if not m:
            raise sec.error(key, f"expected {form}, got {value!r}")
        value = float(m.group(1)) * (units[m.group(2)] if m.group(2) else 1)
    if not value == value or int(value) <= 0:  # NaN, or 0 once truncated as krkn does
        raise sec.error(key, f"must be a positive value, got {describe(value)}")
    return int(value)


def _count(sec: Section, key: str, default: int) -> int:
    """krkn's int(): an integer, or a string of digits."""
    value = sec.raw(key, blank_is_absent=False)
    if value is None:
        return default
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise sec.error(key, f"expected an integer, got {describe(value)}")
    if value <= 0:
        raise sec.error(key, f"must be a positive value, got {value}")
    return value


def _name(sec: Section, key: str) -> str | None:
    value = sec.string(key)
    if value is not None and not _NAME_RE.match(value):
        raise sec.error(key, f"not a valid object name: {value!r}")
    return value


def parse_storage_throttle(data: Any, file: str | Path) -> list[ThrottleSpec]:
    top = Section(data, file, what="a mapping with storage_throttle_scenario")
    top.reject_unknown(("storage_throttle_scenario",))
    sec = top.required_section("storage_throttle_scenario")
    sec.reject_unknown(_KEYS)
    namespace = check_namespace(sec, "namespace")
    pvc_name, pod_name = _name(sec, "pvc_name"), _name(sec, "pod_name")
    if pvc_name is None and pod_name is None:
        raise sec.error(None, "needs pvc_name or pod_name (krkn's rule)")
    mount_path = sec.string("mount_path")
    if mount_path is not None and (".." in mount_path or not _PATH_RE.match(mount_path)):
        raise sec.error("mount_path", f"expected an absolute path of letters, digits and ._/- without '..', "
                                      f"got {mount_path!r}")
    image = sec.string("image", DEFAULT_IMAGE)
    if not _IMAGE_RE.match(image):
        raise sec.error("image", f"not an image reference: {image!r}")
    byte_form = "a number of bytes, optionally followed by Ki, Mi, Gi, K, M or G"
    return [ThrottleSpec(
        namespace=namespace, pvc_name=pvc_name, pod_name=None if pvc_name else pod_name, mount_path=mount_path,
        throttle_type=sec.choice("throttle_type", THROTTLE_TYPES, "bandwidth"),
        read_iops=_count(sec, "read_iops", 100), write_iops=_count(sec, "write_iops", 50),
        read_bps=_scaled(sec, "read_bps", 1048576, _BYTES_RE, _BYTE_UNITS, byte_form),
        write_bps=_scaled(sec, "write_bps", 524288, _BYTES_RE, _BYTE_UNITS, byte_form),
        duration=_scaled(sec, "duration", 60, _DURATION_RE, _SECONDS,
                         "a number of seconds, optionally followed by s, m or h"),
        image=image, file=Path(file), field=sec.path)]


def value_line(version: str, maj_min: str, name: str, value: int) -> str:
    """What is written for one limit: v1 `<dev> <value>` in its own file, v2 `<dev> <key>=<value>`."""
    return f"{maj_min} {value}" if version == "v1" else f"{maj_min} {V2_KEYS[name]}={value}"


def cgroup_file(version: str, name: str) -> str:
    return V1_FILES[name] if version == "v1" else "io.max"


def device_line(text: str, maj_min: str) -> str:
    """The line of a blkio/io.max file for the device, exactly as found; "" when it has none."""
    return next((line for line in text.splitlines() if line.split(" ", 1)[0] == maj_min), "")


# ---- the undo, written into the version file -----------------------------------------------


def restore_io_limits(content, api_client):
    """Rollback: write back the limits the target container's cgroup held for the device before
    the run, exactly as recorded (v1: `<dev> 0` where it had none; v2: its io.max line, or
    `max`), by exec in the helper pod, and check each file reads as found. A cgroup gone (its
    container ended) took its limits with it: done. Once done, its copy in the helper pod's own
    undo list (`hold`, trap_undo.py) goes. It carries its own exec: a version file imports
    nothing of krkn-tui."""
    import re

    import yaml
    from kubernetes import client
    from kubernetes.stream import stream

    data = content.data
    core = client.CoreV1Api(api_client)
    mm, version, path = str(data["maj_min"]), data["cgroup_version"], str(data["cgroup_path"])
    if not re.fullmatch(r"[0-9]+:[0-9]+", mm) or version not in ("v1", "v2") or ".." in path or \
            not re.fullmatch(r"/[a-zA-Z0-9._/-]+", path):
        raise RuntimeError(f"refusing a recorded cgroup or device: {version} {path!r} {mm!r}")
    files = {"blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device", "blkio.throttle.read_iops_device",
             "blkio.throttle.write_iops_device"} if version == "v1" else {"io.max"}
    found = data["found"]
    if not set(found) <= files or any(line and line.split(" ", 1)[0] != mm for line in found.values()):
        raise RuntimeError(f"refusing recorded limits that are not for device {mm}: {found}")
    base = f"/host/sys/fs/cgroup{'/blkio' if version == 'v1' else ''}{path}"

    def run(argv):
        resp = stream(core.connect_get_namespaced_pod_exec, data["pod"], content.namespace,
                      container=data["container"], command=argv, stdin=False, stdout=True, stderr=True,
                      tty=False, _preload_content=False)
        try:
            resp.run_forever(timeout=60)
            out, err = resp.read_stdout() or "", resp.read_stderr() or ""
            status = yaml.safe_load(resp.read_channel(3) or "null")
        finally:
            resp.close()
        ok = isinstance(status, dict) and status.get("status") == "Success"
        return ok, out, " ".join((err or out).split()) or str(status)

    try:
        core.read_namespaced_pod(data["pod"], content.namespace)
    except client.ApiException as exc:
        if exc.status == 404:
            raise RuntimeError(f"helper pod {content.namespace}/{data['pod']} is gone: the limits on device {mm} "
                               f"may still be in place in {path} on node {data['node']}") from None
        raise
    hold = str(data.get("hold"))
    if not run(["test", "-d", base])[0]:
        if re.fullmatch(r"[0-9]{4}", hold):
            run(["rm", "-f", f"/tmp/krkn-tui-undo/{hold}"])
        return  # the container's cgroup is gone, and its limits with it
    for name, line in sorted(found.items()):
        write = line or (f"{mm} 0" if version == "v1" else f"{mm} rbps=max wbps=max riops=max wiops=max")
        ok, _, why = run(["sh", "-c", 'printf "%s\\n" "$1" > "$2"', "sh", write, f"{base}/{name}"])
        if not ok:
            raise RuntimeError(f"writing {write!r} to {path}/{name} on node {data['node']}: {why}")
        ok, out, why = run(["cat", f"{base}/{name}"])
        now = next((x for x in out.splitlines() if x.split(" ", 1)[0] == mm), "")
        if not ok or now != line:  # v1 drops a device's line at 0, v2 at max everywhere
            raise RuntimeError(f"{path}/{name} on node {data['node']} reads {now!r} for device {mm}, "
                               f"not {line!r} as before the run")
    if re.fullmatch(r"[0-9]{4}", hold):  # the helper pod's own copy of this undo: done, so its trap skips it
        run(["rm", "-f", f"/tmp/krkn-tui-undo/{hold}"])


def written_back(version: str, mm: str) -> str:
    """What undoes a limit where the device had none: v1 `<dev> 0` (drops its line), v2 every key
    `max` (restore_io_limits spells it out itself: a version file imports nothing)."""
    return f"{mm} 0" if version == "v1" else f"{mm} rbps=max wbps=max riops=max wiops=max"


# ---- running it ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    pod: str
    uid: str
    container: str
    container_id: str
    pvc: str
    volume: str
    path: str  # the mount path in the container
    node: str


def find_target(core, spec: ThrottleSpec) -> Target:
    pod = pod_with_claim(core, spec.namespace, spec.pvc_name, spec.pod_name)
    name = pod.metadata.name
    found = claim_mount(pod, spec.pvc_name, mount_path=spec.mount_path)
    if found is None:
        at = f" at {spec.mount_path}" if spec.mount_path else ""
        raise ScenarioFailed(f"pod {spec.namespace}/{name} has no PVC volume mount{at}")
    container, volume, claim, path = found.container, found.volume, found.pvc, found.path
    if not _PATH_RE.match(path) or ".." in path:
        raise ScenarioFailed(f"pod {spec.namespace}/{name} mounts {claim} at an unsafe path: {path!r}")
    if not pod.spec.node_name or pod.status.phase != "Running":
        raise ScenarioFailed(f"pod {spec.namespace}/{name} is not running on a node ({pod.status.phase})")
    status = next((s for s in pod.status.container_statuses or [] if s.name == container), None)
    cid = (status.container_id or "").split("://", 1)[-1] if status else ""
    if not re.fullmatch(r"[0-9a-f]{12,64}", cid):
        raise ScenarioFailed(f"container {container} of pod {spec.namespace}/{name} has no usable ID: {cid!r}")
    return Target(name, pod.metadata.uid, container, cid, claim, volume, path, pod.spec.node_name)


def _exec(ctx: ScenarioContext, namespace: str, pod: str, container: str, argv: list[str]):
    from ..kube.podexec import exec_in_pod

    return exec_in_pod(ctx.api_client, namespace, pod, container, argv)


def device_of(ctx: ScenarioContext, core, spec: ThrottleSpec, t: Target) -> str:
    """The volume's block device, major:minor, from the container's mountinfo (krkn's way); a
    volume with none, or on the local cluster's real node one that is not a loop device, is
    refused (see the module's notes)."""
    r = _exec(ctx, spec.namespace, t.pod, t.container, ["cat", "/proc/self/mountinfo"])
    if not r.ok:
        raise ScenarioFailed(f"reading the mounts of {spec.namespace}/{t.pod}/{t.container}: {r.why()}")
    mm = next((f[2] for f in (line.split() for line in r.stdout.splitlines()) if len(f) > 4 and f[4] == t.path), "")
    if not MAJ_MIN_RE.match(mm):
        raise ScenarioFailed(f"no device major:minor for {t.path} in {spec.namespace}/{t.pod}: {mm!r}")
    major = int(mm.split(":")[0])
    if major == 0:
        raise ScenarioFailed(f"PVC {t.pvc} at {t.path} in {spec.namespace}/{t.pod} has no block device ({mm}: "
                             "tmpfs, overlay or a network file system): blkio limits would have nothing to act on")
    labels = core.read_node(t.node).metadata.labels or {}
    if labels.get(LOCAL_NODE_LABEL) == "real" and major != LOOP_MAJOR:
        raise ScenarioFailed(f"device {mm} of PVC {t.pvc} is not a loop device: on the local cluster only the "
                             "node's own loop device is limited, never this machine's disks")
    return mm


def helper_pod(name: str, spec: ThrottleSpec, node: str, run_uuid: str) -> dict:
    """krkn-lib's io_throttle_pod.j2, as it renders it (plus the run's label); its command is the
    dead man's switch (trap_undo.py: on TERM it writes the limits back)."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": spec.namespace,
                         "labels": {"app": "krkn-io-throttle", "krkn-tui/run": run_uuid}},
            "spec": {"nodeName": node, "restartPolicy": "Never", "terminationGracePeriodSeconds": HOLD_GRACE,
                     "containers": [{"name": CONTAINER, "image": spec.image, "command": hold_command(),
                                     "securityContext": {"privileged": True},
                                     "volumeMounts": [{"name": "host-root", "mountPath": "/host"}]}],
                     "volumes": [{"name": "host-root", "hostPath": {"path": "/"}}]}}


@register
class StorageThrottlePlugin(ScenarioPlugin):
    scenario_type = "storage_throttle_scenarios"
    short_name = "storage throttle"
    undo_functions = (delete_hog_pod, restore_io_limits)
    # The limits are written back from the helper pod, so the guard (no pods/exec) stops the pod
    # instead: its TERM trap writes them back (trap_undo.py). Deleting it any other way first
    # would leave nothing to write them from.
    undo_needs_exec = (delete_hog_pod, restore_io_limits)
    guard_undo = {delete_hog_pod: stop_chaos_pod, restore_io_limits: stop_chaos_pod}
    parse_data = staticmethod(parse_storage_throttle)

    @staticmethod
    def describe(spec: ThrottleSpec) -> str:
        target = f"PVC {spec.pvc_name}" if spec.pvc_name else f"the PVC of pod {spec.pod_name}"
        return f"throttle {target} (ns {spec.namespace}) to {_limits_text(spec)} for {spec.duration}s"

    def preview(self, spec: ThrottleSpec, ctx: ScenarioContext) -> list:
        from .preview import fail_with, targets

        core = target_namespace(ctx, spec.namespace)
        t = find_target(core, spec)
        found = [targets("nodes", [t.node], f"a privileged pod of {spec.image} writes the limits into the "
                                            "container's cgroup"),
                 targets("pods", [f"{spec.namespace}/{t.pod}"], f"container {t.container}: {_limits_text(spec)} "
                                                                f"for {spec.duration}s", [spec.namespace]),
                 targets("PVCs", [f"{spec.namespace}/{t.pvc}"], f"volume {t.volume} at {t.path}")]
        try:
            found.append(targets("devices", [device_of(ctx, core, spec, t)], "blkio limits for this device only"))
        except ScenarioFailed as e:
            fail_with(found, str(e))
        return found

    def run(self, spec: ThrottleSpec, ctx: ScenarioContext) -> Outcome:
        core = target_namespace(ctx, spec.namespace)
        t = find_target(core, spec)
        mm = device_of(ctx, core, spec, t)
        details: dict[str, Any] = {"pod": t.pod, "container": t.container, "pvc": t.pvc, "volume": t.volume,
                                   "mount_path": t.path, "node": t.node, "device": mm,
                                   "limits": spec.limits()}
        ctx.log(f"{spec.namespace}/{t.pod}/{t.container}: PVC {t.pvc} at {t.path} on device {mm}, node {t.node}", 0.05)
        if ctx.dry_run:
            return Outcome(ScenarioStatus.PASSED, f"dry run: would throttle device {mm} of {t.pod}",
                           {**details, "dry_run": True})
        name = f"io-throttle-{secrets.token_hex(5)}"  # krkn-lib's name: 10 hex characters
        pod_version = ctx.set_rollback_callable(
            delete_hog_pod, RollbackContent(resource_identifier=name, namespace=spec.namespace, data={"hold": POD}),
            verb="delete", kind="Pod")
        core.create_namespaced_pod(spec.namespace, helper_pod(name, spec, t.node, ctx.rollback.run_uuid))
        ctx.audit("create_pod", namespace=spec.namespace, name=name, node=t.node)
        details["helper_pod"] = name
        self._await(ctx, core, spec, name, t.node)
        version, path = self._cgroup(ctx, spec, name, t)
        base = f"/host/sys/fs/cgroup{'/blkio' if version == 'v1' else ''}{path}"
        details.update(cgroup_version=version, cgroup_path=path)
        limits = spec.limits()
        found = {}
        for file in sorted({cgroup_file(version, k) for k in limits}):
            r = _exec(ctx, spec.namespace, name, CONTAINER, ["cat", f"{base}/{file}"])
            if not r.ok:
                raise ScenarioFailed(f"reading {path}/{file} on {t.node}: {r.why()}", details)
            found[file] = device_line(r.stdout, mm)
        details["found"] = found
        ctx.check_stop()
        data = {"pod": name, "container": CONTAINER, "node": t.node, "target": f"{t.pod}/{t.container}",
                "maj_min": mm, "cgroup_version": version, "cgroup_path": path, "found": found, "hold": "0001"}
        limits_version = ctx.set_rollback_callable(
            restore_io_limits, RollbackContent(resource_identifier=name, namespace=spec.namespace, data=data),
            verb="restore", kind="blkio limits")
        # Its copy in the helper pod's own list, before the write: the pod's TERM trap writes them back.
        script = throttle_script(data, {f: line or written_back(version, mm) for f, line in found.items()})
        r = _exec(ctx, spec.namespace, name, CONTAINER, add_argv("0001", script))
        if not r.ok:
            raise ScenarioFailed(f"adding the undo to the list of helper pod {name}: {r.why()}", details)
        lines = [(cgroup_file(version, k), value_line(version, mm, k, v)) for k, v in limits.items()]
        if version == "v2":  # one io.max line with every key (krkn's)
            lines = [("io.max", f"{mm} " + " ".join(line.split(" ", 1)[1] for _, line in lines))]
        for file, line in lines:
            r = _exec(ctx, spec.namespace, name, CONTAINER,
                      ["sh", "-c", 'printf "%s\\n" "$1" > "$2"', "sh", line, f"{base}/{file}"])
            ctx.audit("write_cgroup", node=t.node, pod=f"{spec.namespace}/{t.pod}", cgroup=path, file=file,
                      value=line, exit_code=r.code)
            if not r.ok:
                raise ScenarioFailed(f"writing {line!r} to {path}/{file} on {t.node}: {r.why()}", details)
        ctx.log(f"limits on device {mm} in place ({_limits_text(spec)}); holding {spec.duration}s", 0.2)
        ctx.sleep(spec.duration)
        ctx.restore(limits_version)
        ctx.restore(pod_version)
        wait_gone(ctx, core, spec.namespace, [name], "the helper pod")
        return Outcome(ScenarioStatus.PASSED,
                       f"throttled device {mm} of {t.pod} ({_limits_text(spec)}) for {spec.duration}s", details)

    @staticmethod
    def _await(ctx: ScenarioContext, core, spec: ThrottleSpec, name: str, node: str) -> None:
        def running():
            p = core.read_namespaced_pod(name, spec.namespace)
            if p.status.phase in ("Failed", "Succeeded"):
                raise ScenarioFailed(f"helper pod {spec.namespace}/{name} ended ({p.status.phase})")
            return p.status.phase == "Running"

        if not ctx.wait_until(running, START_TIMEOUT, interval=0.5):
            raise ScenarioFailed(f"helper pod {spec.namespace}/{name} not running after {START_TIMEOUT:g}s on {node}")

    @staticmethod
    def _cgroup(ctx: ScenarioContext, spec: ThrottleSpec, name: str, t: Target) -> tuple[str, str]:
        """The node's cgroup version (v2 where /sys/fs/cgroup is the unified hierarchy, its
        cgroup.controllers at the top; krkn asks stat for the file system type, which busybox's
        stat does not name) and the container's cgroup, found by its full ID (cgroupfs: a folder
        named so; systemd: a .scope naming it)."""
        r = _exec(ctx, spec.namespace, name, CONTAINER, ["test", "-f", "/host/sys/fs/cgroup/cgroup.controllers"])
        if r.code not in (0, 1):
            raise ScenarioFailed(f"reading the cgroup file system of {t.node}: {r.why()}")
        version = "v2" if r.ok else "v1"
        base = "/host/sys/fs/cgroup" + ("/blkio" if version == "v1" else "")
        r = _exec(ctx, spec.namespace, name, CONTAINER,
                  ["find", base, "-type", "d", "(", "-name", t.container_id, "-o", "-name", f"*-{t.container_id}.scope",
                   ")"])
        paths = [p[len(base):] for p in r.stdout.split() if p.startswith(base + "/") and "conmon" not in p]
        if len(paths) != 1 or ".." in paths[0] or not CGROUP_PATH_RE.match(paths[0]):
            raise ScenarioFailed(f"the cgroup of container {t.container} ({t.container_id[:12]}) on {t.node}: "
                                 f"{len(paths)} found under {base[5:]} ({r.why() if not r.ok else ', '.join(paths)})")
        return version, paths[0]


def _limits_text(spec: ThrottleSpec) -> str:
    return ", ".join(f"{k} {v}" for k, v in spec.limits().items())
