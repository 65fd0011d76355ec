"""krkn-tui's own image, built on this machine for the guard on the local cluster's real node.

No registry and no base image: the root filesystem is this machine's Python (the interpreter and
its standard library at the paths they have here, the shared libraries they link) and the
krkn-tui that runs this code with its dependencies (the files each installed distribution records)
in /opt/krkn-tui/lib, plus a `krkn-tui` launcher that puts them on the path and a passwd file
naming the guard's user. build.sh's crane helper packs it (`build.sh pack`), skipping
the packing when the tree is what it packed last; `up` imports it into the node like the others.

    krkn-tui.local/krkn-tui:latest    entrypoint /usr/local/bin/krkn-tui
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from importlib import metadata
from pathlib import Path

REF = "krkn-tui.local/krkn-tui:latest"
NAME = "krkn-tui"
ENTRYPOINT = "/usr/local/bin/krkn-tui"
# Parts of the standard library no command of krkn-tui imports (tests, GUI, build tools).
STDLIB_SKIP = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data",
               "site-packages", "dist-packages", "config-3.11-x86_64-linux-gnu", "__pycache__"}
SKIP_IN_PACKAGE = {"__pycache__", "go"}  # krkn_tui/localcluster/go: the Go module, not needed to run
PASSWD = "root:x:0:0:root:/root:/usr/sbin/nologin\nnonroot:x:65532:65532:nonroot:/tmp:/usr/sbin/nologin\n"
GROUP = "root:x:0:\nnonroot:x:65532:\n"


def _requirements(name: str, seen: set[str]) -> None:
    """`name` and what it requires (no extras), recursively, as normalized distribution names."""
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in seen:
        return
    seen.add(key)
    for req in metadata.requires(name) or []:
        if "extra ==" in req:
            continue
        if ";" in req and not _marker_holds(req.split(";", 1)[1]):
            continue
        _requirements(re.match(r"[A-Za-z0-9_.-]+", req).group(0), seen)


def _marker_holds(marker: str) -> bool:
    try:
        from packaging.markers import Marker
    except ImportError:  # pip vendors it; without either, take the requirement (copying more is harmless)
        return True
    return Marker(marker).evaluate()


def _copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest, follow_symlinks=True)


LIB = "/opt/krkn-tui/lib"


def _copy_distributions(root: Path) -> None:
    site = root / LIB.lstrip("/")
    names: set[str] = set()
    _requirements("krkn-tui", names)
    for name in sorted(names):
        dist = metadata.distribution(name)
        if name == "krkn-tui":  # an editable checkout records no module files: copy the package
            import krkn_tui

            shutil.copytree(Path(krkn_tui.__file__).parent, site / "krkn_tui", symlinks=False,
                            ignore=lambda _d, names: [n for n in names if n in SKIP_IN_PACKAGE])
            meta = Path(dist._path)  # type: ignore[attr-defined]  (its .dist-info folder)
            shutil.copytree(meta, site / meta.name)
            continue
        for f in dist.files or []:
            if f.parts[0] == ".." or "__pycache__" in f.parts:
                continue  # scripts outside site-packages; caches are rebuilt (or not, read-only)
            src = Path(dist.locate_file(f))
            if src.is_file():
                _copy(src, site / f)


def _shared_libraries(root: Path) -> None:
    """Every library the interpreter and the copied extension modules link, at the path the
    loader looks for it, and the loader itself."""
    elves = [root / p.relative_to("/") for p in [Path(os.path.realpath(sys.executable))]]
    elves += [p for p in root.rglob("*.so*") if p.is_file()]
    needed: set[str] = set()
    for elf in elves:
        out = subprocess.run(["ldd", str(elf)], capture_output=True, text=True).stdout
        needed.update(re.findall(r"(/\S+) \(0x", out))
    for lib in sorted(needed):
        if not (root / lib.lstrip("/")).exists():
            _copy(Path(lib), root / lib.lstrip("/"))


def assemble(root: Path) -> None:
    exe = Path(os.path.realpath(sys.executable))
    _copy(exe, root / exe.relative_to("/"))
    (root / "usr/bin").mkdir(parents=True, exist_ok=True)
    (root / "usr/bin/python3").symlink_to(exe)  # the name guard.yaml's init container calls
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    shutil.copytree(stdlib, root / stdlib.relative_to("/"), symlinks=True,
                    ignore=lambda _d, names: [n for n in names if n in STDLIB_SKIP])
    _copy_distributions(root)
    _shared_libraries(root)
    launcher = root / ENTRYPOINT.lstrip("/")
    launcher.parent.mkdir(parents=True, exist_ok=True)
    launcher.write_text(f"#!{exe}\nimport sys\nsys.path.insert(0, {LIB!r})\n"
                        "from krkn_tui.cli import main\nsys.exit(main())\n")
    launcher.chmod(0o755)
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc/passwd").write_text(PASSWD)
    (root / "etc/group").write_text(GROUP)
    for d in ("tmp", "var/tmp"):
        (root / d).mkdir(parents=True, exist_ok=True)
        (root / d).chmod(0o1777)


def source_digest() -> str:
    """What the image is made of, cheaply: the interpreter, each distribution's name and version,
    and krkn-tui's own files (a checkout's edits change it; assembling and packing take a minute)."""
    import hashlib

    import krkn_tui

    h = hashlib.sha256(f"{os.path.realpath(sys.executable)} {sys.version}".encode())
    names: set[str] = set()
    _requirements("krkn-tui", names)
    for name in sorted(names):
        h.update(f"{name}=={metadata.version(name)}\n".encode())
    package = Path(krkn_tui.__file__).parent
    for path in sorted(package.rglob("*")):
        if path.is_file() and not SKIP_IN_PACKAGE & set(path.relative_to(package).parts):
            h.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def build(script: Path, cache_dir: Path, say, only_if_missing: bool = False) -> None:
    """Assemble the tree and let build.sh pack it, unless what it is made of is unchanged (or,
    `only_if_missing`, unless it exists at all)."""
    images = cache_dir / "images"
    stamp = images / f".{NAME}.source"
    if only_if_missing and (images / f"{NAME}.tar").is_file():
        return
    digest = source_digest()
    if (images / f"{NAME}.tar").is_file() and stamp.is_file() and stamp.read_text() == digest:
        say(f"localcluster: image {NAME} is up to date")
        return
    say(f"localcluster: assembling image {NAME} ({REF}): this Python and krkn-tui with its dependencies")
    with tempfile.TemporaryDirectory(prefix="krkn-tui-image-") as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        assemble(root)
        env = {**os.environ, "KRKN_TUI_CACHE": str(cache_dir)}
        r = subprocess.run(["bash", str(script), "pack", NAME, REF, str(root), ENTRYPOINT],
                           capture_output=True, text=True, env=env)
        for line in (r.stdout + r.stderr).splitlines():
            say(line)
        if r.returncode != 0:
            raise RuntimeError(f"packing krkn-tui's image failed (exit {r.returncode})")
    stamp.write_text(digest)
