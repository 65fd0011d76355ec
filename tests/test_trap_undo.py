"""The chaos pod's dead man's switch on plain data: the hold script runs its undo list newest
first on TERM and says each outcome; the scripts built from a version file's data are valid
shell; the guard calls the stop only for steps that name their place in the list."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time

import pytest

from krkn_tui.rollback import RollbackContent
from krkn_tui.rollback.undo_ops import guard_undo
from krkn_tui.scenarios import trap_undo
from krkn_tui.scenarios.trap_undo import HOLD_SCRIPT, UNDO_DIR, network_script, stop_chaos_pod, throttle_script

UID = "0f0e0d0c-0b0a-0908-0706-050403020100"


def hold(tmp_path):
    """HOLD_SCRIPT with its list and its record in `tmp_path`, under this machine's sh."""
    script = HOLD_SCRIPT.replace(UNDO_DIR, str(tmp_path / "list")).replace("/tmp/krkn-tui-trap.out",
                                                                           str(tmp_path / "out"))
    proc = subprocess.Popen(["sh", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while not (tmp_path / "list").is_dir():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    return proc


def test_term_runs_the_list_newest_first_and_says_each_outcome(tmp_path):
    proc = hold(tmp_path)
    order = tmp_path / "order"
    for hold_id, body in (("0001", f"echo 1 >>{order}"), ("0002", "echo no such rule >&2; exit 3"),
                          ("0003", f"echo 3 >>{order}")):
        argv = trap_undo.add_argv(hold_id, body)
        argv[4] = str(tmp_path / "list")  # the list's folder, as add_argv's first argument
        assert subprocess.run(argv).returncode == 0
    subprocess.run(["sh", "-c", f"touch {tmp_path / 'list' / '.0004'}"])  # half-written: not run
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 1  # one failed
    assert out.splitlines() == ["0003 ok", "0002 failed: no such rule ", "0001 ok"]
    assert order.read_text().split() == ["3", "1"]
    assert sorted(p.name for p in (tmp_path / "list").iterdir()) == [".0004", "0002"]  # the failed one stays


def test_an_empty_list_ends_well(tmp_path):
    proc = hold(tmp_path)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert (proc.returncode, out) == (0, "")


@pytest.mark.parametrize("data", [
    {"chain": "INPUT", "rule": ["-i", "eth0", "-p", "tcp", "--dport", "80", "-m", "comment", "--comment",
                                "krkn-tui:ab", "-j", "DROP"]},
    {"chain": "OUTPUT", "rule": ["-p", "udp", "-j", "DROP"], "pod_uid": UID},
    {"tool": "tc", "dev": "eth0", "handle": "100:"},
    {"tool": "tc-ingress", "dev": "eth0", "ifb": "kifb0a0b0c", "pod_uid": UID},
    {"table": "mangle", "chain": "POSTROUTING", "rule": ["-o", "eth0", "-j", "NFQUEUE", "--queue-num", "7",
                                                         "--queue-bypass"], "creates": ["table", "chain"]},
    {"tool": "link", "interfaces": [{"dev": "eth0", "addrs": ["fd00::2/64 nodad"],
                                     "routes": [["-4", "default via 10.0.0.1"]]}]},
])
def test_network_scripts_are_valid_shell_naming_the_recorded_change(data):
    script = network_script(data)
    assert subprocess.run(["sh", "-n", "-c", script]).returncode == 0, script
    if "rule" in data:
        assert "iptables " + ("-t mangle " if "table" in data else "") + f"-D {data['chain']} " in script
    assert (f"pod{UID}" in script) == ("pod_uid" in data)


def test_a_recorded_uid_that_is_not_one_is_refused():
    with pytest.raises(ValueError, match="not a pod UID"):
        network_script({"tool": "tc", "dev": "eth0", "pod_uid": "1; reboot"})


def test_the_throttle_script_writes_back_and_checks_each_file(tmp_path):
    cgroup = tmp_path / "cg"
    data = {"maj_min": "7:3", "cgroup_version": "v1", "cgroup_path": "/kubepods/x",
            "found": {"blkio.throttle.read_bps_device": "7:3 100", "blkio.throttle.write_bps_device": ""}}
    script = throttle_script(data, {"blkio.throttle.read_bps_device": "7:3 100",
                                    "blkio.throttle.write_bps_device": "7:3 0"})
    base = cgroup / "blkio" / "kubepods" / "x"
    base.mkdir(parents=True)
    local = script.replace("/host/sys/fs/cgroup", str(cgroup))
    r = subprocess.run(["sh", "-c", local], capture_output=True, text=True)
    # A plain file keeps what is written (the kernel's drops a `<dev> 0` line): the check says so.
    assert r.returncode == 1 and "blkio.throttle.write_bps_device reads '7:3 0'" in r.stdout
    assert (base / "blkio.throttle.read_bps_device").read_text() == "7:3 100\n"
    shutil.rmtree(base)
    assert subprocess.run(["sh", "-c", local]).returncode == 0  # the cgroup gone: its limits with it


def test_the_guard_stops_the_pod_only_for_steps_that_name_their_place_in_its_list():
    op = "network_chaos_ng_scenarios.delete_network_rule"
    assert guard_undo(op, RollbackContent("p", "ns", {"hold": "0001"})) is stop_chaos_pod
    assert guard_undo("network_chaos_ng_scenarios.delete_hog_pod", RollbackContent("p", "ns", {"hold": "pod"})) \
        is stop_chaos_pod
    assert guard_undo("storage_throttle_scenarios.restore_io_limits", RollbackContent("p", "ns", {"hold": "0001"})) \
        is stop_chaos_pod
    assert guard_undo(op, RollbackContent("p", "ns", {})) is None  # recorded before the trap: the operator's
    assert guard_undo("pvc_scenarios.remove_fill_file", RollbackContent("p", "ns", {"hold": "0001"})) is None


def test_what_the_trap_said_decides_each_steps_outcome(monkeypatch):
    """The first step of a pod stops it; the others read its outcome (here set as if stopped)."""
    monkeypatch.setattr(trap_undo, "_stopped", {("ns", "p"): (1, "0002 ok\n0001 failed: iptables: busy \n"),
                                                ("ns", "gone"): None})
    step = lambda hold, pod="p": RollbackContent(pod, "ns", {"pod": pod, "hold": hold, "node": "n1"})  # noqa: E731
    stop_chaos_pod(step("0002"), None)
    stop_chaos_pod(step("pod"), None)
    with pytest.raises(RuntimeError, match="step 0001: failed: iptables: busy"):
        stop_chaos_pod(step("0001"), None)
    with pytest.raises(RuntimeError, match="exit code 1, not naming step 0003"):
        stop_chaos_pod(step("0003"), None)
    with pytest.raises(RuntimeError, match="gone before the guard stopped it"):
        stop_chaos_pod(step("0001", "gone"), None)
    stop_chaos_pod(step("pod", "gone"), None)  # the pod's own step: gone is done
