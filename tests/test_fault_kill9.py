"""`krkn-tui run` killed with SIGKILL at seeded random moments, then `execute-rollback`: the cluster
comes back to what it was before the run, and what the run left on disk is whole.

Every scenario type runs against its own small target (namespace, private node). A baseline run
of each measures how long the scenario takes; each trial draws its kill moment uniformly from
[0, that time] with random.Random(seed), the seed being in the test id, except the first
IN_FORCE_TRIALS of each type, which kill at a random moment of the hold (after the first version
file is on disk)."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runhelpers import (
    VARIANTS,
    Run,
    Target,
    Workbench,
    disk_problems,
    krkn,
    pending,
    run_dirs,
    wait_equal,
    write_config,
)

pytestmark = pytest.mark.cluster

HOLD = 1.0  # seconds each scenario keeps its change: short trials
TRIALS_PER_VARIANT = 7
IN_FORCE_TRIALS = 2  # of each variant's trials, those aimed at the hold rather than drawn over the whole run
TRIALS = [(variant, 1000 * (i + 1) + k) for i, variant in enumerate(VARIANTS) for k in range(TRIALS_PER_VARIANT)]
KILLED_WITH_PENDING: dict[tuple[str, int], int] = {}  # trial -> version files pending when it was killed


class Targets(Workbench):
    """One target per variant, built the first time a test asks for it, with its baseline
    snapshot and the duration of an undisturbed run."""

    def __init__(self, api_client, kubeconfig: str, workdir: Path):
        super().__init__(api_client)
        self.kubeconfig = kubeconfig
        self.workdir = workdir
        self._made: dict[str, tuple[Target, dict]] = {}
        self._seconds: dict[str, float] = {}

    def get(self, variant: str) -> tuple[Target, dict]:
        if variant not in self._made:
            target = self.target(variant, HOLD if variant != "pod_disruption" else 60)
            self._made[variant] = (target, target.snapshot())
        return self._made[variant]

    def expected_seconds(self, variant: str) -> float:
        """The time of one undisturbed run (measured once): the range kill moments are drawn from."""
        target, baseline = self.get(variant)
        if variant not in self._seconds:
            folder = self.workdir / f"baseline-{variant}"
            run = Run(write_config(folder, [(target.scenario_type, target.content)]), self.kubeconfig)
            code = run.finish(timeout=180)
            self._seconds[variant] = time.monotonic() - run.started
            assert code == 0, run.output
            wait_equal(target.snapshot, baseline, what=f"{variant} target after a passing run")
            assert pending(folder / "versions") == [] and run_dirs(folder / "versions") == []
            assert disk_problems(folder / "versions") == []
        return self._seconds[variant]


@pytest.fixture(scope="module")
def targets(api_client, kubeconfig, tmp_path_factory):
    made = Targets(api_client, kubeconfig, tmp_path_factory.mktemp("kill9"))
    yield made
    made.cleanup()


@pytest.mark.parametrize("variant", VARIANTS)
def test_undisturbed_run_passes_and_leaves_its_target_as_it_was(variant, targets):
    assert targets.expected_seconds(variant) > 0


@pytest.mark.slow
@pytest.mark.parametrize("variant, seed", TRIALS, ids=[f"{v}-seed{s}" for v, s in TRIALS])
def test_sigkill_at_a_random_moment_then_execute_rollback_restores_everything(variant, seed, targets, tmp_path,
                                                                               kubeconfig):
    target, baseline = targets.get(variant)
    expected = targets.expected_seconds(variant)
    rng = random.Random(seed)
    at = rng.uniform(0, expected)
    wait_equal(target.snapshot, baseline, what=f"{variant} target before the trial")
    versions = tmp_path / "versions"

    run = Run(write_config(tmp_path, [(target.scenario_type, target.content)]), kubeconfig)
    if seed % 1000 < IN_FORCE_TRIALS and variant != "pod_disruption":  # the one type with no rollback step
        # aimed: once the first version file is on disk (the change follows it), a moment of the hold;
        # a uniform moment alone lands in the hold less often the more a loaded machine slows start-up
        at = _first_step_seconds(run, versions, expected) + rng.uniform(0, HOLD / 2)
    time.sleep(max(0.0, at - (time.monotonic() - run.started)))
    run.proc.kill()
    run.finish()
    context = f"killed at {at:.2f}s of {expected:.2f}s; run output:\n{run.output}"
    KILLED_WITH_PENDING[variant, seed] = len(pending(versions))

    for run_id in run_dirs(versions):
        out = krkn("execute-rollback", "-d", versions, "-r", run_id, kubeconfig=kubeconfig)
        assert out.returncode == 0, f"{out.stdout}{out.stderr}\n{context}"
        assert "Traceback" not in out.stderr
    wait_equal(target.snapshot, baseline, what=f"{variant} target ({context})")
    assert pending(versions) == [], context
    assert disk_problems(versions) == [], context


def _first_step_seconds(run: Run, versions: Path, expected: float) -> float:
    """Seconds from the run's start to its first pending version file (or to its end, or to a bound)."""
    deadline = time.monotonic() + 3 * expected + 30
    while not pending(versions) and run.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return time.monotonic() - run.started


@pytest.mark.slow
def test_the_random_kills_landed_while_changes_were_in_force():
    """Not vacuous: many kills left rollback work behind, in most scenario types."""
    if len(KILLED_WITH_PENDING) < len(TRIALS):
        pytest.skip("needs every trial of this module to have run first")
    hits = [trial for trial, count in KILLED_WITH_PENDING.items() if count]
    print(f"{len(hits)} of {len(TRIALS)} kills left pending version files")
    assert len(hits) >= len(TRIALS) // 5
    assert len({variant for variant, _ in hits}) >= 5


# ---- a kill before every system call of a registration ---------------------------------------

# Registers two steps; before the k-th file-system call of registration `which` it SIGKILLs itself.
REGISTER_AND_DIE = r'''
import os, signal, sys
sys.path.insert(0, sys.argv[4])
from krkn_tui.rollback import RollbackContent, RunRollback
from rollback_fixtures import noop_rollback

versions, which, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
reg = RunRollback(versions)
calls = 0

def trap(fn):
    def call(*args, **kwargs):
        global calls
        calls += 1
        if calls == k:
            os.kill(os.getpid(), signal.SIGKILL)
        return fn(*args, **kwargs)
    return call

for i in (1, 2):
    if i == which:
        for name in ("mkdir", "open", "write", "fsync", "rename", "close", "chmod", "unlink"):
            setattr(os, name, trap(getattr(os, name)))
    reg.set_rollback_callable(noop_rollback, RollbackContent(f"step{i}", "ns"), scenario_type="fault_test",
                              verb="delete", kind="Thing")
print(calls, flush=True)
'''


def _register_and_die(tmp: Path, versions: Path, which: int, k: int):
    script = tmp / "register_and_die.py"
    script.write_text(REGISTER_AND_DIE)
    return subprocess.run([sys.executable, str(script), str(versions), str(which), str(k),
                           str(Path(__file__).parent)], capture_output=True, text=True, timeout=60)


def _disk_shape(versions: Path) -> tuple:
    """File names with the random parts taken out: two crashes that left the same shape need
    one execute-rollback between them."""
    return tuple(sorted(re.sub(r"\d{6,}|-[0-9a-f]{8}(?=$|\.|-)|_[a-z0-9]{8}\.", "#", str(p.relative_to(versions)))
                        + f":{p.stat().st_size > 0}" for p in versions.rglob("*")))


@pytest.mark.slow
@pytest.mark.parametrize("which", [1, 2], ids=["first-registration", "second-registration"])
def test_sigkill_before_each_syscall_of_a_registration(which, tmp_path, kubeconfig):
    calls = int(_register_and_die(tmp_path, tmp_path / "count", which, 0).stdout)
    shapes_checked = set()
    for k in range(1, calls + 1):
        versions = tmp_path / f"k{k}" / "versions"
        died = _register_and_die(tmp_path, versions, which, k)
        assert died.returncode == -9, died.stderr
        shape = _disk_shape(versions)
        if shape in shapes_checked:
            continue
        shapes_checked.add(shape)
        for run_id in run_dirs(versions):
            out = krkn("execute-rollback", "-d", versions, "-r", run_id, kubeconfig=kubeconfig)
            assert out.returncode == 0, f"killed before call {k} of {calls}: {out.stdout}{out.stderr}"
        assert pending(versions) == [], f"killed before call {k} of {calls}"
        assert disk_problems(versions) == [], f"killed before call {k} of {calls}: {_disk_shape(versions)}"
        if which == 2:  # the first step was durable before the crash: it ran
            assert len(list(versions.rglob("*.py.executed"))) >= 1


def test_only_temp_files_of_dead_writers_are_removed(tmp_path):
    from krkn_tui.fsio import remove_stale_temps

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    names = {"live": f".tmp-x_1_abcdefgh.py-{os.getpid()}-0123abcd", "dead": f".tmp-x_2_abcdefgh.py-{dead}-0123abcd",
             "dead-record": f".tmp-x_3_abcdefgh.py.failed-{dead}-89abcdef", "other": ".tmp-notes"}
    for name in names.values():
        (tmp_path / name).write_text("x")
    removed = remove_stale_temps(tmp_path)
    assert sorted(p.name for p in removed) == sorted([names["dead"], names["dead-record"]])
    assert sorted(os.listdir(tmp_path)) == sorted([names["live"], names["other"]])
