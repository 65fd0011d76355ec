"""The README's set-up commands install into the project's .venv, never into the system
interpreter, and CI fails on any failing test run (pytest's "no tests collected" included);
`make console CONTEXT=x` builds nothing of the local cluster; a wheel carries the local
cluster's Go module, and an installed copy finds its build script."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What build.sh reads beside itself: the module of every program, and the programs of its own.
GO_MODULE = ("build.sh", "go.mod", "go.sum", "kube-state-metrics/go.mod", "kube-router/cmd/firewall/main.go")

needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def dry_run(folder: Path, *targets: str) -> list[str]:
    out = subprocess.run(["make", "-n", "-C", str(folder), *targets], capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if line.strip() and not line.startswith("make")]


@needs_make
def test_make_creates_and_uses_the_project_venv(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    lines = dry_run(tmp_path, "install", "test", "console")
    assert "python3 -m venv .venv" in lines[0]
    assert lines[1] == ".venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'"
    commands = lines[2:]
    assert commands and all(line.startswith((".venv/bin/python ", "touch .venv/")) for line in commands), commands


@needs_make
def test_the_makefile_never_calls_pip_or_python_outside_the_venv():
    recipes = [line.strip() for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith("\t")]
    for line in recipes:
        # pip only as the venv interpreter's module: never `pip ...` nor `python3 -m pip ...`
        for m in re.finditer(r"\bpip3?\b", line):
            assert line[:m.start()].endswith("$(PY) -m "), line
        assert "$(PYTHON)" not in line or "-m venv" in line, line


@needs_make
def _ci_stand_in(tmp_path, make_test: str, ruff: str = "exit 0") -> subprocess.CompletedProcess:
    """.ci/run in a folder whose Makefile and static checkers are stand-ins with the given bodies."""
    (tmp_path / ".ci").mkdir(exist_ok=True)
    shutil.copy(ROOT / ".ci" / "run", tmp_path / ".ci" / "run")
    (tmp_path / "Makefile").write_text(f"install:\n\ttrue\ntest:\n\t{make_test}\n")
    tools = tmp_path / ".venv" / "bin"
    tools.mkdir(parents=True, exist_ok=True)
    for name, body in (("ruff", ruff), ("mypy", "exit 0")):
        (tools / name).write_text(f"#!/bin/sh\n{body}\n")
        (tools / name).chmod(0o755)
    return subprocess.run(["bash", str(tmp_path / ".ci" / "run")], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "KRKN_TUI_CLUSTER_DIR": str(tmp_path / "cluster")})


def test_ci_fails_when_make_test_fails_even_with_no_tests_collected(tmp_path):
    out = _ci_stand_in(tmp_path, "exit 5")
    assert out.returncode != 0 and "make test failed" in out.stderr
    out = _ci_stand_in(tmp_path, "true")
    assert out.returncode == 0, out.stderr


def test_ci_stops_before_the_suite_when_a_static_check_fails(tmp_path):
    out = _ci_stand_in(tmp_path, "touch suite-ran", ruff="exit 1")
    assert out.returncode != 0 and "static checks failed" in out.stderr
    assert not (tmp_path / "suite-ran").exists()


@needs_make
def test_make_console_on_a_context_builds_nothing_of_the_local_cluster(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    lines = dry_run(tmp_path, "console", "CONTEXT=x")
    assert lines[-1] == ".venv/bin/python -m krkn_tui --context x", lines
    assert not any("cluster" in line or "build" in line for line in lines), lines
    # Without a context the local cluster is built, then brought up by the console.
    assert ".venv/bin/python -m krkn_tui cluster build" in dry_run(tmp_path, "console")


def test_a_wheel_carries_the_go_module_and_an_installed_copy_finds_its_build_script(tmp_path):
    # Built from a copy of the checkout (links kept as links), so no build leftovers land in it.
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "tests", "bench", ".pytest_cache", ".hypothesis"))
    dist = tmp_path / "dist"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--no-deps",
                            str(src), "-w", str(dist)], capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = dist.glob("krkn_tui-*.whl")
    with zipfile.ZipFile(wheel) as z:
        for name in GO_MODULE:  # the files themselves, not a link to a checkout the install will not have
            assert z.read(f"krkn_tui/localcluster/go/{name}") == (ROOT / "localcluster" / name).read_bytes(), name

    # Installed into an empty venv (krkn-tui alone; its dependencies read from this venv, listed
    # after the new one's own site-packages so that its krkn_tui is the one imported).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                                "--disable-pip-version-check", "--no-deps", "--no-index", str(wheel)],
                               capture_output=True, text=True)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "zz-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    resolved = subprocess.run(
        [python, "-c", "from krkn_tui.localcluster.cluster import build_script; p = build_script(); "
                       "print(p); assert p.is_file(), p"], capture_output=True, text=True, cwd=tmp_path)
    assert resolved.returncode == 0, resolved.stdout + resolved.stderr
    script = Path(resolved.stdout.strip())
    assert script.is_relative_to(site.resolve()) and not script.is_symlink(), script
    for name in GO_MODULE:
        assert (script.parent / name).is_file(), name
