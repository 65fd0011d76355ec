"""Halt everything: `krkn-tui halt` stops two runner processes and refuses a new run until
`resume`; a console on the cluster shows the halt in its header and resumes with `H`; an
unsigned halt record is obeyed and said to be unverified; krkn's signal endpoint (PAUSE, RUN,
STOP) drives a run, and `halt` posts STOP to the endpoint its config names.

Every test keeps its halt record in a journal namespace of its own (kraken.cluster_journal_namespace),
so runs elsewhere on the shared cluster are never halted."""

from __future__ import annotations

import base64
import socket
import urllib.request
import uuid

import pytest
from kubernetes import client

from krkn_tui.halt import DATA_KEY, NAME, TYPE, parse
from krkn_tui.krkn_signal import SignalEndpoint, SignalSettings
from krkn_tui.rollback import list_versions
from krkn_tui.rollback.signing import Signer, TrustedKeys, canonical
from kubehelpers import gone_is_fine
from runhelpers import Run, app_outage, krkn, write_config
from tui_support import SIZE, console, until


def _record(payload: dict, signature: str | None, kind: str = TYPE) -> dict:
    return {"type": kind, "metadata": {"name": NAME, "annotations": {"krkn-tui.io/signature": signature} if signature
                                       else {}},
            "data": {DATA_KEY: base64.b64encode(canonical(payload)).decode()}}


def test_a_halt_record_is_read_verified_or_unverified_but_always_a_halt():
    alice, eve = Signer.generate(), Signer.generate()
    trusted = TrustedKeys([alice.public_raw])
    payload = {"format": 1, "reason": "pager fired", "by": "alice", "host": "laptop", "time": "2026-01-01T10:00:00Z"}
    good = parse(_record(payload, alice.sign_obj(payload)), trusted)
    assert good.verified and good.describe() == "halted by alice on laptop at 2026-01-01T10:00:00Z: pager fired"
    for signature, why in ((None, "unsigned"), (eve.sign_obj(payload), "signed by unknown key"),
                           (alice.sign_obj({**payload, "reason": "other"}), "bad signature")):
        halt = parse(_record(payload, signature), trusted)
        assert not halt.verified and halt.reason == "pager fired"
        assert f"[unverified: {why}" in halt.describe() and "obeyed all the same" in halt.describe()
    garbage = parse({"type": TYPE, "metadata": {"name": NAME}, "data": {DATA_KEY: "!!"}}, trusted)
    assert not garbage.verified and "unreadable" in garbage.describe()
    hostile = parse(_record({**payload, "reason": "stop\x1b[2J\nnow"}, alice.sign_obj(payload)), trusted)
    assert "\x1b" not in hostile.describe() and "\n" not in hostile.describe()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http(url: str, post: bool = False) -> str:
    with urllib.request.urlopen(urllib.request.Request(url, data=b"" if post else None,
                                                       method="POST" if post else "GET"), timeout=5) as r:
        return r.read().decode()


def test_the_signal_endpoint_answers_and_takes_krkns_states_on_loopback():
    stops = []
    endpoint = SignalEndpoint(SignalSettings(publish=True, state="PAUSE", port=0), on_stop=lambda: stops.append(1))
    endpoint.start()
    try:
        assert endpoint.bound.startswith("http://127.0.0.1:")
        assert _http(endpoint.bound + "/") == "PAUSE"
        _http(endpoint.bound + "/RUN", post=True)
        assert _http(endpoint.bound + "/") == "RUN"
        _http(endpoint.bound + "/STOP", post=True)
        _http(endpoint.bound + "/STOP", post=True)
        assert endpoint.state == "STOP" and stops == [1]  # the run is stopped once
    finally:
        endpoint.close()


@pytest.fixture
def journal_ns(api_client):
    name = f"t-halt-{uuid.uuid4().hex[:8]}"
    yield name
    gone_is_fine(client.CoreV1Api(api_client).delete_namespace, name)


def _policies(api_client, namespace) -> list[str]:
    return [p.metadata.name for p in client.NetworkingV1Api(api_client).list_namespaced_network_policy(namespace).items]


def header(app) -> str:
    return str(app.screen.query_one("#header").render())


@pytest.mark.cluster
async def test_halt_stops_two_runners_refuses_new_runs_and_a_console_shows_and_lifts_it(
        tmp_path, namespace, journal_ns, kubeconfig, api_client):
    port = _free_port()
    # Runner 0 is a daemon run (krkn's daemon_mode: 1 s outages again and again until stopped);
    # runner 1 holds one outage and serves krkn's signal endpoint, which `halt -c` names.
    cfgs = [write_config(tmp_path / "r0", [("application_outages_scenarios", app_outage(namespace, "web0", 1))],
                         cluster_journal_namespace=journal_ns, daemon_mode=True),
            write_config(tmp_path / "r1", [("application_outages_scenarios", app_outage(namespace, "web1", 300))],
                         cluster_journal_namespace=journal_ns, publish_kraken_status=True, port=port)]
    (tmp_path / "config.yaml").write_text(f"kraken:\n  cluster_journal_namespace: {journal_ns}\n"
                                          "  chaos_scenarios: []\n")
    app = console(tmp_path, kubeconfig=kubeconfig)
    runs = [Run(cfg, kubeconfig) for cfg in cfgs]
    try:
        runs[0].wait_for(r"iteration 2")  # the daemon goes round
        runs[1].wait_for(r"created NetworkPolicy")
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.halt_monitor is not None and app.halt_monitor.checked.is_set(),
                        what="the console's first look at the halt record")
            assert "HALTED" not in header(app)

            halted = krkn("halt", "--reason", "game day over: pager fired", "-c", cfgs[1], kubeconfig=kubeconfig)
            assert halted.returncode == 0, halted.stderr
            assert "halted by krkn-local-admin" in halted.stdout
            assert f"krkn STOP posted to http://127.0.0.1:{port}/STOP (200)" in halted.stdout

            for run in runs:
                assert run.finish() == 3, run.output
                assert "stopping the run and rolling back" in run.output
            # The first runner reads the record; the second is stopped by whichever comes first:
            # the record at its next look, or krkn's STOP that `halt` posted to its endpoint.
            assert "halt: halted by krkn-local-admin" in runs[0].output and "pager fired" in runs[0].output
            assert "halt: halted by" in runs[1].output or "krkn signal STOP: posted" in runs[1].output
            assert _policies(api_client, namespace) == []
            for cfg in cfgs:
                assert {v.status for v in list_versions(cfg.parent / "versions", include_archived=False)} == \
                    {"executed"}

            await until(pilot, lambda: "HALTED" in header(app), what="the halt in the console's header")
            assert "game day over: pager fired" in header(app)
            for view in ("2", "3", "4", "1"):
                await pilot.press(view)
                assert "HALTED" in header(app)

            refused = krkn("run", "-c", cfgs[0], kubeconfig=kubeconfig)
            assert refused.returncode == 3, refused.stdout + refused.stderr
            assert "run refused, nothing changed" in refused.stdout and "pager fired" in refused.stdout
            assert _policies(api_client, namespace) == []

            await pilot.press("H")  # resume, asked first
            await until(pilot, lambda: "Resume" in str(app.screen.query_one("#confirm-title").render())
                        if app.screen.query("#confirm-title") else False, what="the resume dialog")
            await pilot.press("y")
            await until(pilot, lambda: app.halt_state == "", what="the halt lifted")
            assert "HALTED" not in header(app)
        status = krkn("halt-status", "-c", cfgs[0], kubeconfig=kubeconfig)
        assert status.returncode == 0 and "not halted" in status.stdout, status.stdout + status.stderr
    finally:
        for run in runs:
            if run.proc.poll() is None:
                run.proc.kill()
        krkn("resume", "--journal-namespace", journal_ns, kubeconfig=kubeconfig)


@pytest.mark.cluster
async def test_the_console_halts_with_a_reason_and_its_own_run_stops(tmp_path, namespace, journal_ns, kubeconfig,
                                                                     api_client):
    from tui_support import outage_config

    cfg = outage_config(tmp_path, namespace, duration=300,
                        extra="")  # one outage, held until the halt stops it
    cfg.write_text(cfg.read_text().replace("kraken:\n", f"kraken:\n  cluster_journal_namespace: {journal_ns}\n"))
    app = console(tmp_path, kubeconfig=kubeconfig)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.halt_monitor is not None and app.halt_monitor.checked.is_set(),
                        what="the console's first look")
            app.start_run({0})
            await until(pilot, lambda: len(_policies(api_client, namespace)) == 1, what="the outage in force")
            await pilot.press("H")
            await until(pilot, lambda: bool(app.screen.query("#halt-reason")), what="the halt dialog")
            await pilot.press("enter")  # no reason: refused, the dialog stays
            assert app.screen.query("#halt-reason") and app.halt_state == ""
            await pilot.press(*"console halt")
            await pilot.press("enter")
            await until(pilot, lambda: "console halt" in app.halt_state, what="the halt in force")
            await until(pilot, lambda: app.last_result is not None, what="the console's run stopped")
            assert app.last_result.status == "aborted" and app.last_result.exit_code == 3
            assert _policies(api_client, namespace) == []
            assert "HALTED" in header(app)
    finally:
        krkn("resume", "--journal-namespace", journal_ns, kubeconfig=kubeconfig)


@pytest.mark.cluster
def test_an_unsigned_halt_is_obeyed_and_said_unverified(tmp_path, namespace, journal_ns, kubeconfig, api_client):
    core = client.CoreV1Api(api_client)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=journal_ns)))
    payload = {"format": 1, "reason": "someone without a key", "by": "mallory", "host": "?", "time": "now"}
    core.create_namespaced_secret(journal_ns, client.V1Secret(
        type=TYPE, metadata=client.V1ObjectMeta(name=NAME),
        data={DATA_KEY: base64.b64encode(canonical(payload)).decode()}))
    cfg = write_config(tmp_path, [("application_outages_scenarios", app_outage(namespace, "web", 300))],
                       cluster_journal_namespace=journal_ns)
    out = krkn("run", "-c", cfg, kubeconfig=kubeconfig)
    assert out.returncode == 3, out.stdout + out.stderr
    assert "halted by mallory" in out.stdout and "[unverified: unsigned; obeyed all the same]" in out.stdout
    assert _policies(api_client, namespace) == []
    dry = krkn("run", "-c", cfg, "--dry-run", kubeconfig=kubeconfig)
    # A dry run changes nothing: it says the halt and plans (its blast radius fails: no web pod here).
    assert dry.returncode == 1 and "a real run would be refused" in dry.stdout, dry.stdout + dry.stderr
    assert "run refused" not in dry.stdout


@pytest.mark.cluster
def test_krkns_signal_endpoint_pauses_runs_and_stops_a_run(tmp_path, namespace, journal_ns, kubeconfig, api_client):
    port = _free_port()
    cfg = write_config(tmp_path, [("application_outages_scenarios", app_outage(namespace, "web", 300))],
                       cluster_journal_namespace=journal_ns, publish_kraken_status=True, signal_state="PAUSE",
                       port=port)
    run = Run(cfg, kubeconfig)
    try:
        run.wait_for(r"paused by krkn's signal")
        url = f"http://127.0.0.1:{port}"
        assert _http(url + "/") == "PAUSE"
        assert _policies(api_client, namespace) == []  # nothing runs while paused
        _http(url + "/RUN", post=True)
        run.wait_for(r"created NetworkPolicy")
        assert _http(url + "/") == "RUN"
        _http(url + "/STOP", post=True)
        assert run.finish() == 3, run.output
        assert "krkn signal STOP: posted to the run's signal endpoint: stopping the run and rolling back" in run.output
        assert _policies(api_client, namespace) == []
    finally:
        if run.proc.poll() is None:
            run.proc.kill()


def test_a_bad_signal_setting_is_one_line_naming_the_field(tmp_path):
    cfg = write_config(tmp_path, [], signal_state="HALT")
    out = krkn("run", "-c", cfg, "--dry-run")
    assert out.returncode == 2 and "kraken.signal_state" in out.stderr and "RUN, PAUSE, STOP" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
