"""The console's plain-text helpers, and the rule that the core never imports Textual."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from krkn_tui.config import ScenarioRef
from krkn_tui.rollback import RollbackContent, RunRollback, list_versions
from krkn_tui.tui.rows import file_label, scenario_row, tilde, version_action, version_key, version_search_text
from krkn_tui.tui.settings import ConsoleSettings, load_console_config


def restore(content, api_client):
    return None


def test_scenario_rows_summarise_each_type(tmp_path):
    files = {
        "pod_disruption_scenarios": "- id: k\n  config:\n    namespace_pattern: ^d$\n    label_selector: app=a\n",
        "application_outages_scenarios": "application_outage:\n  duration: 5\n  namespace: d\n  pod_selector: {app: a}\n",
        "node_scenarios": "node_scenarios:\n  - actions: [node_drain_scenario]\n    node_name: n1\n    duration: 3\n",
        "service_disruption_scenarios": "scenarios:\n  - namespace: ^d$\n    sleep: 4\n",
        "hog_scenarios": "hog-type: memory\nduration: 7\nnumber-of-nodes: 2\n",
    }
    summaries = {}
    for i, (stype, text) in enumerate(files.items()):
        (tmp_path / f"{i}.yaml").write_text(text)
        row = scenario_row(ScenarioRef(stype, tmp_path / f"{i}.yaml", i), tmp_path)
        assert row.error is None and row.file_label == f"{i}.yaml"
        summaries[stype] = row.summary
    assert summaries == {
        "pod_disruption_scenarios": "ns~^d$ app=a kill 1, recover ≤120s",
        "application_outages_scenarios": "ns d app=a block Ingress+Egress for 5s",
        "node_scenarios": "node_drain 1 node(s) of n1 for 3s",
        "service_disruption_scenarios": "delete Services+workloads in ns~^d$ for 4s",  # krkn's, no mode
        "hog_scenarios": "memory in ns default on 2 node(s) for 7s",
    }


def test_a_bad_or_missing_scenario_file_becomes_a_one_line_error(tmp_path):
    (tmp_path / "bad.yaml").write_text("application_outage:\n  namespace: d\n")
    bad = scenario_row(ScenarioRef("application_outages_scenarios", tmp_path / "bad.yaml", 0), tmp_path)
    assert bad.error and "pod_selector" in bad.summary and "\n" not in bad.summary
    gone = scenario_row(ScenarioRef("hog_scenarios", tmp_path / "gone.yaml", 1), tmp_path)
    assert gone.error and "\n" not in gone.summary


def test_version_key_survives_execution_and_search_text_covers_the_columns(tmp_path):
    run = RunRollback(tmp_path / "v")
    path = run.set_rollback_callable(restore, RollbackContent("web", "shop"), scenario_type="hog_scenarios",
                                     verb="delete", kind="Pod")
    [before] = list_versions(tmp_path / "v")
    path.rename(str(path) + ".executed")
    [after] = list_versions(tmp_path / "v")
    assert after.status == "executed" and version_key(before) == version_key(after)
    assert version_action(after) == "delete Pod shop/web"
    text = version_search_text(after)
    for word in (run.run_uuid[:8], "hog", "executed", "krkn-tui", "shop/web"):
        assert word in text


def test_paths_are_shown_relative_and_with_tilde(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert tilde(tmp_path / "a" / "b") == "~/a/b" and tilde("/etc/x") == "/etc/x"
    assert file_label(tmp_path / "s" / "x.yaml", tmp_path) == "s/x.yaml"
    assert file_label(Path("/elsewhere/x.yaml"), tmp_path) == "/elsewhere/x.yaml"


def test_settings_versions_override_and_kubeconfig_precedence(tmp_path, monkeypatch):
    kube = tmp_path / "kc"
    kube.write_text("x")
    (tmp_path / "config.yaml").write_text(f"kraken:\n  kubeconfig_path: {kube}\n  rollback_versions_directory: r\n")
    monkeypatch.delenv("KUBECONFIG", raising=False)
    loaded = load_console_config(ConsoleSettings(config_path=tmp_path / "config.yaml"))
    assert loaded.versions_dir == tmp_path / "r" and loaded.archive_dir == tmp_path / "r-archive"
    assert loaded.target.kubeconfig == str(kube)
    flagged = load_console_config(ConsoleSettings(config_path=tmp_path / "config.yaml", kubeconfig="/k", context="c"))
    assert (flagged.target.kubeconfig, flagged.target.context) == ("/k", "c")
    monkeypatch.setenv("KUBECONFIG", "/from-env")
    # the loader reads $KUBECONFIG
    assert load_console_config(ConsoleSettings(config_path=tmp_path / "config.yaml")).target.kubeconfig is None

    override = load_console_config(ConsoleSettings(config_path=tmp_path / "config.yaml", versions_dir=tmp_path / "o"))
    assert override.versions_dir == override.config.versions_dir == tmp_path / "o"
    broken = load_console_config(ConsoleSettings(config_path=tmp_path / "missing.yaml"))
    assert broken.config is None and "not found" in broken.error


def test_the_pod_watch_and_core_load_without_textual():
    code = ("import sys, krkn_tui.kube.podwatch, krkn_tui.engine, krkn_tui.rollback; "
            "sys.exit('textual' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
