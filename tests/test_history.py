"""`krkn-tui history` and `krkn-tui compare` on report files (offline): newest first, verdicts
and durations, hostile reports listed as unreadable (never a traceback, never markup), two runs
side by side with what changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench.fig_history import fake_report, fill
from krkn_tui.records import reports_dir
from krkn_tui.report.history import compare, history
from krkn_tui.report.model import Report, decode


def _cli(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "krkn_tui", *map(str, args)], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, cwd=cwd, timeout=60)


@pytest.fixture
def versions(tmp_path):
    return tmp_path / "versions"


def test_history_lists_newest_first_with_verdicts(versions):
    ids = fill(versions, 30)
    rows = history(versions)
    assert [r.started for r in rows] == sorted((r.started for r in rows), reverse=True)
    assert {r.run_id for r in rows} == set(ids)
    by_id = {r.run_id: r for r in rows}
    failing = fake_report(3, failed=True)
    assert by_id[failing["run_id"]].status == "failed" and by_id[failing["run_id"]].failed == 1
    assert by_id[failing["run_id"]].seconds == 42.5 and by_id[failing["run_id"]].scenarios == 5
    assert history(versions, limit=2) == rows[:2]

    done = _cli("history", "-d", versions, "-n", "3")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["started", "verdict", "duration", "score", "scenarios", "run"]
    assert [line.split()[-1] for line in lines[1:]] == [r.run_id for r in rows[:3]]
    assert "42.5s" in lines[1] and "5 (pod_disruption_scenarios," in lines[1]


def test_hostile_reports_are_listed_as_unreadable_and_shown_as_text(versions, tmp_path):
    fill(versions, 2)
    folder = reports_dir(versions)
    (folder / "a-not-json.json").write_text("{nope")
    (folder / "b-array.json").write_text("[1, 2]")
    (folder / "c-no-run-id.json").write_text(json.dumps({"status": "passed"}))
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps(fake_report(99)))
    (folder / "d-link.json").symlink_to(target)
    os.mkfifo(folder / "e-fifo.json")
    (folder / "f-deep.json").write_text("[" * 100_000 + "]" * 100_000)
    odd = fake_report(50)
    odd.update(status="\x1b[31mpassed\x1b]8;;http://x\x07", started="soon", scenarios={"not": "a list"},
               run_id="g-odd\u202e", cluster=["x"])
    (folder / "g-odd.json").write_text(json.dumps(odd))
    nan = fake_report(60)
    nan["scenarios"][0]["seconds"] = float("nan")  # json.dumps writes NaN; the report command reads it
    (folder / f"{nan['run_id']}.json").write_text(json.dumps(nan))

    rows = {r.run_id: r for r in history(versions)}
    unreadable = {k: r.error for k, r in rows.items() if r.status == "unreadable"}
    assert set(unreadable) == {"a-not-json", "b-array", "c-no-run-id", "d-link", "e-fifo", "f-deep"}, unreadable
    assert "symlink" in unreadable["d-link"] and "not JSON" in unreadable["a-not-json"]
    odd_row = rows["g-odd"]
    assert odd_row.status.startswith("[31mpassed") and odd_row.started is None and odd_row.scenarios == 0
    assert rows[nan["run_id"]].status == "passed" and rows[nan["run_id"]].scenarios == 5

    done = _cli("history", "-d", versions)
    assert done.returncode == 0 and not done.stderr, done.stderr
    assert "\x1b" not in done.stdout and "\u202e" not in done.stdout and "\x07" not in done.stdout
    assert done.stdout.count("unreadable") == 6


def _typed(report: dict) -> Report:
    return decode(report, "test")


def test_compare_puts_two_runs_side_by_side(versions):
    fill(versions, 10)
    good, bad = fake_report(1), fake_report(3, failed=True)
    cmp = compare(_typed(good), _typed(bad))
    summary = {row[0]: row[1:] for row in cmp.summary}
    assert summary["verdict"] == ("passed", "failed", "now failing")
    assert summary["duration"] == ("42.5s", "42.5s", "same")
    scenario = {row[0]: row for row in cmp.scenarios}
    assert scenario["#1 service_disruption_scenarios s1"][1:] == ("passed 6.00s", "failed 6.00s", "now failing")
    assert scenario["#0 pod_disruption_scenarios s0"][3] == "same"
    [recovery] = cmp.recovery
    assert recovery[1] == "median 1.70s, max 1.80s (3 pods)" and recovery[2] == "median 1.90s, max 2.00s (3 pods)"
    assert recovery[3] == "+0.20s"
    checks = {row[0]: row[1:] for row in cmp.checks}
    assert checks["http://127.0.0.1:18098/health#0"] == ("passing (0/40 probes failed)",
                                                        "passing (3/40 probes failed)", "differs")

    done = _cli("compare", "-d", versions, good["run_id"], bad["run_id"][:25])
    assert done.returncode == 0, done.stderr
    assert "now failing" in done.stdout and "== recovery" in done.stdout and "+0.20s" in done.stdout
    assert "passed 6.00s" in done.stdout and "failed 6.00s" in done.stdout


def _scored(n: int, score, slos: dict) -> dict:
    report = fake_report(n)
    report["monitoring"] = {"resiliency": {"score": score, "slo_results": slos, "scenarios": []}}
    return report


def test_the_resiliency_score_and_slos_are_listed_and_compared(versions):
    a = _scored(1, 100, {"frontend answering": True})
    b = _scored(2, 55, {"frontend answering": False})
    odd = _scored(3, "high", {"x": "yes"})  # hostile values: shown as unknown, never a crash
    folder = reports_dir(versions)
    folder.mkdir(parents=True, mode=0o700)
    for r in (a, b, odd):
        (folder / f"{r['run_id']}.json").write_text(json.dumps(r))
    rows = {r.run_id: r for r in history(versions)}
    assert (rows[a["run_id"]].score, rows[b["run_id"]].score, rows[odd["run_id"]].score) == (100, 55, None)
    cmp = compare(_typed(a), _typed(b))
    assert {row[0]: row[1:] for row in cmp.summary}["resiliency score"] == ("100", "55", "-45")
    assert {row[0]: row[1:] for row in cmp.checks}["SLO frontend answering"] == ("passed", "failed", "differs")
    assert {row[0]: row[1:] for row in compare(_typed(a), _typed(odd)).checks}["SLO x"] == ("-", "?", "differs")
    listed = _cli("history", "-d", versions).stdout.splitlines()
    assert [line.split()[5] for line in listed[1:]] == ["-", "55", "100"]  # newest first


def test_compare_of_an_unknown_run_is_one_line(versions):
    fill(versions, 2)
    done = _cli("compare", "-d", versions, "1790000000000000000", "nope")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "RUN: no report for run 'nope'" in done.stderr
