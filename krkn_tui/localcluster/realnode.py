"""The local cluster's real node: containerd + runc (Debian), CNI bridge (Debian's plugins), the
kubelet and kube-proxy (built from k8s.io/kubernetes), kube-router's NetworkPolicy firewall,
each run inside the node's namespaces (nodesandbox.py) as a component of the life cycle, and a
block device of its own for volumes (blockvol.py).

The node is tainted so that only pods that ask for it land there (the suite's and the bench's
pods stay on the kwok nodes), and labelled krkn-tui.io/node-kind=real."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from .nodesandbox import Sandbox

NODE_NAME = "krkn-real-node"
KIND_LABEL = "krkn-tui.io/node-kind"
TAINT_KEY = "krkn-tui.io/real-node"
# Components in start order; stopped in reverse.
COMPONENTS = ("node-api-proxy", "node-registry", "containerd", "kubelet", "kube-proxy", "kube-router")
# The node's own registry (crane's, in memory, on the node's loopback): the runtime's mirror for
# every registry an imported image names, so a pod whose policy is Always (a :latest image, as
# krkn-lib's hog) pulls what is here, and nothing else.
MIRROR = "127.0.0.1:5000"
BINARIES = ("kubelet", "kube-proxy", "kube-router", "crane")
TOOLS = {"containerd": "containerd", "runc": "runc", "ctr": "containerd", "iptables": "iptables",
         "ipset": "ipset", "nsenter": "util-linux", "unshare": "util-linux", "ip": "iproute2",
         "losetup": "util-linux", "mkfs.ext4": "e2fsprogs"}  # the node's block device (blockvol.py)
CNI_PLUGINS = ("bridge", "host-local", "loopback", "portmap")
CNI_DIRS = ("/usr/lib/cni", "/opt/cni/bin")


def missing(bin_dir: Path, images_dir: Path) -> str | None:
    """Why the real node cannot run here, in one phrase; None when it can."""
    if platform.system() != "Linux":
        return f"it needs Linux (this is {platform.system()})"
    if os.geteuid() != 0:
        return "it needs root (namespaces, veth, cgroups, mounts)"
    if not Path("/sys/fs/cgroup").is_dir():
        return "no cgroup file system at /sys/fs/cgroup"
    tools = sorted({pkg for tool, pkg in TOOLS.items() if not shutil.which(tool)})
    if not cni_dir():
        tools.append("containernetworking-plugins")
    if tools:
        return f"missing Debian packages: {', '.join(tools)} (root with apt: `krkn-tui cluster build` installs them)"
    absent = [b for b in BINARIES if not (bin_dir / b).exists()]
    absent += [f"image {i}" for i in ("pause",) if not (images_dir / f"{i}.tar").exists()]
    if absent:
        return f"not built: {', '.join(absent)} (`krkn-tui cluster build`)"
    return None


def cni_dir() -> str | None:
    return next((d for d in CNI_DIRS if all(Path(d, p).exists() for p in CNI_PLUGINS)), None)


class NodeFiles:
    """Paths of one node's configuration and runtime state, under the cluster's folder."""

    def __init__(self, state_dir: Path):
        self.root = state_dir / "node"
        self.ns = self.root / "ns"
        self.containerd_root = self.root / "containerd"
        # In the node's private /run: a unix socket's path must stay short.
        self.socket = Path("/run/containerd/containerd.sock")
        self.cni_conf = self.root / "cni"
        self.pod_logs = self.root / "pod-logs"
        self.mirrors = self.root / "certs.d"

    def prepare(self) -> None:
        for d in (self.root, self.containerd_root, self.cni_conf, self.pod_logs):
            d.mkdir(parents=True, exist_ok=True, mode=0o700)


def containerd_config(files: NodeFiles, cni_bin: str, restrict_oom: bool) -> str:
    # The runtime's state (/run/containerd, the runc state, the pods' netns files) lives in the
    # node's private /run; images and snapshots under the cluster's folder, kept across restarts.
    # No registry mirror reaches anything: the node has no route out, so a missing image fails its
    # pull and the pod shows ImagePullBackOff.
    return f"""\
version = 2
root = "{files.containerd_root}"
state = "/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
                    "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing",
                    "io.containerd.internal.v1.opt"]

[grpc]
  address = "{files.socket}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  # Where root lacks CAP_SYS_RESOURCE (this kind of VM drops it), runc may not lower a process's
  # oom_score_adj (the pause container's -998): keep every container at or above containerd's own.
  restrict_oom_score_adj = {str(restrict_oom).lower()}
  enable_cdi = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{files.mirrors}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin}"
    conf_dir = "{files.cni_conf}"
"""


def cni_config(sb: Sandbox) -> dict:
    return {
        "cniVersion": "1.0.0",
        "name": "krkn-tui",
        "plugins": [
            {"type": "bridge", "bridge": sb.bridge, "isGateway": True, "ipMasq": False, "hairpinMode": True,
             # host-local's leases in the node's tmpfs /run: a restarted node starts with none.
             # A pod's default route leads to the bridge, where kube-proxy's rules turn Service
             # addresses into pods'; the node itself has no route out, so nothing else goes further.
             "ipam": {"type": "host-local", "ranges": [[{"subnet": sb.pod_cidr}]], "dataDir": "/run/cni-ipam",
                      "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def kubelet_config(files: NodeFiles, sb: Sandbox, ca: Path) -> dict:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # The machine has cgroup v1 (hybrid); 1.36 refuses it unless told.
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": sb.cgroup_root,  # one subtree per cluster, removed on down
        "containerRuntimeEndpoint": f"unix://{files.socket}",
        "address": sb.node_ip,
        "healthzBindAddress": "127.0.0.1",
        "readOnlyPort": 0,
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                           "x509": {"clientCAFile": str(ca)}},
        "authorization": {"mode": "Webhook"},
        "podLogsDir": str(files.pod_logs),
        "resolvConf": "",
        "failSwapOn": False,
        "serializeImagePulls": False,
        # Locally built images cannot be pulled again: never collect them, never evict for disk.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "registerWithTaints": [{"key": TAINT_KEY, "value": "true", "effect": "NoSchedule"}],
        "maxPods": 110,
        "syncFrequency": "10s",
        "nodeStatusReportFrequency": "1m",
    }


def kube_proxy_config(kubeconfig: Path, sb: Sandbox) -> dict:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "mode": "iptables",
        "clusterCIDR": sb.pod_cidr,
        "hostnameOverride": NODE_NAME,
        "healthzBindAddress": "127.0.0.1:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        # Conntrack limits and timeouts are the machine's: 0 leaves them as they are.
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
    }


def write_configs(files: NodeFiles, sb: Sandbox, kubeconfig: Path, ca: Path, cni_bin: str) -> dict[str, Path]:
    files.prepare()
    out = {
        "containerd": files.root / "containerd.toml",
        "cni": files.cni_conf / "10-krkn-tui.conflist",
        "kubelet": files.root / "kubelet.yaml",
        "kube-proxy": files.root / "kube-proxy.yaml",
    }
    out["containerd"].write_text(containerd_config(files, cni_bin, not _has_cap(CAP_SYS_RESOURCE)))
    out["cni"].write_text(json.dumps(cni_config(sb), indent=2))
    out["kubelet"].write_text(yaml.safe_dump(kubelet_config(files, sb, ca)))
    out["kube-proxy"].write_text(yaml.safe_dump(kube_proxy_config(kubeconfig, sb)))
    return out


def argvs(bin_dir: Path, files: NodeFiles, sb: Sandbox, configs: dict[str, Path], kubeconfig: Path,
          api_port: int, service_cidr: str) -> dict[str, list[str]]:
    return {
        "node-registry": sb.enter([str(bin_dir / "crane"), "registry", "serve", "--address", MIRROR]),
        "node-api-proxy": [sys.executable, "-m", "krkn_tui.localcluster.nsproxy", "--netns", sb.net,
                           "--port", str(api_port), "--address", "127.0.0.1", "--address", sb.node_ip],
        "containerd": sb.enter(["containerd", "--config", str(configs["containerd"])]),
        "kubelet": sb.enter([
            str(bin_dir / "kubelet"), f"--config={configs['kubelet']}", f"--kubeconfig={kubeconfig}",
            f"--hostname-override={NODE_NAME}", f"--node-ip={sb.node_ip}",
            f"--node-labels={KIND_LABEL}=real", "--v=1"]),
        "kube-proxy": sb.enter([str(bin_dir / "kube-proxy"), f"--config={configs['kube-proxy']}", "--v=1"]),
        "kube-router": sb.enter([
            str(bin_dir / "kube-router"), f"--kubeconfig={kubeconfig}", f"--hostname-override={NODE_NAME}",
            "--run-firewall=true", "--run-router=false", "--run-service-proxy=false", "--enable-cni=false",
            f"--service-cluster-ip-range={service_cidr}", "--health-port=0", "--metrics-port=0", "--v=1"]),
    }


CAP_SYS_RESOURCE = 24


def _has_cap(bit: int) -> bool:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> bit & 1)
    return False


def ctr(sb: Sandbox, files: NodeFiles, *args: str) -> list[str]:
    """ctr inside the node (its socket and fifos are in the node's /run)."""
    return sb.enter(["ctr", "--address", str(files.socket), "--namespace", "k8s.io", *args])


def write_mirrors(files: NodeFiles, images_dir: Path) -> None:
    """containerd's hosts.toml for each registry the packed images name: the node's registry only."""
    hosts = {ref.split("/", 1)[0] for ref in filter(None, map(_image_ref, images_dir.glob("*.tar")))}
    for host in hosts:
        d = files.mirrors / host
        d.mkdir(parents=True, exist_ok=True)
        (d / "hosts.toml").write_text(f'server = "http://{MIRROR}"\n\n[host."http://{MIRROR}"]\n'
                                      '  capabilities = ["pull", "resolve"]\n')


def push_mirror(sb: Sandbox, bin_dir: Path, images_dir: Path, only: list[str] | None = None) -> None:
    """Serve every packed image (or those named in `only`) from the node's registry under its own path."""
    for tar in sorted(images_dir.glob("*.tar")):
        ref = _image_ref(tar)
        if not ref or (only is not None and ref not in only):
            continue
        r = subprocess.run(sb.enter([str(bin_dir / "crane"), "push", str(tar), f"{MIRROR}/{ref.split('/', 1)[1]}"]),
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"serving {ref} from the node's registry: {(r.stderr or r.stdout).strip()[-300:]}")


def import_images(sb: Sandbox, files: NodeFiles, images_dir: Path, say) -> list[str]:
    """Import every packed image the runtime does not hold yet, or holds from an older packing
    (build.sh's recipe of each image, recorded at import); returns the names imported."""
    have = subprocess.run(ctr(sb, files, "images", "list", "--quiet"), capture_output=True, text=True).stdout.split()
    record_file = files.root / "imported-images.json"
    try:
        record = json.loads(record_file.read_text())
    except (OSError, ValueError):
        record = {}
    done = []
    for tar in sorted(images_dir.glob("*.tar")):
        ref = _image_ref(tar)
        try:
            recipe = (images_dir / f".{tar.stem}.recipe").read_text().strip()
        except OSError:
            recipe = None
        if ref and ref in have and (recipe is None or record.get(ref) == recipe):
            continue
        r = subprocess.run(ctr(sb, files, "images", "import", str(tar)), capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"importing {tar}: {(r.stderr or r.stdout).strip()}")
        done.append(ref or tar.stem)
        if ref and recipe:
            record[ref] = recipe
    if done:
        record_file.write_text(json.dumps(record, indent=1))
    if done:
        say(f"imported image(s) into the node's runtime: {', '.join(done)}")
    return done


def _image_ref(tar: Path) -> str | None:
    """The tag a `crane`-saved tarball carries (its manifest.json's RepoTags)."""
    import tarfile

    try:
        with tarfile.open(tar) as t:
            member = t.extractfile("manifest.json")
            tags = json.load(member)[0].get("RepoTags") or [] if member else []
    except (OSError, tarfile.TarError, ValueError, KeyError, IndexError):
        return None
    if not tags:
        return None
    ref = tags[0]
    # containerd spells docker.io names in full.
    first = ref.split("/", 1)[0]
    if "/" not in ref:
        ref = f"docker.io/library/{ref}"
    elif "." not in first and ":" not in first and first != "localhost":
        ref = f"docker.io/{ref}"
    return ref
