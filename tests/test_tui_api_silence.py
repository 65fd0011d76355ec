"""A silent API server is said within seconds: a cheap probe beside the watch notices what the
watch cannot (a frozen server keeps its connections open and sends nothing), every view's header
says how long ago the cluster last answered, and the pods table greys out.

The freeze is SIGSTOP to the kube-apiserver of a private cluster (never the shared one), SIGCONT
after, also when the test fails."""

from __future__ import annotations

import os
import signal

import pytest

from krkn_tui.kube.liveness import STALE_SECONDS, ApiLiveness, said
from krkn_tui.localcluster import LocalCluster
import kubehelpers
from tui_support import SIZE, console, until


def test_the_probe_says_answering_until_the_silence_outlasts_the_threshold():
    now = [100.0]
    answers = [True]

    def probe():
        if not answers[0]:
            raise TimeoutError("read timed out")

    live = ApiLiveness(probe, clock=lambda: now[0])
    assert said(live) == ("probing", False)
    live.probe_once()
    assert said(live) == ("answering", False)
    answers[0] = False
    now[0] += STALE_SECONDS
    live.probe_once()
    assert said(live) == ("answering", False)  # at the threshold: not yet
    now[0] += 1.5
    live.probe_once()
    assert said(live) == ("silent for 4s: timed out", True)
    answers[0] = True
    live.probe_once()
    assert said(live) == ("answering", False)


def test_a_server_that_never_answered_is_said_too():
    now = [0.0]
    live = ApiLiveness(lambda: 1 / 0, clock=lambda: now[0])
    live.probe_once()
    now[0] = 10
    text, stale = said(live)
    assert stale and text.startswith("no answer yet (10s): ZeroDivisionError")


@pytest.fixture(scope="module")
def private_cluster(local_cluster, tmp_path_factory):
    yield from kubehelpers.private_cluster(local_cluster, tmp_path_factory, "silence")


def apiserver_pid(cluster: LocalCluster) -> int:
    [proc] = [p for p in cluster.status()["processes"] if p["name"] == "kube-apiserver"]
    return proc["pid"]


def header(app) -> str:
    return str(app.screen.query_one("#header").render())


@pytest.mark.cluster
@pytest.mark.slow
async def test_a_frozen_api_server_is_flagged_in_every_view_and_the_pods_table_greys(tmp_path, private_cluster):
    (tmp_path / "config.yaml").write_text("kraken:\n  chaos_scenarios: []\n")
    app = console(tmp_path, kubeconfig=str(private_cluster.kubeconfig))
    pid = apiserver_pid(private_cluster)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        pods = app.screen
        await until(pilot, lambda: app.watch_state == "connected" and app.api_state == "answering",
                    what="watch connected and the API answering")
        assert "API answering" in header(app) and not pods.has_class("-stale")
        os.kill(pid, signal.SIGSTOP)
        try:
            await until(pilot, lambda: app.api_stale, timeout=30, what="the silence flagged")
            silence = app.liveness.silence()
            # The watch has not noticed (its read timeout is 45 s away): the probe is what tells.
            assert app.watch_state == "connected"
            assert "API silent for" in header(app)
            assert pods.has_class("-stale")
            assert "STALE: the API server is silent for" in str(pods.query_one("#pods-status").render())
            for view in ("1", "3", "4"):  # every view's header says it
                await pilot.press(view)
                assert "API silent for" in header(app)
            await pilot.press("2")
        finally:
            os.kill(pid, signal.SIGCONT)
        await until(pilot, lambda: not app.api_stale, timeout=30, what="the API answering again")
        assert "API answering" in header(app) and not pods.has_class("-stale")
        assert "STALE" not in str(pods.query_one("#pods-status").render())
    print(f"flagged after {silence:.1f}s of silence")
