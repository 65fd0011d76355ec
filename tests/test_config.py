"""config.yaml loading, the YAML reader's limits, and the config half of the bad-input corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from krkn_tui.config import (
    DEFAULT_PROTECTED_NAMESPACES,
    Config,
    ScenarioRef,
    load_config,
)
from krkn_tui.errors import UserError
from krkn_tui.scenarios import scenario_types
from krkn_tui.yamlio import MAX_BYTES, load_yaml_file

ROOT = Path(__file__).resolve().parent.parent
BAD_DIR = Path(__file__).parent / "data" / "bad"
SUPPORT_FILES = {"cases.yaml", "ok_pod.yaml"}  # valid files the bad configs point at


def _rows() -> list[dict]:
    return yaml.safe_load((BAD_DIR / "cases.yaml").read_text())


def _one_line_error(info, path: Path) -> str:
    text = str(info.value)
    assert "\n" not in text and "\r" not in text, text
    assert text.startswith(f"{path}: "), text
    return text


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ---- shipped sample ---------------------------------------------------------------------------


def test_shipped_config_parses():
    cfg = load_config(ROOT / "config.yaml")
    assert isinstance(cfg, Config)
    assert cfg.auto_rollback is True
    assert cfg.versions_dir == Path("~/.krkn/rollback").expanduser()
    assert cfg.wait_duration == 1 and cfg.iterations == 1
    assert cfg.protected_namespaces == DEFAULT_PROTECTED_NAMESPACES
    assert cfg.allow_protected is False
    # one file of each type that runs without the real node (exec and attacker pods need it)
    on_demo = [t for t in scenario_types() if t not in ("container_scenarios", "pvc_scenarios", "time_scenarios",
                                                        "network_chaos_ng_scenarios", "network_chaos_scenarios",
                                                        "ingress_node_scenarios", "pod_network_scenarios",
                                                        "service_hijacking_scenarios",
                                                        "syn_flood_scenarios", "http_load_scenarios",
                                                        "storage_throttle_scenarios")]
    assert sorted(r.scenario_type for r in cfg.scenarios) == on_demo
    assert [r.index for r in cfg.scenarios] == list(range(5))
    for ref in cfg.scenarios:
        assert ref.file.is_file() and ref.file.parent == ROOT / "scenarios"


# ---- values -----------------------------------------------------------------------------------


def test_example_from_the_brief(tmp_path):
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "pod.yaml").write_text("[]\n")
    path = write(tmp_path, """\
kraken:
  kubeconfig_path: ~/.kube/config
  auto_rollback: true
  rollback_versions_directory:
  protected_namespaces: [my-prod]
  allow_protected_namespaces: false
  chaos_scenarios:
    - pod_disruption_scenarios:
        - scenarios/pod.yaml
tunings:
  wait_duration: 1
  iterations: 1
""")
    cfg = load_config(path)
    assert cfg.path == path
    assert cfg.kubeconfig_path == Path.home() / ".kube" / "config"
    assert cfg.protected_namespaces == {"my-prod", "kube-system", "kube-public", "kube-node-lease"}
    assert cfg.scenarios == [ScenarioRef(
        "pod_disruption_scenarios", tmp_path / "scenarios" / "pod.yaml", 0,
        "kraken.chaos_scenarios[0].pod_disruption_scenarios[0]", "config folder", "scenarios/pod.yaml",
    )]
    assert isinstance(cfg.wait_duration, float) and isinstance(cfg.iterations, int)


def test_defaults(tmp_path):
    cfg = load_config(write(tmp_path, "kraken: {}\n"))
    assert cfg.kubeconfig_path is None
    assert cfg.auto_rollback is True
    assert cfg.versions_dir == Path.home() / ".krkn" / "rollback"
    assert cfg.protected_namespaces == DEFAULT_PROTECTED_NAMESPACES
    assert cfg.allow_protected is False
    assert cfg.scenarios == []
    assert cfg.wait_duration == 60 and cfg.iterations == 1  # krkn's defaults


def test_relative_paths_follow_the_config_folder_not_the_cwd(tmp_path, monkeypatch):
    conf_dir = tmp_path / "conf"
    write(conf_dir, "- id: x\n", "sc/a.yaml")
    path = write(conf_dir, """\
kraken:
  kubeconfig_path: kube/cfg
  rollback_versions_directory: versions
  chaos_scenarios:
    - pod_disruption_scenarios: [sc/a.yaml, ./sc/../sc/a.yaml]
""")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(os.path.relpath(path))
    assert cfg.kubeconfig_path == conf_dir / "kube" / "cfg"
    assert cfg.versions_dir == conf_dir / "versions"
    assert [r.file for r in cfg.scenarios] == [conf_dir / "sc" / "a.yaml"] * 2
    assert [r.index for r in cfg.scenarios] == [0, 1]


def test_home_and_absolute_paths(tmp_path):
    target = write(tmp_path, "x: 1\n", "abs.yaml")
    cfg = load_config(write(tmp_path / "c", f"""\
kraken:
  rollback_versions_directory: ~/chaos-versions
  chaos_scenarios:
    - hog_scenarios: [{target}]
"""))
    assert cfg.versions_dir == Path.home() / "chaos-versions"
    assert cfg.scenarios[0].file == target


def test_symlink_out_of_the_config_folder_is_fine(tmp_path):
    outside = write(tmp_path, "duration: 1\nhog-type: cpu\n", "outside/hog.yaml")
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "hog.yaml").symlink_to(outside)
    (conf / "dir-link").symlink_to(outside.parent)
    cfg = load_config(write(conf, "kraken:\n  chaos_scenarios:\n    - hog_scenarios: [hog.yaml]\n"))
    assert cfg.scenarios[0].file == conf / "hog.yaml"  # the name the user wrote, not the target

    path = write(conf, "kraken:\n  chaos_scenarios:\n    - hog_scenarios: [dir-link]\n", "bad.yaml")
    with pytest.raises(UserError, match="is a directory"):
        load_config(path)


def test_scenario_that_is_not_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "pipe.yaml")
    path = write(tmp_path, "kraken:\n  chaos_scenarios:\n    - node_scenarios: [pipe.yaml]\n")
    with pytest.raises(UserError, match="not a regular file"):
        load_config(path)


def test_broken_symlink_scenario(tmp_path):
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    path = write(tmp_path, "kraken:\n  chaos_scenarios:\n    - node_scenarios: [gone.yaml]\n")
    with pytest.raises(UserError, match="scenario file not found"):
        load_config(path)


def test_check_files_false_skips_existence(tmp_path):
    path = write(tmp_path, "kraken:\n  chaos_scenarios:\n    - node_scenarios: [missing.yaml]\n")
    cfg = load_config(path, check_files=False)
    assert cfg.scenarios[0].file == tmp_path / "missing.yaml"


def test_known_types_parameter(tmp_path):
    path = write(tmp_path, "kraken:\n  chaos_scenarios:\n    - chaos_monkey_scenarios: [t.yaml]\n")
    with pytest.raises(UserError) as info:
        load_config(path, check_files=False)
    assert "krkn-tui runs: " + ", ".join(scenario_types()) in str(info.value)
    cfg = load_config(path, known_types=["chaos_monkey_scenarios"], check_files=False)
    assert cfg.scenarios[0].scenario_type == "chaos_monkey_scenarios" and cfg.scenarios[0].supported
    # krkn's own types load, marked unsupported, unless the caller runs them.
    time_cfg = write(tmp_path, "kraken:\n  chaos_scenarios:\n    - zone_outages_scenarios: [t.yaml]\n", "t.yaml.cfg")
    assert [r.supported for r in load_config(time_cfg).scenarios] == [False]
    assert [r.supported for r in load_config(time_cfg, known_types=["zone_outages_scenarios"], check_files=False).scenarios] \
        == [True]
    with pytest.raises(UserError, match=r"unknown scenario type 'node_scenarios' \(krkn-tui runs: zone_outages_scenarios;"):
        load_config(write(tmp_path, "kraken:\n  chaos_scenarios:\n    - node_scenarios: []\n", "n.yaml"),
                    known_types=("zone_outages_scenarios",))


def test_krkn_config_with_its_other_sections(tmp_path):
    write(tmp_path, "- id: x\n", "scenarios/pod.yml")
    cfg = load_config(write(tmp_path, """\
kraken:
    distribution: kubernetes
    kubeconfig_path: /etc/kube/config
    exit_on_failure: False
    publish_kraken_status: True
    signal_state: RUN
    signal_address: 0.0.0.0
    port: 8081
    some_future_krkn_option: {nested: [1, 2]}
    chaos_scenarios:
        - pod_disruption_scenarios:
            - scenarios/pod.yml
cerberus:
    cerberus_enabled: False
    cerberus_url:
performance_monitoring:
    prometheus_url:
    enable_alerts: False
elastic:
    enable_elastic: False
telemetry:
    enabled: False
    logs_filter_patterns: ["(\\\\w{3}).+"]
health_checks:
    interval: 2
resiliency: {}
tunings:
    wait_duration: 0.5
    iterations: 3
    daemon_mode: False
"""))
    assert cfg.kubeconfig_path == Path("/etc/kube/config")
    assert cfg.wait_duration == 0.5 and cfg.iterations == 3
    assert len(cfg.scenarios) == 1


def test_empty_scenario_list_for_a_type_is_allowed(tmp_path):
    cfg = load_config(write(tmp_path, "kraken:\n  chaos_scenarios:\n    - node_scenarios: []\n"))
    assert cfg.scenarios == []


def test_wait_duration_accepts_int_and_float(tmp_path):
    for text, value in (("0", 0.0), ("2", 2.0), ("1.5", 1.5)):
        cfg = load_config(write(tmp_path, f"kraken: {{}}\ntunings:\n  wait_duration: {text}\n"))
        assert cfg.wait_duration == value


# ---- the YAML reader --------------------------------------------------------------------------


def test_huge_file_is_refused_before_parsing(tmp_path):
    path = tmp_path / "huge.yaml"
    with open(path, "w") as fh:
        fh.write("kraken:\n  chaos_scenarios: []\n")
        fh.write("# padding\n" * (MAX_BYTES // 10 + 1))
    with pytest.raises(UserError) as info:
        load_config(path)
    assert "larger than 1 MiB" in _one_line_error(info, path)


def test_file_just_under_the_limit_loads(tmp_path):
    path = tmp_path / "big.yaml"
    head = "kraken: {}\n"
    path.write_text(head + "#" * (MAX_BYTES - len(head) - 1) + "\n")
    assert path.stat().st_size == MAX_BYTES
    assert load_config(path).scenarios == []


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(UserError) as info:
        load_config(tmp_path / "nope.yaml")
    assert "config file not found" in _one_line_error(info, tmp_path / "nope.yaml")
    with pytest.raises(UserError) as info:
        load_config(tmp_path)
    assert "config file is a directory" in _one_line_error(info, tmp_path)
    with pytest.raises(UserError, match="scenario file not found"):
        load_yaml_file(tmp_path / "nope.yaml", what="scenario")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path):
    path = write(tmp_path, "kraken: {}\n")
    path.chmod(0)
    with pytest.raises(UserError) as info:
        load_config(path)
    assert "permission denied" in _one_line_error(info, path)


def test_permission_denied_even_as_root(tmp_path, monkeypatch):
    import krkn_tui.yamlio as yamlio

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(yamlio, "open", refuse, raising=False)
    path = write(tmp_path, "kraken: {}\n")
    with pytest.raises(UserError) as info:
        load_config(path)
    assert "cannot read config file: permission denied" in _one_line_error(info, path)


def test_nul_in_path_is_a_user_error():
    with pytest.raises(UserError, match="cannot read config file"):
        load_config("con\0fig.yaml")


def test_utf8_bom_and_merge_keys_are_fine(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes("\ufeffbase: &b {iterations: 2}\nkraken: {}\ntunings: {<<: *b, wait_duration: 3}\n"
                     .encode("utf-8"))
    cfg = load_config(path)
    assert (cfg.iterations, cfg.wait_duration) == (2, 3.0)


def test_merge_may_override_but_explicit_duplicates_may_not(tmp_path):
    ok = write(tmp_path, "a: &a {x: 1}\nb: {<<: *a, x: 2}\n", "ok.yaml")
    assert load_yaml_file(ok) == {"a": {"x": 1}, "b": {"x": 2}}
    for text, key in (("x: 1\ny: 2\nx: 3\n", "'x'"), ("yes: 1\ntrue: 2\n", "'true'"), ("1: a\n0x1: b\n", "'0x1'")):
        path = write(tmp_path, text, "dup.yaml")
        with pytest.raises(UserError, match=f"duplicate key {key}"):
            load_yaml_file(path)


def test_allow_empty(tmp_path):
    path = write(tmp_path, "# nothing\n", "e.yaml")
    assert load_yaml_file(path, allow_empty=True) is None
    with pytest.raises(UserError, match="thing file is empty"):
        load_yaml_file(path, what="thing")


def test_one_hundred_aliases_are_allowed(tmp_path):
    path = write(tmp_path, "x: &x 1\ny: [" + ", ".join(["*x"] * 100) + "]\n", "a.yaml")
    assert load_yaml_file(path)["y"] == [1] * 100


# ---- bad-input corpus (config half; scenario half in test_specs.py) ----------------------------


def test_corpus_is_complete():
    rows = _rows()
    listed = {row["file"] for row in rows}
    on_disk = {p.name for p in BAD_DIR.iterdir()} - SUPPORT_FILES
    assert listed == on_disk
    assert len(rows) == len(listed) >= 40
    assert all(set(row) == {"file", "kind", "field", "message"} for row in rows)
    assert {row["kind"] for row in rows} == {"config", *scenario_types()}


@pytest.mark.parametrize("row", [pytest.param(r, id=r["file"]) for r in _rows() if r["kind"] == "config"])
def test_bad_config(row):
    path = BAD_DIR / row["file"]
    with pytest.raises(UserError) as info:
        load_config(path)
    text = _one_line_error(info, path)
    assert info.value.field == row["field"], text
    if row["field"] is not None:
        assert text.startswith(f"{path}: {row['field']}: "), text
    assert row["message"] in text, text


# ---- property: only UserError comes out -------------------------------------------------------

_TOKENS = [
    "kraken:", "tunings:", "chaos_scenarios:", "pod_disruption_scenarios:", "node_scenarios:",
    "hog_scenarios:", "wait_duration:", "iterations:", "auto_rollback:", "kubeconfig_path:",
    "rollback_versions_directory:", "protected_namespaces:", "allow_protected_namespaces:",
    "\n", "\n  ", "\n    ", "  ", "- ", "- - ", "[", "]", "{", "}", ", ", ": ", "&a ", "*a", "&b ", "*b",
    "<<: ", "? ", "!!int ", "!!str ", "!!float ", "!!binary ", "!!set ", "!!python/none ", "!local ",
    "'", '"', "---\n", "...\n", "# c", "|\n", ">\n", "\t", "%YAML 1.1\n", "~", "null", "true", "no",
    "0", "1", "-1", "1.5", ".inf", ".nan", "0x1f", "1e999", "2024-13-45", "2024-01-01", "ok.yaml",
    "scenarios/x.yaml", "/", ".", "..", "\x00", "\x85", "\ufeff", "é", "\U0001F600", "\\",
]
_yamlish = st.lists(st.sampled_from(_TOKENS), max_size=40).map("".join)
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
    st.sampled_from(["ok.yaml", ".", "missing.yaml", "~", ""]),
)
_keys = st.sampled_from([
    "kraken", "tunings", "chaos_scenarios", "pod_disruption_scenarios", "node_scenarios",
    "wait_duration", "iterations", "auto_rollback", "kubeconfig_path", "rollback_versions_directory",
    "protected_namespaces", "allow_protected_namespaces", "cerberus", "x",
])
_trees = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=25,
)
_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("prop")
    (folder / "ok.yaml").write_text("- id: x\n")
    return folder


def _only_user_errors(path: Path) -> None:
    try:
        load_config(path)
    except UserError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(str(path))


@_SETTINGS
@given(text=_yamlish)
def test_yamlish_text_only_raises_user_error(scratch, text):
    path = scratch / "c.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    _only_user_errors(path)


@_SETTINGS
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_only_raise_user_error(scratch, data):
    path = scratch / "c.yaml"
    path.write_bytes(data)
    _only_user_errors(path)


@_SETTINGS
@given(tree=st.dictionaries(_keys, _trees, max_size=4))
def test_structured_configs_only_raise_user_error(scratch, tree):
    path = scratch / "c.yaml"
    path.write_text(yaml.safe_dump(tree, allow_unicode=True))
    _only_user_errors(path)
