"""The build step's failure messages: no Go, and a module the proxy will not serve."""

from __future__ import annotations

import os
import subprocess

from krkn_tui.localcluster.cluster import build_script


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
    assert "building etcd failed" in out.stderr
    assert "GOPROXY=off" in out.stderr  # the proxy's refusal is passed on, not swallowed
