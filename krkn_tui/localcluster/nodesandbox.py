"""The real node's own corner of the machine: a network and a mount namespace, a veth pair to
the machine, and a cgroup subtree; made on start and removed, with everything inside, on stop.

Names carry a per-cluster prefix (two clusters side by side never share one), addresses come
from the benchmarking range 198.18.0.0/15 only, and the node's namespace gets no route beyond
its veth: nothing a pod or a fault does there reaches the machine's own network.

The namespaces are bound on files in the node's folder (itself a private bind mount, which a
mount namespace's file needs); everything mounted inside the node's mount namespace (tmpfs on
/run, the pods' volumes and root filesystems, the kernel settings the kubelet writes) vanishes
with it."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

NODE_RANGE = ipaddress.ip_network("198.18.0.0/16")  # veth links and pod subnets
SERVICE_RANGE = ipaddress.ip_network("198.19.0.0/16")  # service CIDRs, one /20 per cluster
CGROUP_FS = Path("/sys/fs/cgroup")
# (the kubelet's root too: its unix sockets must fit 108 bytes, whatever the cluster folder's length)
NODE_TMPFS = ("/var/log/containers", "/var/lib/cni", "/var/lib/kubelet")
# Kernel settings the kubelet writes at start (machine-wide, not per namespace): inside the node's
# mount namespace each file is covered by a private copy, so the machine's values stay as they were.
KUBELET_SYSCTLS = ("vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
                   "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes")


def cluster_id(state_dir: Path) -> str:
    return hashlib.sha256(str(Path(state_dir).resolve()).encode()).hexdigest()[:6]


def service_cidr(state_dir: Path) -> str:
    slot = int(cluster_id(state_dir), 16) % 16
    return str(list(SERVICE_RANGE.subnets(new_prefix=20))[slot])


def kubernetes_service_ip(cidr: str) -> str:
    """The `kubernetes` Service's address: the first of the service range."""
    return str(ipaddress.ip_network(cidr)[1])


@dataclass
class Sandbox:
    prefix: str  # kt<id>: the host veth, the bridge and the cgroup root are named from it
    folder: str  # holds the namespace files
    host_if: str
    host_ip: str
    node_ip: str
    pod_cidr: str
    bridge: str
    cgroup_root: str

    @property
    def net(self) -> str:
        return f"{self.folder}/net"

    @property
    def mnt(self) -> str:
        return f"{self.folder}/mnt"

    def enter(self, argv: list[str]) -> list[str]:
        """`argv` run inside the node's network and mount namespaces (nsenter execs: same pid)."""
        return ["nsenter", f"--net={self.net}", f"--mount={self.mnt}", "--", *argv]

    def to_dict(self) -> dict:
        return asdict(self)


def plan(state_dir: Path, folder: Path) -> Sandbox:
    """Names and addresses for this cluster's node: a /22 of 198.18.0.0/16 that no interface of
    the machine uses yet (the first .0/30 for the veth pair, the next /24 for the pods)."""
    cid = cluster_id(state_dir)
    prefix = f"kt{cid}"
    used = _machine_addresses()
    slots = list(NODE_RANGE.subnets(new_prefix=22))
    start = int(cid, 16) % len(slots)
    for i in range(len(slots)):
        net = slots[(start + i) % len(slots)]
        if not any(a in net for a in used):
            break
    else:
        raise RuntimeError("every /22 of 198.18.0.0/16 is in use on this machine")
    link = list(net.subnets(new_prefix=30))[0]
    pods = list(net.subnets(new_prefix=24))[1]
    return Sandbox(prefix=prefix, folder=str(folder), host_if=f"{prefix}h", host_ip=str(link[1]),
                   node_ip=str(link[2]), pod_cidr=str(pods), bridge=f"{prefix}br",
                   cgroup_root=f"/krkn-tui-{cid}")


def _machine_addresses() -> list[ipaddress.IPv4Address]:
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True).stdout
    addrs = []
    for line in out.splitlines():
        words = line.split()
        if "inet" in words:
            addrs.append(ipaddress.ip_interface(words[words.index("inet") + 1]).ip)
    return addrs


def _run(argv: list[str], what: str) -> None:
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{what}: {' '.join(argv)}: {(r.stderr or r.stdout).strip()}")


def create(sb: Sandbox) -> None:
    folder = Path(sb.folder)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    # A mount namespace can be bound only on a file whose mount is private.
    _run(["mount", "--bind", sb.folder, sb.folder], "binding the node's folder")
    _run(["mount", "--make-private", sb.folder], "making the node's folder private")
    for name in ("net", "mnt"):
        (folder / name).touch()
    _run(["unshare", f"--net={sb.net}", f"--mount={sb.mnt}", "--propagation", "private", "true"],
         "making the node's namespaces")
    _run(["ip", "link", "add", sb.host_if, "type", "veth", "peer", "name", f"{sb.prefix}n"], "making the veth pair")
    _run(["ip", "link", "set", f"{sb.prefix}n", "netns", sb.net], "moving the veth into the node")
    _run(["ip", "addr", "add", f"{sb.host_ip}/30", "dev", sb.host_if], "addressing the machine's veth end")
    _run(["ip", "link", "set", sb.host_if, "up"], "raising the machine's veth end")
    sysctl_copies = " ".join(
        f"cat /proc/sys/{s} > /run/krkn-sysctl/{s.replace('/', '.')} && "
        f"mount --bind /run/krkn-sysctl/{s.replace('/', '.')} /proc/sys/{s} &&" for s in KUBELET_SYSCTLS)
    inside = (
        "set -e; "
        f"ip link set {sb.prefix}n name eth0; ip addr add {sb.node_ip}/30 dev eth0; "
        "ip link set eth0 up; ip link set lo up; "
        "echo 1 > /proc/sys/net/ipv4/ip_forward; "
        "echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables; "
        # The machine's /run (its runtimes' sockets, /run/netns, locks) is hidden from the node.
        "mount -t tmpfs -o mode=0755 krkn-node-run /run; mkdir -p /run/krkn-sysctl; "
        # Fixed paths the kubelet and CNI write (container log links, CNI's result cache): the
        # node's own copies, gone with it.
        + "".join(f"mount -t tmpfs -o mode=0755 krkn-node {d}; " for d in NODE_TMPFS) +
        f"{sysctl_copies} true"
    )
    for d in NODE_TMPFS:  # the mount points (empty folders, as the packages would make them)
        Path(d).mkdir(parents=True, exist_ok=True)
    _run(sb.enter(["sh", "-c", inside]), "setting up the node's namespaces")
    for hierarchy in _hierarchies():
        path = hierarchy / sb.cgroup_root.lstrip("/")
        path.mkdir(exist_ok=True)
        if (hierarchy / "cpuset.cpus").exists():  # a v1 cpuset child starts empty: give it the parent's
            for f in ("cpuset.cpus", "cpuset.mems"):
                (path / f).write_text((hierarchy / f).read_text())


def _hierarchies() -> list[Path]:
    """Each mounted cgroup hierarchy once (v1's cpu and cpuacct are one under two names)."""
    seen, out = set(), []
    if not CGROUP_FS.is_dir():
        return out
    for entry in sorted(CGROUP_FS.iterdir()):
        real = entry.resolve()
        if real in seen or not real.is_dir() or not (real / "cgroup.procs").exists():
            continue
        seen.add(real)
        out.append(real)
    return out


def node_pids(sb: Sandbox) -> list[int]:
    """Every process of the node: in its namespaces (runtime, shims, hostNetwork pods) or in its
    cgroup subtree (the containers, which have namespaces of their own)."""
    inodes = {os.stat(f).st_ino for f in (sb.net, sb.mnt) if _is_mountpoint(f)}
    pids = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        try:
            mine = any(os.stat(f"/proc/{pid}/ns/{k}").st_ino in inodes for k in ("net", "mnt"))
            mine = mine or any(_under(line.split(":", 2)[-1], sb.cgroup_root)
                               for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines())
        except OSError:
            continue
        if mine:
            pids.append(pid)
    return pids


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root + "/")


def destroy(sb: Sandbox, timeout: float = 15.0) -> None:
    """Kill every process of the node, then unbind its namespaces (the kernel then frees them,
    their veth end, bridge, rules and mounts with them), delete the veth and the cgroups."""
    folder = Path(sb.folder)
    deadline = time.monotonic() + timeout
    while (pids := node_pids(sb)) and time.monotonic() < deadline:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in pids:
            try:
                os.waitpid(pid, os.WNOHANG)  # our own children (the recorded components) too
            except ChildProcessError:
                pass
        time.sleep(0.1)
    for f in (sb.net, sb.mnt):
        if _is_mountpoint(f):
            subprocess.run(["umount", f], capture_output=True)
    if _is_mountpoint(sb.folder):
        subprocess.run(["umount", sb.folder], capture_output=True)
    if Path(f"/sys/class/net/{sb.host_if}").exists():
        subprocess.run(["ip", "link", "del", sb.host_if], capture_output=True)
    for hierarchy in _hierarchies():
        root = hierarchy / sb.cgroup_root.lstrip("/")
        if root.is_dir():
            for dirpath, _dirs, _files in sorted(os.walk(root), key=lambda w: -w[0].count("/")):
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass
    for name in ("net", "mnt"):
        try:
            (folder / name).unlink()
        except OSError:
            pass


def _is_mountpoint(path: str) -> bool:
    target = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo") as f:
            return any(line.split()[4] == target for line in f)
    except OSError:
        return False
