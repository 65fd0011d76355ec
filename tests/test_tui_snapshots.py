"""SVG snapshots of every screen on fixed data: fixed names, a frozen clock, UTC, HOME=tmp_path.

Regenerate with `pytest tests/test_tui_snapshots.py --snapshot-update` after a deliberate change,
and look at the new SVGs before committing them."""

from __future__ import annotations

import os
import time

import pytest

from krkn_tui import events as ev
from krkn_tui.tui.app import KrknConsole
from krkn_tui.tui.settings import ConsoleSettings
from krkn_tui.tui.widgets.run_panel import RunPanel
from prometheus_support import monitored_run, prometheus  # noqa: F401 (a fixture)
from tui_support import FROZEN_NOW, until, RUN_A, fixed_kubeconfig, fixed_pod_table, fixed_versions

SIZE = (130, 40)

SCENARIOS = {
    "scenarios/app_outage.yaml": "# Block all traffic to and from the frontend pods for 10 s.\n"
                                 "application_outage:\n  duration: 10\n  namespace: krkn-demo\n"
                                 "  pod_selector: {app: frontend}\n  block: [Ingress, Egress]\n",
    "scenarios/pod_kill.yaml": "# Kill one frontend pod; its ReplicaSet must replace it within 60 s.\n"
                               "- id: kill-pods\n  config:\n    namespace_pattern: ^krkn-demo$\n"
                               "    label_selector: app=frontend\n    kill: 1\n    krkn_pod_recovery_time: 60\n",
    "scenarios/node_cordon.yaml": "node_scenarios:\n  - actions: [node_cordon_scenario]\n"
                                  "    label_selector: type=kwok\n    instance_count: 1\n    duration: 5\n",
    "scenarios/hog_gpu.yaml": "duration: 5\nhog-type: gpu\n",
    "scenarios/zone.yaml": "zone_outage:\n  cloud_type: aws\n  duration: 600\n  vpc_id: vpc-0\n"
                           "  subnet_id: [subnet-0]\n",
}
CONFIG = """\
kraken:
  chaos_scenarios:
    - application_outages_scenarios: [scenarios/app_outage.yaml]
    - pod_disruption_scenarios: [scenarios/pod_kill.yaml]
    - node_scenarios: [scenarios/node_cordon.yaml]
    - hog_scenarios: [scenarios/hog_gpu.yaml]
    - zone_outages_scenarios: [scenarios/zone.yaml]
tunings: {wait_duration: 1, iterations: 1}
"""

APP_FILE, POD_FILE = "scenarios/app_outage.yaml", "scenarios/pod_kill.yaml"
APP_TYPE, POD_TYPE = "application_outages_scenarios", "pod_disruption_scenarios"
RESTORED = f"versions/{RUN_A}/application_outages_scenarios_1767261001000000000_04aboo7k.py"
RUN_EVENTS = [
    ev.RunStarted(2, 1, "versions", run_id=RUN_A),
    ev.ScenarioStarted(0, APP_TYPE, APP_FILE, "app_outage.yaml#0", 0),
    ev.RollbackRegistered(RESTORED, APP_TYPE, "delete", "NetworkPolicy", "krkn-demo", "krkn-outage-6a80eb"),
    ev.ClusterChange("create_network_policy", APP_TYPE, {"namespace": "krkn-demo", "name": "krkn-outage-6a80eb"}),
    ev.Step(APP_TYPE, APP_FILE, "created NetworkPolicy krkn-demo/krkn-outage-6a80eb; outage for 10s", 0.1),
    ev.RollbackStarted(RESTORED),
    ev.RollbackExecuted(RESTORED, seconds=0.02),
    ev.ScenarioFinished(0, APP_TYPE, APP_FILE, "app_outage.yaml#0", 0, "passed",
                        "blocked krkn-demo/krkn-outage-6a80eb for 10s", 10.3, {}),
    ev.Waiting(1),
    ev.ScenarioStarted(1, POD_TYPE, POD_FILE, "kill-pods", 0),
    ev.Step(POD_TYPE, POD_FILE, "3 candidate pods; chosen: krkn-demo/frontend-6b4dd954fc-m2dqh", 0.05),
    ev.Step(POD_TYPE, POD_FILE, "deleted krkn-demo/frontend-6b4dd954fc-m2dqh; waiting for its replacement", 0.5),
    ev.ScenarioFinished(1, POD_TYPE, POD_FILE, "kill-pods", 0, "passed", "1 pods killed and recovered", 0.4,
                        {"pods": [{"namespace": "krkn-demo", "name": "frontend-6b4dd954fc-m2dqh",
                                   "rescheduling_seconds": 0.038, "readiness_seconds": 0.057}]}),
    ev.RunArchived(1),
    ev.RunFinished("passed", None),
]


@pytest.fixture
def stable(tmp_path, monkeypatch):
    old_tz = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    for name, text in SCENARIOS.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "config.yaml").write_text(CONFIG)
    fixed_kubeconfig(tmp_path / "kubeconfig")
    fixed_versions(tmp_path)
    yield tmp_path
    if old_tz is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old_tz
    time.tzset()


def make_app(tmp_path, **settings) -> KrknConsole:
    app = KrknConsole(ConsoleSettings(kubeconfig="kubeconfig", config_path="config.yaml",
                                      versions_dir=tmp_path / "versions", watch_pods=False, probe_cluster=False,
                                      clock=lambda: FROZEN_NOW, **settings),
                      pod_table=fixed_pod_table())
    app.server_version = "v1.36.3"
    app.watch_state = "connected"
    return app


async def finished_run(pilot):
    picker = pilot.app.views["picker"]
    picker.marked = {"0", "1"}
    picker.refresh_rows()
    picker.query_one(RunPanel).start([(0, APP_TYPE, APP_FILE), (1, POD_TYPE, POD_FILE)])
    await pilot.pause()
    picker.apply_engine_events(RUN_EVENTS)
    pilot.app.run_state = "passed (exit 0)"
    await pilot.pause()


async def versions_listed(pilot):
    await pilot.press("3")
    view = pilot.app.screen
    while view.listings < 1:
        await pilot.pause(0.05)
    await pilot.pause()


def after(setup, *keys):
    """A run_before: ``setup``, then ``keys``."""
    async def run_before(pilot):
        await setup(pilot)
        await pilot.press(*keys)

    return run_before


def test_picker(stable, snap_compare):
    assert snap_compare(make_app(stable), terminal_size=SIZE)


def test_picker_after_a_run(stable, snap_compare):
    assert snap_compare(make_app(stable), terminal_size=SIZE, run_before=finished_run)


def test_picker_after_a_run_light(stable, snap_compare):
    assert snap_compare(make_app(stable), terminal_size=SIZE, run_before=after(finished_run, "ctrl+t"))


def shown_detail(screen) -> str:
    found = screen.query("#confirm-detail")
    return str(found.first().render()) if found else ""


async def confirm_open(pilot):
    await pilot.press("space", "down", "space", "r")
    # the blast radius: the fixed kubeconfig's server refuses; its answer reaches the dialog through
    # call_from_thread, so wait for the widget to show it, not only for the worker to end
    await until(pilot, lambda: "cannot read the cluster" in shown_detail(pilot.app.screen),
                what="the blast radius answer in the dialog")
    await pilot.pause()


def test_confirm_run(stable, snap_compare):
    assert snap_compare(make_app(stable), terminal_size=SIZE, run_before=confirm_open)


def test_pods(stable, snap_compare):
    assert snap_compare(make_app(stable, namespace="krkn-demo"), terminal_size=SIZE, press=["2"])


def test_versions(stable, snap_compare):
    assert snap_compare(make_app(stable), terminal_size=SIZE, run_before=versions_listed)


def test_versions_light_readonly(stable, snap_compare):
    assert snap_compare(make_app(stable, readonly=True), terminal_size=SIZE,
                        run_before=after(versions_listed, "ctrl+t"))


def test_inspect(stable, snap_compare):
    assert snap_compare(make_app(stable), terminal_size=SIZE, run_before=after(versions_listed, "j", "j", "enter"))


def test_help(stable, snap_compare):
    assert snap_compare(make_app(stable), terminal_size=SIZE, run_before=after(versions_listed, "question_mark"))


def run_with_verdicts(events):
    """A finished run, then its verdicts as the monitor said them; the pods it touched in the timeline."""
    async def run_before(pilot):
        await finished_run(pilot)
        pilot.app.engine_events.extend(events)
        pilot.app.drain()
        await pilot.pause()

    return run_before


def fixed_verdicts(url: str, folder) -> list:
    """The monitor's events on the fixed Prometheus answers, with the folder's path left out."""
    import dataclasses
    import json

    def fixed(value):
        return json.loads(json.dumps(value).replace(f"{folder}/", "").replace(url, "http://prometheus:9090"))

    return [dataclasses.replace(e, monitoring=fixed(e.monitoring)) for e in monitored_run(url, folder)]


def test_verdicts(stable, snap_compare, prometheus):
    events = fixed_verdicts(prometheus, stable)
    assert snap_compare(make_app(stable), terminal_size=SIZE, run_before=after(run_with_verdicts(events), "5"))


def test_timeline(stable, snap_compare):
    from krkn_tui.timeline import TimelineEntry, entry_for_event

    async def timeline_filled(pilot):
        await finished_run(pilot)
        start = FROZEN_NOW - 30
        entries = [entry_for_event(e, at=start + i) for i, e in enumerate(RUN_EVENTS)]
        entries.append(TimelineEntry(start + 12.5, "pod", "krkn-demo/frontend-6b4dd954fc-m2dqh deleted", "bad",
                                     pods="krkn-demo/frontend-6b4dd954fc-m2dqh"))
        entries.append(TimelineEntry(start + 12.6, "pod", "krkn-demo/frontend-6b4dd954fc-2cmsk added: Pending 0/1",
                                     pods="krkn-demo/frontend-6b4dd954fc-2cmsk"))
        pilot.app.timeline.extend(entries)
        await pilot.press("4")
        await pilot.pause()
        pilot.app.screen.query_one("#timeline-table").focus()
        await pilot.press("j", "j", "j")

    assert snap_compare(make_app(stable), terminal_size=SIZE, run_before=timeline_filled)
