"""netem-queue, the network-chaos image's NFQUEUE program, alone: in a network namespace made for
the test (`unshare -n`: its own loopback, nothing of the machine's), an iptables rule sends
loopback's packets to its queue; TCP connects there take the configured delay twice longer (the
SYN and the SYN-ACK both leave through lo), lose connections at the configured share, and are
immediate again once the program is killed (--queue-bypass). Tolerances: the median connect rises
by at least 90% of twice the delay, at most 40 ms more; the failed share (a connect needs SYN and
SYN-ACK through, so 1 - 0.7^2 = 51% at 30% loss) within 12 points over 150 connects."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from krkn_tui.localcluster.cluster import default_cache_dir

PROGRAM = default_cache_dir() / "bin" / "netem-queue"
pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not PROGRAM.is_file() or sys.platform != "linux",
                                reason="needs root and the built netem-queue (localcluster/build.sh)")

PROBE = textwrap.dedent("""
    import socket, statistics, subprocess, sys, threading, time
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1024)
    port = srv.getsockname()[1]
    threading.Thread(target=lambda: [srv.accept()[0].close() for _ in iter(int, 1)], daemon=True).start()

    def connects(n, timeout=0.8):
        times, failed = [], 0
        for _ in range(n):
            start = time.monotonic()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=timeout).close()
                times.append((time.monotonic() - start) * 1000)
            except OSError:
                failed += 1
        return (statistics.median(times) if times else None), failed

    def program(*args):
        p = subprocess.Popen([sys.argv[1], "-queue", "4242", *args], stdout=subprocess.PIPE, text=True)
        assert "bound queue 4242" in p.stdout.readline()
        return p

    rule = ["-o", "lo", "-j", "NFQUEUE", "--queue-num", "4242", "--queue-bypass"]
    print("before", *connects(20))
    subprocess.run(["iptables", "-t", "mangle", "-I", "OUTPUT", "1", *rule], check=True)
    print("bypassed", *connects(20))  # no program holds the queue yet
    p = program("-delay", "50ms")
    print("delayed", *connects(20))
    p.kill(); p.wait()
    print("killed", *connects(20))
    p = program("-loss", "30")
    print("lossy", *connects(150, timeout=0.25))  # a lost SYN is sent again after 1 s
    p.terminate(); p.wait()
""")


def test_delay_loss_and_bypass_in_a_namespace_of_its_own():
    out = subprocess.run(["unshare", "-n", sys.executable, "-c", PROBE, str(PROGRAM)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    got = {line.split()[0]: (float(line.split()[1]), int(line.split()[2])) for line in out.stdout.splitlines()}
    before = got["before"][0]
    assert got["bypassed"][1] == 0 and got["bypassed"][0] < before + 20
    assert 0.9 * 100 <= got["delayed"][0] - before <= 100 + 40 and got["delayed"][1] == 0
    assert got["killed"][0] < before + 20 and got["killed"][1] == 0
    assert abs(100 * got["lossy"][1] / 150 - 51) <= 12, got["lossy"]


@pytest.mark.parametrize("args", [[], ["-queue", "0"], ["-queue", "5", "-loss", "101"],
                                  ["-queue", "5", "-delay", "1ms", "-jitter", "2ms"], ["-queue", "5", "extra"]])
def test_bad_arguments_are_refused_in_one_line(args):
    out = subprocess.run([str(PROGRAM), *args], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "usage" in out.stderr
