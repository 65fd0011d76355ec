"""krkn's configs load unchanged: scenario paths as krkn resolves them (working directory first,
then the config's folder), both layouts of the tunings, and krkn's scenario types that krkn-tui
does not run listed as unsupported instead of refusing the whole config.

The data in tests/data/krkn_repo has the shape of krkn's repository."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from krkn_tui.config import FROM_CONFIG, FROM_CWD, load_config
from krkn_tui.engine import Engine, plan
from krkn_tui.errors import UserError
from krkn_tui.scenarios import load_plugins
from krkn_tui.scenarios.base import REGISTRY
from krkn_tui.scenarios.krkn_only import KRKN_ONLY_TYPES
from runhelpers import krkn

KRKN_REPO = Path(__file__).parent / "data" / "krkn_repo"
CONFIGS = sorted(p.name for p in (KRKN_REPO / "config").glob("*.yaml"))
# krkn's types among the test configs, to check they really mix both kinds.
EXPECTED_UNSUPPORTED = {
    "config.yaml": {"zone_outages_scenarios", "kubevirt_vm_outage"},
    "config_kubernetes.yaml": {"plugin_scenarios"},
    "config_old_tunings.yaml": set(),
    "config_local_paths.yaml": set(),
}
# Scenarios that plan but whose blast radius fails on the demo cluster, by the start of their
# finished line: no demo pod mounts a PVC; the time file's node action targets the local cluster's
# kwok nodes, whose clock is this machine's (refused).
EXPECTED_FAILING = {"config.yaml": {
    "pvc_scenarios": "no running pod in krkn-demo mounts PVC 'data'",
    "time_scenarios [time_scenarios_example.yml#1]": "skew_date refused: node kwok-node-",
}}


@pytest.fixture
def in_krkn_repo(monkeypatch):
    monkeypatch.chdir(KRKN_REPO)


def test_krkn_only_types_and_plugins_do_not_overlap():
    load_plugins()
    assert not set(KRKN_ONLY_TYPES) & set(REGISTRY)


@pytest.mark.parametrize("name", CONFIGS)
def test_each_krkn_shaped_config_loads_from_the_repository_root(in_krkn_repo, name):
    cfg = load_config(Path("config") / name)
    assert {r.scenario_type for r in cfg.unsupported} == EXPECTED_UNSUPPORTED[name]
    assert any(r.supported for r in cfg.scenarios)
    for ref in cfg.scenarios:
        assert ref.resolved_from == FROM_CWD and ref.file == KRKN_REPO / ref.listed_as
        assert ref.listed_as.startswith("scenarios/") and "relative to the working directory" in ref.where
    planned = plan(cfg, skip_unsupported=True)
    assert [p.index for p in planned] == [r.index for r in cfg.scenarios]
    for item, ref in zip(planned, cfg.scenarios):
        assert bool(item.skipped) == (not ref.supported)
        assert item.specs if ref.supported else item.specs == []


@pytest.mark.parametrize("name", [n for n in CONFIGS if EXPECTED_UNSUPPORTED[n]])
def test_run_refuses_unsupported_types_in_one_line(in_krkn_repo, name):
    cfg = load_config(Path("config") / name)
    with pytest.raises(UserError) as info:
        plan(cfg)
    line = str(info.value)
    assert "\n" not in line and "--skip-unsupported" in line and "not supported by krkn-tui" in line
    for t in EXPECTED_UNSUPPORTED[name]:
        assert t in line
    # Selecting only supported positions runs without the flag.
    supported = {r.index for r in cfg.scenarios if r.supported}
    assert {p.index for p in plan(cfg, supported)} == supported


def test_config_folder_is_the_fallback_and_both_places_are_named(tmp_path, monkeypatch):
    conf = tmp_path / "conf"
    (conf / "sc").mkdir(parents=True)
    (conf / "sc" / "pod.yml").write_text((KRKN_REPO / "scenarios/kube/pod.yml").read_text())
    (tmp_path / "cwd" / "sc").mkdir(parents=True)
    (tmp_path / "cwd" / "sc" / "pod.yml").write_text((KRKN_REPO / "scenarios/kube/pod.yml").read_text())
    cfg_path = conf / "config.yaml"
    cfg_path.write_text("kraken:\n  chaos_scenarios:\n    - pod_disruption_scenarios: [sc/pod.yml]\n")

    monkeypatch.chdir(tmp_path / "cwd")  # both exist: the working directory wins, as in krkn
    [ref] = load_config(cfg_path).scenarios
    assert (ref.file, ref.resolved_from) == (tmp_path / "cwd" / "sc" / "pod.yml", FROM_CWD)

    monkeypatch.chdir(tmp_path)  # only beside the config
    [ref] = load_config(cfg_path).scenarios
    assert (ref.file, ref.resolved_from) == (conf / "sc" / "pod.yml", FROM_CONFIG)
    assert ref.where == f"sc/pod.yml -> {conf / 'sc' / 'pod.yml'} (relative to the config folder)"

    (conf / "sc" / "pod.yml").unlink()  # neither: the error names both places
    with pytest.raises(UserError) as info:
        load_config(cfg_path)
    assert str(conf / "sc" / "pod.yml") in str(info.value) and str(tmp_path / "sc" / "pod.yml") in str(info.value)


def test_krkn_repo_config_run_from_elsewhere_names_both_places(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="scenario file not found: .*config/scenarios/kube/cpu-hog.yml "
                                        r"\(nor .*/scenarios/kube/cpu-hog.yml, relative to the working directory\)"):
        load_config(KRKN_REPO / "config" / "config.yaml")


def test_missing_file_of_an_unsupported_type_does_not_stop_the_rest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(KRKN_REPO / "scenarios/kube/pod.yml", tmp_path / "pod.yml")
    cfg = load_config(_write(tmp_path, "kraken:\n  chaos_scenarios:\n    - zone_outages_scenarios: [gone.yml]\n"
                                       "    - pod_disruption_scenarios: [pod.yml]\n"))
    assert [(r.scenario_type, r.supported) for r in cfg.scenarios] == [("zone_outages_scenarios", False),
                                                                       ("pod_disruption_scenarios", True)]


def test_unknown_type_is_still_an_error_with_a_hint(tmp_path):
    hint = "unknown scenario type 'zone_outage_scenarios'; did you mean 'zone_outages_scenarios'"
    with pytest.raises(UserError, match=hint):
        load_config(_write(tmp_path, "kraken:\n  chaos_scenarios:\n    - zone_outage_scenarios: [x.yml]\n"))


@pytest.mark.parametrize("body, wait, iterations", [
    ("kraken:\n  wait_duration: 5\n  iterations: 3\n", 5, 3),  # krkn's older layout
    ("kraken: {}\ntunings:\n  wait_duration: 7\n  iterations: 2\n  daemon_mode: False\n", 7, 2),  # current
    ("kraken:\n  wait_duration: 7\ntunings:\n  iterations: 4\n", 7, 4),  # split across both
    ("kraken:\n  iterations: 2\ntunings:\n  wait_duration: 3\n  iterations: 2\n", 3, 2),  # same value twice
])
def test_both_tunings_layouts(tmp_path, body, wait, iterations):
    cfg = load_config(_write(tmp_path, body))
    assert (cfg.wait_duration, cfg.iterations) == (wait, iterations)


def test_tunings_that_disagree_are_an_error(tmp_path):
    with pytest.raises(UserError, match=r"tunings.wait_duration: is 3 here but 5 in kraken.wait_duration"):
        load_config(_write(tmp_path, "kraken:\n  wait_duration: 5\ntunings:\n  wait_duration: 3\n"))
    with pytest.raises(UserError, match=r"kraken.iterations: expected an integer"):
        load_config(_write(tmp_path, "kraken:\n  iterations: many\n"))


def _krkn_repo_copy(tmp_path: Path) -> Path:
    root = tmp_path / "krkn"
    shutil.copytree(KRKN_REPO, root)
    return root


def test_kubeconfig_and_versions_paths_follow_the_scenario_rule(tmp_path, monkeypatch):
    """kraken.kubeconfig_path and rollback_versions_directory: the working directory when the
    path exists there (krkn's reading), else the config's folder, existing or not."""
    root = _krkn_repo_copy(tmp_path)
    cfg_path = root / "config" / "config_local_paths.yaml"
    monkeypatch.chdir(root)
    cfg = load_config(Path("config") / cfg_path.name)
    # Neither exists yet: beside the config, the same place from any folder.
    assert (cfg.kubeconfig_path, cfg.kubeconfig_from.resolved_from) == (root / "config" / "kube" / "config", FROM_CONFIG)
    assert (cfg.versions_dir, cfg.versions_from.resolved_from) == (root / "config" / "rollback", FROM_CONFIG)
    assert cfg.versions_from.where == f"rollback -> {root / 'config' / 'rollback'} (relative to the config folder)"

    (root / "kube").mkdir()
    (root / "kube" / "config").write_text("{}")
    (root / "rollback").mkdir()
    cfg = load_config(Path("config") / cfg_path.name)  # krkn's layout, run from the root: the root's
    assert (cfg.kubeconfig_path, cfg.kubeconfig_from.resolved_from) == (root / "kube" / "config", FROM_CWD)
    assert (cfg.versions_dir, cfg.versions_from.resolved_from) == (root / "rollback", FROM_CWD)
    assert cfg.versions_from.where == f"rollback -> {root / 'rollback'} (relative to the working directory)"
    (root / "config" / "rollback").mkdir()  # both: the other one is named, never silently ignored
    assert f"{root / 'config' / 'rollback'} exists too and is not used" in load_config(cfg_path).versions_from.where

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # from another folder: the config's folder, as for its scenarios
    cfg = load_config(cfg_path, check_files=False)
    assert (cfg.kubeconfig_path, cfg.versions_dir) == (root / "config" / "kube" / "config", root / "config" / "rollback")
    assert {r.resolved_from for r in cfg.scenarios} == {cfg.kubeconfig_from.resolved_from} == {FROM_CONFIG}


def _write(folder: Path, text: str) -> Path:
    path = folder / "config.yaml"
    path.write_text(text)
    return path


# ---- on the local cluster ---------------------------------------------------------------------


@pytest.mark.cluster
@pytest.mark.parametrize("name", CONFIGS)
def test_dry_run_skip_unsupported_plans_the_supported_ones(kubeconfig, tmp_path, name):
    env = {"HOME": str(tmp_path)}  # the configs leave the versions folder to krkn's default under ~
    if EXPECTED_UNSUPPORTED[name]:  # without the flag, a krkn-only type is refused in one line
        refused = krkn("run", "-c", f"config/{name}", "--dry-run", kubeconfig=kubeconfig, env=env, cwd=KRKN_REPO)
        assert refused.returncode == 2 and refused.stdout == ""
        assert len(refused.stderr.splitlines()) == 1 and "--skip-unsupported" in refused.stderr

    done = krkn("run", "-c", f"config/{name}", "--dry-run", "--skip-unsupported", kubeconfig=kubeconfig, env=env,
                cwd=KRKN_REPO)
    assert done.returncode == (1 if name in EXPECTED_FAILING else 0), done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    cfg = load_config(KRKN_REPO / "config" / name, check_files=False)
    plan_lines = [line for line in done.stdout.splitlines() if line.startswith("plan #")]
    assert len(plan_lines) == len(cfg.scenarios)
    for line, ref in zip(plan_lines, cfg.scenarios):
        assert f"{ref.listed_as} -> " in line and "(relative to the working directory)" in line
        assert line.endswith("skipped: not supported by krkn-tui") == (not ref.supported)
    finished = [line for line in done.stdout.splitlines() if "■" in line]
    assert sum("skipped" in line for line in finished) == len(cfg.unsupported) * cfg.iterations
    failing = EXPECTED_FAILING.get(name, {})
    for line in finished:
        if "skipped" in line:
            continue
        [kind] = [t for t in REGISTRY if f"■ {t} " in line]
        fails = [why for what, why in failing.items() if f"■ {what} " in line or f"■ {what}:" in line]
        assert (fails[0] in line and ": failed in" in line) if fails else ": passed in" in line, line
    verdict = "failed" if failing else "passed"
    skipped = len(cfg.unsupported) * cfg.iterations
    assert (f"run {verdict} ({skipped} skipped)" if skipped else f"run {verdict}") in done.stdout
    assert not (tmp_path / ".krkn").exists()  # a dry run writes nothing


@pytest.mark.cluster
def test_real_run_reports_each_skipped_scenario(api_client, namespace, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "outage.yaml").write_text(
        f"application_outage:\n  duration: 1\n  namespace: {namespace}\n  pod_selector: {{app: web}}\n"
        "  block: [Ingress]\n")
    cfg = load_config(_write(tmp_path, f"kraken:\n  rollback_versions_directory: {tmp_path / 'v'}\n"
                                       "  chaos_scenarios:\n    - kubevirt_vm_outage: [c.yml]\n"
                                       "    - application_outages_scenarios: [outage.yaml]\n"
                                       "    - zone_outages_scenarios: [z.yml]\ntunings:\n  wait_duration: 0\n"))
    result = Engine(cfg, lambda: api_client).run(plan(cfg, skip_unsupported=True))
    assert result.status == "passed" and result.exit_code == 0
    report = json.loads(result.report_path.read_text())
    assert [(s["scenario_type"], s["status"]) for s in report["scenarios"]] == [
        ("kubevirt_vm_outage", "skipped"), ("application_outages_scenarios", "passed"),
        ("zone_outages_scenarios", "skipped")]
    assert {s["message"] for s in report["scenarios"] if s["status"] == "skipped"} == {"not supported by krkn-tui"}


@pytest.mark.cluster
def test_dry_run_says_where_the_kubeconfig_and_versions_folder_were_found(kubeconfig, tmp_path):
    root = _krkn_repo_copy(tmp_path)
    (root / "kube").mkdir()
    shutil.copy(kubeconfig, root / "kube" / "config")
    (root / "rollback").mkdir(mode=0o700)
    env = {"KUBECONFIG": ""}  # the config's kubeconfig_path decides
    args = ("run", "-c", "config/config_local_paths.yaml", "--dry-run", "--skip-unsupported")
    done = krkn(*args, env=env, cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"kubeconfig: kube/config -> {root / 'kube' / 'config'} (relative to the working directory)" in done.stdout
    assert f"versions: rollback -> {root / 'rollback'} (relative to the working directory)" in done.stdout

    # From elsewhere the root's files are not the working directory's: krkn would not find the
    # kubeconfig either; the line names both places tried.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copytree(root / "scenarios", root / "config" / "scenarios")  # its scenarios are found beside it
    lost = krkn("run", "-c", root / "config" / "config_local_paths.yaml", "--dry-run", "--skip-unsupported",
                env=env, cwd=elsewhere)
    assert lost.returncode == 2 and "Traceback" not in lost.stderr
    assert str(root / "config" / "kube" / "config") in lost.stderr and len(lost.stderr.splitlines()) == 1
    assert (f"kubeconfig: kube/config -> {root / 'config' / 'kube' / 'config'} (relative to the config folder); "
            f"not found, nor {elsewhere / 'kube' / 'config'} (relative to the working directory)") in lost.stdout

    # Beside the config it is found, and said so; a flag overriding the config is said too.
    (root / "config" / "kube").mkdir()
    shutil.copy(kubeconfig, root / "config" / "kube" / "config")
    found = krkn("run", "-c", root / "config" / "config_local_paths.yaml", "--dry-run", "--skip-unsupported",
                 "-d", tmp_path / "flag-versions", env=env, cwd=elsewhere)
    assert found.returncode == 0, found.stdout + found.stderr
    assert f"kubeconfig: kube/config -> {root / 'config' / 'kube' / 'config'} (relative to the config folder)" \
        in found.stdout
    assert "versions: kraken.rollback_versions_directory (rollback -> " in found.stdout
    assert "not used: overridden by -d/--versions-dir" in found.stdout


@pytest.mark.cluster
def test_a_krkn_service_disruption_file_is_previewed_as_krkn_deletion(kubeconfig, tmp_path):
    """krkn's regex_namespace.yaml has no mode: the dry run says what krkn would delete (and that
    it comes back here), never a scale-down."""
    cfg = load_config(KRKN_REPO / "config" / "config.yaml", check_files=False)
    [ref] = [r for r in cfg.scenarios if r.scenario_type == "service_disruption_scenarios"]
    done = krkn("run", "-c", "config/config.yaml", "--dry-run", "--only", ref.index + 1, kubeconfig=kubeconfig,
                env={"HOME": str(tmp_path)}, cwd=KRKN_REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 namespace (krkn-demo): all; the namespace stays" in done.stdout
    assert "Deployment krkn-demo/frontend" in done.stdout and "Service krkn-demo/frontend" in done.stdout
    assert "deleted (as krkn does), re-created after 15s" in done.stdout
    assert "dry run: would delete, then re-create, in namespace krkn-demo (which stays): " in done.stdout
    # the scale mode's own words (the output also holds paths, which may contain anything)
    assert "scaled to 0" not in done.stdout and "would scale to 0" not in done.stdout
