"""The bench's cluster: a private one of the run's own unless told otherwise (`--cluster-dir`,
then KRKN_TUI_CLUSTER_DIR); a private one leaves nothing behind when the run ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import env as bench_env
from bench.env import BenchEnv, chosen_cluster_dir
from krkn_tui.localcluster import processes


def test_the_flag_then_the_variable_name_the_cluster_else_it_is_private(tmp_path):
    told, named = tmp_path / "told", tmp_path / "named"
    assert chosen_cluster_dir(told, {"KRKN_TUI_CLUSTER_DIR": str(named)}) == told
    assert chosen_cluster_dir(str(told), {}) == told
    assert chosen_cluster_dir(None, {"KRKN_TUI_CLUSTER_DIR": str(named)}) == named
    assert chosen_cluster_dir(None, {"KRKN_TUI_CLUSTER_DIR": ""}) is None  # set but empty: not told
    assert chosen_cluster_dir(None, {}) is None
    assert chosen_cluster_dir("~/x", {}) == Path.home() / "x"


def test_a_told_cluster_is_used_and_a_private_one_is_made_only_when_needed(tmp_path, monkeypatch):
    monkeypatch.delenv("KRKN_TUI_CLUSTER_DIR", raising=False)
    monkeypatch.setattr(bench_env, "private_parent", lambda: tmp_path / "private")
    told = BenchEnv(quick=True, cluster_dir=tmp_path / "told")
    assert not told.private and told.cluster.state_dir == tmp_path / "told"
    monkeypatch.setenv("KRKN_TUI_CLUSTER_DIR", str(tmp_path / "named"))
    named = BenchEnv(quick=True)
    assert not named.private and named.cluster.state_dir == tmp_path / "named"
    monkeypatch.delenv("KRKN_TUI_CLUSTER_DIR")
    private = BenchEnv(quick=True)
    assert private.private
    private.close()  # no figure asked for the cluster: nothing made, nothing to stop
    assert not (tmp_path / "private").exists()


@pytest.mark.cluster
def test_a_private_cluster_is_brought_up_apart_and_leaves_nothing(tmp_path, monkeypatch, local_cluster):
    monkeypatch.delenv("KRKN_TUI_CLUSTER_DIR", raising=False)
    monkeypatch.setattr(bench_env, "private_parent", lambda: tmp_path / "private")
    env = BenchEnv(quick=True, say=lambda line: None)
    try:
        env.ensure_cluster(nodes=1)
        state_dir = env.cluster.state_dir
        assert state_dir.parent == tmp_path / "private" and state_dir != local_cluster.state_dir
        assert env.cluster.running() and env.kubeconfig == str(state_dir / "kubeconfig")
        env.ensure_cluster(nodes=4)  # a later figure wants more fake nodes: only those are added
        from kubernetes import client

        nodes = client.CoreV1Api(env.api_client()).list_node().items
        assert sum(1 for n in nodes if n.metadata.name.startswith("kwok-node-")) >= 4
        state = env.cluster._load()
        pids = [(p["pid"], p.get("start_time")) for p in [*state["processes"], state.get("health") or {}] if p]
        assert len(pids) >= 5
        assert not state.get("node") and not state.get("prometheus")  # neither is measured
    finally:
        env.close()
    assert not state_dir.exists()
    assert not [pid for pid, started in pids if processes.alive(pid, started)]
    assert local_cluster.running()  # the session's cluster was never touched
