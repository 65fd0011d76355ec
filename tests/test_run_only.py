"""`run --only N` counts scenarios from 1, as the console and the dry run's `plan #N` do; the
0-based form of earlier releases lives on as the deprecated `--only-index`, and `--only 0` (the
one number whose meaning changed into nothing) is refused with the way to write it now."""

from __future__ import annotations

import pytest

from test_cli_basics import krkn


def two_scenarios(tmp_path):
    for name, app in (("first", "frontend"), ("second", "backend")):
        (tmp_path / f"{name}.yaml").write_text(
            f"- id: {name}\n  config:\n    namespace_pattern: ^krkn-demo$\n    label_selector: app={app}\n"
            "    kill: 1\n")
    cfg = tmp_path / "config.yaml"
    cfg.write_text("kraken:\n  chaos_scenarios:\n    - pod_disruption_scenarios: [first.yaml, second.yaml]\n"
                   "tunings:\n  wait_duration: 0\n")
    return cfg


def plans(stdout: str) -> list[str]:
    return [line.split(":")[0] for line in stdout.splitlines() if line.startswith("plan #")]


@pytest.mark.cluster
def test_only_counts_from_one_and_only_index_from_zero(tmp_path, kubeconfig):
    cfg = two_scenarios(tmp_path)
    env = {"HOME": str(tmp_path)}
    second = krkn("run", "-c", str(cfg), "--dry-run", "--only", "2", "--kubeconfig", kubeconfig, env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert plans(second.stdout) == ["plan #2 pod_disruption_scenarios"]
    assert "second.yaml" in second.stdout and "first.yaml" not in second.stdout

    old = krkn("run", "-c", str(cfg), "--dry-run", "--only-index", "1", "--kubeconfig", kubeconfig, env=env)
    assert old.returncode == 0, old.stdout + old.stderr
    assert plans(old.stdout) == ["plan #2 pod_disruption_scenarios"]
    assert "--only-index is deprecated; --only counts from 1 (--only-index 1 is --only 2)" in old.stderr


@pytest.mark.parametrize("args, words", [
    (["--only", "0"], "numbered from 1"),
    (["--only", "3"], "no scenario 3 (the config lists 1-2)"),
    (["--only-index", "2"], "no scenario 2 (the config lists 0-1)"),
    (["--only", "1", "--only-index", "0"], "not both"),
    (["--only", "one"], "comma-separated integers"),
])
def test_a_selection_of_nothing_is_one_line_and_exit_2(tmp_path, args, words):
    cfg = two_scenarios(tmp_path)
    out = krkn("run", "-c", str(cfg), *args, env={"KUBECONFIG": str(tmp_path / "none"), "HOME": str(tmp_path)})
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert words in out.stderr and ("--only" in out.stderr)
