"""The real node's block device: a loop device over a sparse file in the node's folder, ext4,
mounted inside the node's mount namespace only (the machine sees an empty folder).

Pods get it as local PersistentVolumes on folders of that file system (nodeAffinity to the real
node), so a volume has a block device of its own (major:minor of the loop device) and blkio
limits (storage_throttle_scenarios) act on it and on nothing of the machine's disks. The
loop device is the one machine-level object it makes; `down` unmounts it and detaches it, and
the next `up` detaches whatever a crashed node left on the same file."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from .nodesandbox import Sandbox

SIZE = 256 * 1024 * 1024  # sparse: only what pods write takes room
_LOOP_RE = re.compile(r"/dev/loop[0-9]+\Z")


def image_path(node_root: Path) -> Path:
    return node_root / "block.img"


def mount_path(node_root: Path) -> Path:
    return node_root / "block"


def _run(argv: list[str], what: str) -> str:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{what}: {' '.join(argv)}: no answer in 60s") from None
    if r.returncode != 0:
        raise RuntimeError(f"{what}: {' '.join(argv)}: {(r.stderr or r.stdout).strip()}")
    return r.stdout


def attached(image: Path) -> list[str]:
    """The loop devices backed by `image` (none when it does not exist)."""
    if not image.exists():
        return []
    out = subprocess.run(["losetup", "--noheadings", "--output", "NAME", "--associated", str(image)],
                         capture_output=True, text=True, timeout=30).stdout
    return [d for d in out.split() if _LOOP_RE.match(d)]


def create(sb: Sandbox, node_root: Path) -> dict:
    """Attach, format and mount the node's block device; its record for the cluster's state."""
    image, mount = image_path(node_root), mount_path(node_root)
    release(node_root)  # what a crashed node left on this file
    mount.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(image, "wb") as f:  # a new, empty file system each start
        f.truncate(SIZE)
    device = _run(["losetup", "--find", "--show", str(image)], "attaching the node's loop device").strip()
    if not _LOOP_RE.match(device):
        raise RuntimeError(f"losetup named no loop device: {device!r}")
    try:
        _run(["mkfs.ext4", "-q", "-F", "-L", "krkn-tui-node", device], "formatting the node's block device")
        _run(sb.enter(["mount", "-t", "ext4", device, str(mount)]), "mounting the node's block device")
    except BaseException:
        subprocess.run(["losetup", "--detach", device], capture_output=True)
        raise
    return {"device": device, "maj_min": _maj_min(device), "image": str(image), "mount": str(mount)}


def _maj_min(device: str) -> str:
    return Path(f"/sys/block/{Path(device).name}/dev").read_text().strip()


def release(node_root: Path, timeout: float = 10.0) -> None:
    """Detach every loop device backed by the node's file, then remove the file. Called once the
    node's mount namespace is gone (its mount of the file system with it); a device still held
    (a namespace the kernel is still tearing down) is detached once released (losetup marks it
    so): wait for that."""
    image = image_path(node_root)
    deadline = time.monotonic() + timeout
    while devices := attached(image):
        for device in devices:
            subprocess.run(["losetup", "--detach", device], capture_output=True, timeout=30)
        if time.monotonic() > deadline:
            raise RuntimeError(f"loop device(s) {', '.join(devices)} over {image} still attached")
        time.sleep(0.1)
    image.unlink(missing_ok=True)
