"""The build step: its failure messages (no Go, a module the proxy will not serve) and its progress
lines, passed on as they come with the elapsed time."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from krkn_tui.localcluster import LocalCluster
from krkn_tui.localcluster.cluster import BINARIES, ClusterError, build_script


def test_missing_go_is_one_clear_message(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KRKN_TUI_CACHE": str(tmp_path / "cache")}
    out = subprocess.run(["bash", str(build_script())], env=env, capture_output=True, text=True)
    assert out.returncode == 3
    assert out.stderr.strip().splitlines() == [
        "localcluster: Go is not installed (need Go >= 1.26 on PATH to build the control plane)"
    ]


def test_module_the_proxy_refuses_names_the_build_and_the_cause(tmp_path):
    env = {
        **os.environ,
        "KRKN_TUI_CACHE": str(tmp_path / "cache"),
        "GOMODCACHE": str(tmp_path / "modcache"),  # empty: every module must come from the proxy
        "GOPROXY": "off",
        "GOFLAGS": "-mod=mod",
    }
    out = subprocess.run(["bash", str(build_script())], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 4
    assert "building kube-apiserver failed" in out.stderr  # the first program built
    assert "GOPROXY=off" in out.stderr  # the proxy's refusal is passed on, not swallowed


# -- progress: what the build and `up` say, and when ------------------------------------------

PROGRESS = re.compile(r"^\[\+(\d+\.\ds|\d+m\d\ds)\] ")


def fake_build(tmp_path, body: str):
    script = tmp_path / "build.sh"
    script.write_text("set -eu\n" + body)
    return LocalCluster(state_dir=tmp_path / "state", cache_dir=tmp_path / "cache", script=script)


def test_build_lines_are_passed_on_as_they_come_not_at_the_end(tmp_path):
    flag = tmp_path / "seen"
    # The script waits until the first line has reached us: with buffering it would never come.
    cluster = fake_build(tmp_path, f"""echo "localcluster: building etcd from x (minutes on a cold cache)..."
for i in $(seq 300); do [ -e {flag} ] && break; sleep 0.1; done
[ -e {flag} ] || {{ echo "the first line was not passed on while the build ran" >&2; exit 9; }}
echo "localcluster: built etcd in 1s"
""")
    lines = []

    def say(line):
        lines.append(line)
        if "building etcd" in line:
            flag.touch()

    cluster.say = say
    cluster.build()
    assert [re.sub(r"^\[\+[^]]+\] ", "", line) for line in lines[:2]] == [
        "localcluster: building etcd from x (minutes on a cold cache)...", "localcluster: built etcd in 1s"]
    assert all(PROGRESS.match(line) for line in lines[:2])
    assert re.fullmatch(r"localcluster: build finished in \d+\.\ds", lines[-1])


def test_a_long_compile_says_it_is_still_going(tmp_path):
    cluster = fake_build(tmp_path, """echo "localcluster: building kube-apiserver from k8s.io/kubernetes/cmd/kube-apiserver..."
sleep 1.5
echo "localcluster: built kube-apiserver in 1s"
""")
    lines = []
    cluster.say = lines.append
    cluster.build(quiet=0.3)
    assert any(line.endswith("localcluster: still building kube-apiserver") for line in lines)
    still = [i for i, line in enumerate(lines) if "still building" in line]
    assert still and max(still) < next(i for i, line in enumerate(lines) if "built kube-apiserver" in line)


def test_a_failed_build_is_an_error_after_its_lines(tmp_path):
    cluster = fake_build(tmp_path, 'echo "localcluster: building etcd failed; the proxy said: no" >&2; exit 4\n')
    lines = []
    cluster.say = lines.append
    with pytest.raises(ClusterError, match="building the local cluster failed"):
        cluster.build()
    assert any("building etcd failed" in line for line in lines)


def test_cluster_build_names_every_component_and_the_total(local_cluster):
    env = {**os.environ, "KRKN_TUI_CACHE": str(local_cluster.cache_dir)}
    out = subprocess.run([sys.executable, "-m", "krkn_tui", "cluster", "build"], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    for component in BINARIES:
        assert any(PROGRESS.match(line) and f"localcluster: {component} " in line for line in lines), component
    assert re.fullmatch(r"localcluster: build finished in (\d+\.\ds|\d+m\d\ds)", lines[-1])


def test_progress_clock_and_lines():
    from krkn_tui.localcluster.progress import Progress, clock

    assert (clock(4.24), clock(59.94), clock(65), clock(3600)) == ("4.2s", "59.9s", "1m05s", "60m00s")
    now = iter([100.0, 101.5, 190.0])
    lines = []
    progress = Progress(lines.append, clock_fn=lambda: next(now))
    progress.line("started etcd")
    progress.done("ready", ": context x")
    assert lines == ["[+1.5s] started etcd", "ready in 1m30s: context x"]
