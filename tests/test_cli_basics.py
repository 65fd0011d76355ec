"""Command-line contract that needs no cluster: one-line errors with exit 2, offline listing,
and a core that never imports Textual."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

CORE_MODULES = ["krkn_tui.config", "krkn_tui.engine", "krkn_tui.rollback", "krkn_tui.scenarios.base",
                "krkn_tui.records", "krkn_tui.kube.client", "krkn_tui.kube.poddetail", "krkn_tui.kube.podlogs",
                "krkn_tui.kube.liveness",
                "krkn_tui.commands.run",
                "krkn_tui.commands.rollback", "krkn_tui.localcluster"]


def krkn(*args, env=None, cwd=None):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "krkn_tui", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=120)


def test_core_imports_no_textual():
    code = "import sys\n" + "".join(f"import {m}\n" for m in CORE_MODULES) + \
        "from krkn_tui.scenarios import load_plugins\nload_plugins()\nprint('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("body, field", [
    ("kraken: [\n", "config.yaml"),
    ("kraken:\n  chaos_scenarios:\n    - pod_disruption_scenarios:\n        - missing.yaml\n", "missing.yaml"),
    ("kraken:\n  chaos_scenarios:\n    - gremlin_scenarios: [x.yaml]\n", "gremlin_scenarios"),
    ("kraken:\n  chaos_scenarios: []\ntunings:\n  iterations: zero\n", "tunings.iterations"),
])
def test_run_with_bad_config_is_one_line_and_exit_2(tmp_path, body, field):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(body)
    out = krkn("run", "-c", str(cfg), env={"KUBECONFIG": str(tmp_path / "none")})
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert str(cfg) in out.stderr and field in out.stderr


def test_run_with_bad_scenario_file_names_file_and_field(tmp_path):
    (tmp_path / "pod.yaml").write_text("- config:\n    namespace_pattern: ^x$\n    label_selector: app=x\n    kill: many\n")
    cfg = tmp_path / "config.yaml"
    cfg.write_text("kraken:\n  chaos_scenarios:\n    - pod_disruption_scenarios: [pod.yaml]\n")
    out = krkn("run", "-c", str(cfg), env={"KUBECONFIG": str(tmp_path / "none")})
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "pod.yaml" in out.stderr and "kill" in out.stderr


def test_unreachable_cluster_is_one_line(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: Config
        clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
        users: [{name: u, user: {token: t}}]
        contexts: [{name: x, context: {cluster: c, user: u}}]
        current-context: x
        """))
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"kraken:\n  rollback_versions_directory: {tmp_path / 'v'}\n  chaos_scenarios: []\n")
    out = krkn("run", "-c", str(cfg), "--kubeconfig", str(kubeconfig))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "127.0.0.1:1" in out.stderr
    assert not (tmp_path / "v").exists()  # nothing was written


def test_missing_kubeconfig_is_one_line(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("kraken:\n  chaos_scenarios: []\n")
    out = krkn("run", "-c", str(cfg), "--kubeconfig", str(tmp_path / "absent"))
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "absent" in out.stderr and "kubeconfig not found" in out.stderr


def test_list_rollback_works_offline(tmp_path):
    from krkn_tui.rollback import RollbackContent, RunRollback

    from rollback_fixtures import noop_rollback

    reg = RunRollback(tmp_path / "versions")
    path = reg.set_rollback_callable(noop_rollback, RollbackContent("web", "demo"),
                                     scenario_type="pod_disruption_scenarios", verb="delete", kind="Pod")
    out = krkn("list-rollback", "-d", str(tmp_path / "versions"), "--json",
               env={"KUBECONFIG": str(tmp_path / "no-such-kubeconfig")})
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [(r["file"], r["status"], r["namespace"], r["name"]) for r in rows] == [(str(path), "pending", "demo", "web")]
    shown = krkn("show-rollback", str(path))
    assert shown.returncode == 0 and "def noop_rollback" in shown.stdout


def test_execute_and_archive_need_a_selection(tmp_path):
    for cmd in ("execute-rollback", "archive-rollback"):
        out = krkn(cmd, "-d", str(tmp_path))
        assert out.returncode == 2 and "name a run" in out.stderr


def _imported_modules(path, package: str) -> set[str]:
    """Every module a file imports, anywhere in it (functions too), relative imports resolved."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[:len(base) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return found


def test_no_core_module_imports_textual_or_the_console_anywhere():
    """Read on the syntax tree of every core module (all but tui/, commands/ and cli.py), so an
    import inside a function that a quick import never runs counts too."""
    from pathlib import Path

    package_root = Path(__file__).resolve().parent.parent / "krkn_tui"
    offenders = []
    for path in sorted(package_root.rglob("*.py")):
        rel = path.relative_to(package_root.parent)
        if rel.parts[1] in ("tui", "commands", "cli.py", "__main__.py"):
            continue
        package = ".".join(rel.with_suffix("").parts[:-1] if path.name != "__init__.py"
                           else rel.parent.parts)
        for module in _imported_modules(path, package):
            if module.split(".")[0] == "textual" or module.startswith(("krkn_tui.tui", "krkn_tui.commands")):
                offenders.append(f"{rel}: {module}")
    assert len(list(package_root.rglob("*.py"))) > 80  # the walk saw the package
    assert not offenders, offenders
