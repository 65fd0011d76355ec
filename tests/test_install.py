"""The README's set-up commands install into the project's .venv, never into the system
interpreter, and CI fails on any failing test run (pytest's "no tests collected" included)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def dry_run(folder: Path, *targets: str) -> list[str]:
    out = subprocess.run(["make", "-n", "-C", str(folder), *targets], capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if line.strip() and not line.startswith("make")]


def test_make_creates_and_uses_the_project_venv(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    lines = dry_run(tmp_path, "install", "test", "console")
    assert "python3 -m venv .venv" in lines[0]
    assert lines[1] == ".venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'"
    commands = lines[2:]
    assert commands and all(line.startswith((".venv/bin/python ", "touch .venv/")) for line in commands), commands


def test_the_makefile_never_calls_pip_or_python_outside_the_venv():
    recipes = [line.strip() for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith("\t")]
    for line in recipes:
        # pip only as the venv interpreter's module: never `pip ...` nor `python3 -m pip ...`
        for m in re.finditer(r"\bpip3?\b", line):
            assert line[:m.start()].endswith("$(PY) -m "), line
        assert "$(PYTHON)" not in line or "-m venv" in line, line


def test_ci_fails_when_make_test_fails_even_with_no_tests_collected(tmp_path):
    (tmp_path / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "run", tmp_path / ".ci" / "run")
    (tmp_path / "Makefile").write_text("test:\n\texit 5\n")
    out = subprocess.run(["bash", str(tmp_path / ".ci" / "run")], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "KRKN_TUI_CLUSTER_DIR": str(tmp_path / "cluster")})
    assert out.returncode != 0 and "make test failed" in out.stderr
    (tmp_path / "Makefile").write_text("test:\n\ttrue\n")
    out = subprocess.run(["bash", str(tmp_path / ".ci" / "run")], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "KRKN_TUI_CLUSTER_DIR": str(tmp_path / "cluster")})
    assert out.returncode == 0, out.stderr
