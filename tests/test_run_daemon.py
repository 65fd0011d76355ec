"""krkn's daemon mode (`tunings.daemon_mode`, or `kraken.daemon_mode` in the older layout): the
scenarios repeat until the run is stopped; a stop rolls back what is in force, as the emergency
stop does. The config part is pure logic; the runs are on the local cluster."""

from __future__ import annotations

import itertools
import json
import signal
import threading
from pathlib import Path

import pytest
from kubernetes import client

from krkn_tui import events as ev
from krkn_tui.commands.render import render
from krkn_tui.config import load_config
from krkn_tui.engine import Engine, iteration_numbers, plan, repeat_note
from krkn_tui.errors import UserError
from krkn_tui.rollback import list_versions
from runhelpers import Run, disk_problems, fill_namespace, krkn, pending


def _config(tmp_path: Path, namespace: str, tunings: str, kraken: str = "", duration: float = 1) -> Path:
    (tmp_path / "outage.yaml").write_text(
        f"application_outage:\n  duration: {duration}\n  namespace: {namespace}\n"
        "  pod_selector: {app: web}\n  block: [Ingress]\n")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"kraken:\n  rollback_versions_directory: {tmp_path / 'versions'}\n{kraken}"
                   "  chaos_scenarios:\n    - application_outages_scenarios: [outage.yaml]\n"
                   f"tunings:\n{tunings}")
    return cfg


# ---- the config: both of krkn's places, pure logic -------------------------------------------------


@pytest.mark.parametrize("tunings, kraken, daemon", [
    ("  daemon_mode: true\n", "", True),
    ("  daemon_mode: False\n", "", False),
    ("  wait_duration: 0\n", "  daemon_mode: true\n", True),  # the older place, under kraken
    ("  daemon_mode: true\n", "  daemon_mode: true\n", True),  # both, agreeing
    ("  iterations: 3\n", "", False),
])
def test_daemon_mode_is_read_from_both_places(tmp_path, tunings, kraken, daemon):
    cfg = load_config(_config(tmp_path, "ns", tunings, kraken))
    assert cfg.daemon_mode is daemon


def test_daemon_mode_places_that_disagree_or_are_not_booleans_are_one_line_errors(tmp_path):
    with pytest.raises(UserError, match=r"tunings.daemon_mode: is false here but true in kraken.daemon_mode"):
        load_config(_config(tmp_path, "ns", "  daemon_mode: false\n", "  daemon_mode: true\n"))
    with pytest.raises(UserError, match=r"tunings.daemon_mode: expected true or false, got"):
        load_config(_config(tmp_path, "ns", "  daemon_mode: forever\n"))
    with pytest.raises(UserError, match=r"did you mean 'daemon_mode'"):
        load_config(_config(tmp_path, "ns", "  deamon_mode: true\n"))


def test_daemon_mode_repeats_without_end_and_a_dry_run_plans_one_iteration(tmp_path):
    cfg = load_config(_config(tmp_path, "ns", "  daemon_mode: true\n  iterations: 2\n"))
    assert list(itertools.islice(iteration_numbers(cfg, dry_run=False), 1000)) == list(range(1000))  # no end:
    # krkn ignores `iterations` in daemon mode
    assert list(iteration_numbers(cfg, dry_run=True)) == [0]
    assert list(iteration_numbers(cfg, dry_run=False, runnable=False)) == [0]  # nothing to repeat: no spin
    assert render(ev.IterationStarted(4, 2, True)) == "● iteration 4 (daemon)"
    assert render(ev.IterationStarted(2, 3)) == "● iteration 2/3"
    assert repeat_note(cfg, dry_run=True) == (
        "daemon mode: this dry run plans one iteration; a real run repeats the scenarios until stopped")
    assert "repeat until stopped" in repeat_note(cfg, dry_run=False)
    assert repeat_note(load_config(_config(tmp_path, "ns", "  iterations: 2\n")), dry_run=False) is None


# ---- on the local cluster ---------------------------------------------------------------------------


def _policies(api_client, namespace) -> list[str]:
    return [p.metadata.name for p in client.NetworkingV1Api(api_client).list_namespaced_network_policy(namespace).items]


@pytest.mark.cluster
def test_a_stop_event_ends_a_daemon_run_with_everything_rolled_back(tmp_path, namespace, api_client):
    """As the console's E-STOP does: the stop event, set while the third iteration's change is in force."""
    cfg = load_config(_config(tmp_path, namespace, "  daemon_mode: true\n  wait_duration: 0\n"))
    stop = threading.Event()
    seen: list[ev.Event] = []

    def emit(event: ev.Event) -> None:
        seen.append(event)
        iterations = [e.iteration for e in seen if isinstance(e, ev.IterationStarted)]
        if isinstance(event, ev.ClusterChange) and iterations and iterations[-1] >= 3:
            stop.set()

    # Set from the engine's thread right after the change: the hold that follows sees it at once.
    result = Engine(cfg, lambda: api_client, emit=emit, stop=stop).run(plan(cfg))

    started = [e for e in seen if isinstance(e, ev.IterationStarted)]
    assert [e.label for e in started][:3] == ["iteration 1 (daemon)", "iteration 2 (daemon)", "iteration 3 (daemon)"]
    assert result.status == "interrupted" and result.exit_code != 0
    assert _policies(api_client, namespace) == []
    steps = list_versions(cfg.versions_dir, include_archived=False)
    assert len(steps) >= 3 and {v.status for v in steps} == {"executed"}  # one per iteration, none lost
    assert pending(cfg.versions_dir) == [] and disk_problems(cfg.versions_dir) == []
    report = json.loads(result.report_path.read_text())
    assert {s["iteration"] for s in report["scenarios"]} >= {0, 1, 2}


@pytest.mark.cluster
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_daemon_run_repeats_until_a_signal_and_rolls_back(tmp_path, namespace, kubeconfig, api_client, sig):
    # a hold long enough that the signal, sent when the third change is seen, lands while it is in
    # force even on a loaded machine (with 1 s it could land between iterations: nothing to roll back)
    cfg = _config(tmp_path, namespace, "  daemon_mode: true\n  wait_duration: 0\n", duration=4)
    run = Run(cfg, kubeconfig)
    run.wait_for(r"daemon mode: the scenarios repeat until stopped")
    run.wait_for(r"● iteration 1 \(daemon\)")
    run.wait_for(r"● iteration 2 \(daemon\)")
    run.wait_for(r"● iteration 3 \(daemon\)")
    run.wait_for(r"created NetworkPolicy")  # the third iteration's change, in force now
    run.proc.send_signal(sig)
    assert run.finish() == 128 + sig, run.output
    assert "rolled back" in run.output
    assert _policies(api_client, namespace) == [], run.output
    versions = tmp_path / "versions"
    steps = list_versions(versions, include_archived=False)
    assert len(steps) >= 3 and {v.status for v in steps} == {"executed"}, ([(v.path.name, v.status) for v in steps],
                                                                          run.output)
    assert pending(versions) == [] and disk_problems(versions) == [], run.output


@pytest.mark.cluster
def test_a_daemon_with_only_skipped_scenarios_runs_once(tmp_path, api_client):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"kraken:\n  rollback_versions_directory: {tmp_path / 'v'}\n  chaos_scenarios:\n"
                   "    - zone_outages_scenarios: [t.yml]\ntunings:\n  daemon_mode: true\n  wait_duration: 0\n")
    config = load_config(cfg)
    result = Engine(config, lambda: api_client).run(plan(config, skip_unsupported=True))
    assert result.status == "passed" and [s.status for s in result.scenarios] == ["skipped"]


@pytest.mark.cluster
def test_a_dry_run_of_a_daemon_says_it_would_repeat_until_stopped(tmp_path, namespace, kubeconfig, api_client):
    fill_namespace(api_client, namespace, {"web": 1})  # the outage's target, for a clean blast radius
    done = krkn("run", "-c", _config(tmp_path, namespace, "  daemon_mode: true\n  wait_duration: 0\n"), "--dry-run",
                kubeconfig=kubeconfig)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "daemon mode: this dry run plans one iteration; a real run repeats the scenarios until stopped" \
        in done.stdout
    assert done.stdout.count("● iteration") == 1 and "run passed" in done.stdout
    assert _policies(api_client, namespace) == []
