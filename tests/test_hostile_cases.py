"""The numbered cases of "a versions folder that fights back", one test (or a few) each.

Each failed on the code before the fix (what was reviewed was not what ran, escapes reached the
terminal, the console died on markup...) and guards the fix now."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from krkn_tui.events import RunStarted
from krkn_tui.rollback import Executor, list_versions
from rollback_fixtures import KUBECONFIG
from hostile_support import RUN, body, break_manifest, krkn, meta, no_raw_controls, plant


def executor(**kw) -> Executor:
    return Executor(lambda: object(), **kw)


# -- 1. what you review is what runs -----------------------------------------------------------

def hidden_code(marker: Path) -> dict[str, bytes]:
    """Files whose visible text is harmless but whose hidden part writes "hidden" to marker."""
    hidden = f"open({str(marker)!r}, 'a').write('hidden')"
    plain = body(marker, "shown")
    return {
        # Python decodes with the cookie: \xe9 is "é" there, while a viewer sees broken UTF-8.
        "latin-1-cookie": b"# coding: latin-1\n" + meta() + b"x = '\xe9'\n" + plain,
        # utf-7: "+AAo-" is a newline, so the "comment" holds a line of code.
        "utf-7-cookie": b"# coding: utf-7\n" + meta() + b"# harmless +AAo-" + hidden.encode() + b"\n" + plain,
        # \r is a line break for Python; a terminal writes the comment over the code.
        "carriage-return": meta() + hidden.encode() + b" #\r# nothing to see\n" + plain,
        # ESC[8m ... ESC[0m: the terminal conceals what is between.
        "concealed": meta() + b"# \x1b[8m\n" + hidden.encode() + b"\n# \x1b[0m\n" + plain,
    }


@pytest.mark.parametrize("case", ["latin-1-cookie", "utf-7-cookie", "carriage-return", "concealed"])
def test_1_hidden_code_is_refused_by_executor_list_and_show(tmp_path, case):
    marker = tmp_path / "marker"
    path = plant(tmp_path / "versions", hidden_code(marker)[case])
    [result] = executor().execute([path])
    assert result.status == "refused" and "unsafe" in result.error, result
    assert not marker.exists()  # nothing ran, hidden or shown
    assert path.exists()
    [listed] = list_versions(tmp_path / "versions")
    assert listed.error.startswith("unsafe: ")
    shown = krkn("show-rollback", path)
    assert shown.returncode == 2 and b"unsafe" in shown.stderr and shown.stdout == b""
    assert no_raw_controls(shown.stderr) and b"Traceback" not in shown.stderr


def test_1_executed_code_is_the_checked_text(tmp_path):
    """A utf-8 cookie is fine: the file runs, compiled from the decoded text."""
    marker = tmp_path / "marker"
    path = plant(tmp_path / "versions", b"# -*- coding: utf-8 -*-\n" + meta() + body(marker, "é"))
    [result] = executor().execute([path])
    assert result.status == "executed", result
    assert marker.read_text(encoding="utf-8") == "é\n"


# -- 2. terminal escapes never pass through -----------------------------------------------------

OSC_TITLE = "\x1b]0;pwned\x07"
CLEAR = "\x1b[2J"
OSC8 = "\x1b]8;;http://example.invalid/\x1b\\click\x1b]8;;\x1b\\"

KRKN_WITH_ESCAPES = f'''\
from dataclasses import dataclass

@dataclass(frozen=True)
class RollbackContent:
    resource_identifier: str
    namespace: str = None

def rollback_x(rollback_content, lib_telemetry):
    pass

rollback_content = RollbackContent(namespace={CLEAR!r}, resource_identifier={OSC_TITLE!r})

if __name__ == '__main__':
    rollback_x(rollback_content, None)
'''


def escape_folder(tmp_path: Path) -> tuple[Path, list[Path]]:
    """ASCII-clean files (they pass the text rule) whose decoded fields hold escapes."""
    versions = tmp_path / "versions"
    ours = plant(versions, meta(verb=OSC_TITLE, name="x" * 30 + OSC8) + body(tmp_path / "m"))
    failed = plant(versions, meta() + body(tmp_path / "m"),
                   name="pod_disruption_scenarios_1755523353558511001_abcdefgh.py")
    Path(str(failed) + ".failed").write_text(json.dumps({"error": CLEAR + "boom" + OSC_TITLE}))
    krkn_file = plant(versions, KRKN_WITH_ESCAPES.encode(), name="hog_scenarios_1755523353558511002_kestermi.py",
                      digest=False)
    return versions, [ours, failed, krkn_file]


def test_2_list_and_show_print_escapes_visibly(tmp_path):
    versions, files = escape_folder(tmp_path)
    listed = krkn("list-rollback", "-d", versions)
    assert listed.returncode == 0, listed.stderr
    assert no_raw_controls(listed.stdout), listed.stdout
    out = listed.stdout.decode()
    assert "\\x1b]0;pwned\\x07" in out and "\\x1b[2Jboom" in out
    for path in files:
        shown = krkn("show-rollback", path)
        assert shown.returncode == 0, shown.stderr
        assert no_raw_controls(shown.stdout), shown.stdout
        assert b"\\x1b" in shown.stdout
    # --json escapes by itself and keeps the real values
    rows = json.loads(krkn("list-rollback", "-d", versions, "--json").stdout)
    assert {r["verb"] for r in rows} >= {OSC_TITLE}


def test_2_cutting_an_action_never_leaves_an_escape_open():
    from krkn_tui.sanitize import clip

    for width in range(1, 60):
        cut = clip("x" * 30 + OSC8, width)
        assert "\x1b" not in cut and len(cut) <= width
        assert not cut.rstrip("…").endswith(("\\", "\\x", "\\x1"))


# -- 3. the console shows markup as text --------------------------------------------------------

async def test_3_console_shows_markup_as_text(tmp_path):
    from tui_support import SIZE, cell, console, keys, until

    plant(tmp_path / "versions", meta(verb="[/oops]", kind="[b]", name=OSC_TITLE) + body(tmp_path / "m"))
    (tmp_path / "config.yaml").write_text("kraken:\n  chaos_scenarios: []\n")
    app = console(tmp_path, kubeconfig=str(tmp_path / "none"), watch_pods=False, probe_cluster=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        table = app.screen.query_one("#version-table")
        await until(pilot, lambda: table.row_count == 1, what="the row")
        [key] = keys(table)
        assert cell(table, key, "action") == "[/oops] [b] demo/\\x1b]0;pwned\\x07"
        await pilot.press("enter")  # the inspect screen too
        await pilot.pause()
        assert app.is_running and app.return_code is None


# -- 4. one bad manifest refuses its own steps only, never hangs, never a traceback -------------

OTHER_RUN = "1755523355298089001-0f0f0f0f-91f7-490a-afb9-878478b1574a"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", ["symlink", "directory", "fifo", "world-writable", "foreign-owner"])
def test_4_bad_manifest_refuses_only_its_run(tmp_path, how):
    versions = tmp_path / "versions"
    marker = tmp_path / "marker"
    bad = plant(versions, meta() + body(marker, "bad"))
    good = plant(versions, meta() + body(marker, "good"), run=OTHER_RUN,
                 name="pod_disruption_scenarios_1755523353558511009_abcdefgh.py")
    break_manifest(bad.parent, how, tmp_path / "elsewhere.jsonl")
    # the CLI's dry run checks the same way: one refusal line, no traceback
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    out = krkn("execute-rollback", "-d", versions, "--dry-run", bad, good, "--kubeconfig", kubeconfig)
    assert b"Traceback" not in out.stdout + out.stderr, out
    assert out.returncode == 1 and out.stdout.count(b"refused") == 1 and b"would-run" in out.stdout, out
    results = {r.path: r for r in executor().execute([bad, good])}
    assert results[bad].status == "refused" and results[bad].error, results[bad]
    assert results[good].status == "executed", results[good]
    assert marker.read_text() == "good\n"


# -- 7. krkn's files run isolated, from the checked bytes -----------------------------------------

KRKN_PROBE = '''\
import os, sys, json
try:
    import kubernetes
    planted = getattr(kubernetes, "PLANTED", False)
except ImportError:
    planted = False
with open({marker!r}, "w") as f:
    json.dump({{"cwd": os.getcwd(), "isolated": sys.flags.isolated, "planted": planted,
               "path": sys.path}}, f)
'''


def test_7_krkn_file_runs_isolated_from_checked_bytes(tmp_path):
    versions = tmp_path / "versions"
    marker = tmp_path / "probe.json"
    path = plant(versions, KRKN_PROBE.format(marker=str(marker)).encode(),
                 name="hog_scenarios_1755523353558511000_kestermi.py", digest=False)
    (path.parent / "kubernetes.py").write_text("PLANTED = True\n")
    [result] = executor(allow_foreign=True).execute([path])
    assert result.status == "executed", result
    probe = json.loads(marker.read_text())
    assert probe["planted"] is False and probe["isolated"] == 1
    assert Path(probe["cwd"]) != path.parent and str(path.parent) not in probe["path"]


# -- 5. reports and audit log beside a versions folder in a shared folder -----------------------

STRANGER = 4242


@pytest.fixture
def shared(tmp_path) -> Path:
    """A folder everybody can write to (sticky, like /tmp), holding the versions folder."""
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, 0o1777)
    return folder


def test_5_planted_temp_symlink_in_reports_is_never_followed(shared):
    from krkn_tui.report.load import write_report
    from krkn_tui.report import Report

    victim = shared / "victim"
    victim.write_text("precious\n")
    reports = shared / "versions-reports"
    reports.mkdir(mode=0o700)
    (reports / "r1.json.tmp").symlink_to(victim)
    path = write_report(shared / "versions", Report("r1", status="passed"))
    assert victim.read_text() == "precious\n"
    assert json.loads(path.read_text())["status"] == "passed"
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)


@pytest.mark.parametrize("plant_what", ["foreign-folder", "loose-folder", "symlink-folder"])
def test_5_reports_folder_not_ours_is_refused_and_nothing_written(shared, plant_what):
    from krkn_tui.errors import UserError
    from krkn_tui.report.load import write_report
    from krkn_tui.report import Report

    reports = shared / "versions-reports"
    if plant_what == "symlink-folder":
        (shared / "elsewhere").mkdir(mode=0o700)
        reports.symlink_to(shared / "elsewhere")
    else:
        reports.mkdir()
        os.chmod(reports, 0o777)
        if plant_what == "foreign-folder":
            os.chown(reports, STRANGER, STRANGER)
            os.chmod(reports, 0o755)
    with pytest.raises(UserError) as err:
        write_report(shared / "versions", Report("r1"))
    assert "reports folder refused" in str(err.value) and "\n" not in str(err.value)
    assert not any(p.name.startswith(("r1", ".tmp")) for p in shared.rglob("*"))


@pytest.mark.parametrize("plant_what", ["foreign-0666", "own-0666", "symlink", "fifo"])
def test_5_planted_audit_log_is_refused_and_never_written(shared, plant_what):
    from krkn_tui.errors import UserError
    from krkn_tui.records import AuditLog

    log_path = shared / "versions-audit.jsonl"
    victim = shared / "victim"
    victim.write_text("")
    if plant_what == "symlink":
        log_path.symlink_to(victim)
    elif plant_what == "fifo":
        os.mkfifo(log_path, 0o666)
    else:
        log_path.write_text("")
        os.chmod(log_path, 0o666)
        if plant_what == "foreign-0666":
            os.chown(log_path, STRANGER, STRANGER)
    audit = AuditLog(log_path, "r1")
    with pytest.raises(UserError) as err:
        audit.check()
    assert "audit log refused" in str(err.value)
    audit.record(RunStarted(1, 1, "versions"))  # refused quietly once checked too: nothing written
    assert victim.read_text() == ""
    if plant_what != "fifo" and plant_what != "symlink":
        assert log_path.read_text() == ""


def test_5_umask_000_still_makes_private_folders_and_files(tmp_path):
    from krkn_tui.records import AuditLog
    from krkn_tui.report.load import write_report
    from krkn_tui.report import Report

    versions = tmp_path / "deep" / "er" / "versions"
    old = os.umask(0)
    try:
        AuditLog(versions.parent / "versions-audit.jsonl", "r1").record(RunStarted(1, 1, "versions"))
        report = write_report(versions, Report("r1"))
    finally:
        os.umask(old)
    for folder in (tmp_path / "deep", tmp_path / "deep" / "er", report.parent):
        assert oct(folder.stat().st_mode & 0o777) == oct(0o700), folder
    for file in (versions.parent / "versions-audit.jsonl", report):
        assert oct(file.stat().st_mode & 0o777) == oct(0o600), file


@pytest.mark.cluster
def test_5_execute_rollback_refuses_with_a_planted_audit_log(tmp_path, shared, kubeconfig):
    versions = shared / "versions"
    marker = tmp_path / "marker"
    path = plant(versions, meta() + body(marker))
    log_path = shared / "versions-audit.jsonl"
    log_path.write_text("")
    os.chown(log_path, STRANGER, STRANGER)
    os.chmod(log_path, 0o666)
    out = krkn("execute-rollback", "-d", versions, path, "--kubeconfig", kubeconfig)
    assert out.returncode == 2 and b"audit log refused" in out.stderr, out
    assert out.stderr.count(b"\n") == 1 and b"Traceback" not in out.stderr
    assert not marker.exists() and path.exists() and log_path.read_text() == ""


# -- 6. listing is bounded ----------------------------------------------------------------------

def test_6_a_large_krkn_style_file_lists_in_flat_memory(tmp_path):
    import tracemalloc

    from bench.fig_listing import KRKN_TEMPLATE

    text = KRKN_TEMPLATE.format(i=7) + "DATA = [\n" + "".join(f"    {{'k': {i}}},\n" for i in range(120_000)) + "]\n"
    assert len(text) > 2_000_000
    path = plant(tmp_path / "versions", text.encode(), name="hog_scenarios_1755523353558511000_kestermi.py",
                 digest=False)
    tracemalloc.start()
    try:
        [info] = list_versions(tmp_path / "versions")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"{peak / 1e6:.0f} MB"
    assert (info.verb, info.namespace, info.name, info.error) == ("rollback_hog_pod", "bench", "hog-000007", None)
    assert info.path == path


def test_6_a_large_file_is_still_checked_whole_for_the_text_rule(tmp_path):
    text = "# krkn-tui-meta: {}\n" + "x = 1\n" * 100_000 + "# \x1b[8m hidden\n"
    plant(tmp_path / "versions", text.encode())
    [info] = list_versions(tmp_path / "versions")
    assert info.error.startswith("unsafe: line 100002 holds the control character \\x1b")


# -- 8. captured Secrets do not outlive their step -----------------------------------------------

SECRET_VALUE = "c3VwZXItc2VjcmV0LXZhbHVl"  # base64 of super-secret-value


def register_namespace_capture(versions: Path) -> Path:
    from krkn_tui.rollback import RollbackContent, RunRollback
    from rollback_fixtures import noop_rollback

    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {
        "name": "db", "annotations": {"kubectl.kubernetes.io/last-applied-configuration":
                                      '{"data":{"password":"' + SECRET_VALUE + '"}}'}},
        "data": {"password": SECRET_VALUE}, "stringData": {"token": "plain-" + SECRET_VALUE}}
    data = {"namespace": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
            "objects": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"k": "v"}},
                        secret]}
    return RunRollback(versions).set_rollback_callable(
        noop_rollback, RollbackContent("shop", "shop", data), scenario_type="service_disruption_scenarios",
        verb="recreate", kind="Namespace")


def test_8_executed_step_is_redacted_before_archiving_and_still_verifies(tmp_path):
    from krkn_tui.rollback import archive
    from krkn_tui.rollback.safety import digest_mismatch_reason

    versions = tmp_path / "versions"
    path = register_namespace_capture(versions)
    assert SECRET_VALUE in path.read_text()
    [result] = executor().execute([path])
    assert result.status == "executed" and result.error is None, result
    executed = Path(str(path) + ".executed")
    text = executed.read_text()
    assert SECRET_VALUE not in text and text.count("<redacted>") == 3
    assert '"k": "v"' in text  # only Secret values go
    assert digest_mismatch_reason(executed, executed.read_bytes()) is None
    assert oct(executed.stat().st_mode & 0o777) == oct(0o600)
    [archived] = archive([executed], versions)
    assert SECRET_VALUE not in archived.read_text()
    assert digest_mismatch_reason(archived, archived.read_bytes()) is None
    assert not any(SECRET_VALUE in p.read_text() for p in tmp_path.rglob("*.py*") if p.is_file())


def test_8_show_and_console_mask_pending_secrets_unless_revealed(tmp_path):
    from krkn_tui.rollback import read_version
    from krkn_tui.tui.screens.inspect import source_view

    versions = tmp_path / "versions"
    path = register_namespace_capture(versions)
    shown = krkn("show-rollback", path)
    assert shown.returncode == 0 and SECRET_VALUE.encode() not in shown.stdout
    assert b"# secrets: 3 Secret value(s) masked; --reveal shows them" in shown.stdout
    audit = tmp_path / "versions-audit.jsonl"
    assert not audit.exists()  # showing masked values is not audited
    idle = krkn("show-rollback", path, "-d", versions)  # the folder only names where a reveal is audited
    assert idle.returncode == 2 and b"-d/--versions-dir: applies to show-rollback only with --reveal" in idle.stderr
    revealed = krkn("show-rollback", path, "--reveal", "-d", versions)
    assert revealed.returncode == 0 and SECRET_VALUE.encode() in revealed.stdout
    assert b"# secrets: 3 Secret value(s) REVEALED (audited)" in revealed.stdout
    [line] = [json.loads(x) for x in audit.read_text().splitlines()]
    assert (line["event"], line["file"], line["count"], line["run_id"]) == (
        "secrets_revealed", str(path), 3, "show-rollback")
    assert SECRET_VALUE not in audit.read_text()  # the log says that, never what
    assert SECRET_VALUE not in source_view(read_version(path)).plain
    assert SECRET_VALUE in path.read_text()  # the pending step keeps what it needs to run


def test_8_reveal_is_refused_when_it_cannot_be_audited(tmp_path):
    """A loose (0666) audit log is not ours to trust: nothing revealed, one line, exit 2."""
    versions = tmp_path / "versions"
    path = register_namespace_capture(versions)
    audit = tmp_path / "versions-audit.jsonl"
    audit.write_text("")
    audit.chmod(0o666)
    revealed = krkn("show-rollback", path, "--reveal", "-d", versions)
    assert revealed.returncode == 2 and SECRET_VALUE.encode() not in revealed.stdout
    assert b"audit log refused" in revealed.stderr and b"Traceback" not in revealed.stderr
    assert audit.read_text() == ""


def test_8_an_executed_step_has_nothing_to_reveal(tmp_path):
    versions = tmp_path / "versions"
    path = register_namespace_capture(versions)
    [result] = executor().execute([path])
    assert result.status == "executed", result
    executed = Path(str(path) + ".executed")
    revealed = krkn("show-rollback", executed, "--reveal", "-d", versions)
    assert revealed.returncode == 0 and SECRET_VALUE.encode() not in revealed.stdout
    assert b"# secrets: 3 Secret value(s) redacted when the step ran: nothing to reveal" in revealed.stdout
    assert not (tmp_path / "versions-audit.jsonl").exists()  # nothing was revealed


# -- beyond the list: the report command in a shared folder ---------------------------------------

def test_report_file_never_follows_a_planted_temp_link(shared):
    from krkn_tui.report import Report, write_report_file

    victim = shared / "victim"
    victim.write_text("precious\n")
    (shared / ".out.md.tmp").symlink_to(victim)
    write_report_file(Report("r1", status="passed"), "md", shared / "out.md")
    assert victim.read_text() == "precious\n" and "r1" in (shared / "out.md").read_text()


@pytest.mark.timeout(30)
def test_report_that_is_a_fifo_is_refused_not_waited_on(shared):
    from krkn_tui.errors import UserError
    from krkn_tui.report import read_report

    fifo = shared / "r1.json"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(UserError) as err:
        read_report(fifo)
    assert "not a regular file" in str(err.value)


def test_5_a_log_planted_mid_run_never_stops_the_rollback(tmp_path):
    """Checked once before anything is done; a log loosened since is not written, and the
    rollback still runs (a planted file must not keep a change in force)."""
    from krkn_tui.records import AuditLog
    from krkn_tui.rollback.service import RollbackService

    marker = tmp_path / "marker"
    path = plant(tmp_path / "versions", meta() + body(marker))
    log_path = tmp_path / "versions-audit.jsonl"
    service = RollbackService(tmp_path / "versions", lambda: object(), audit=AuditLog(log_path, "r1"))
    service.check_audit()
    os.chmod(log_path, 0o666)
    [result] = service.execute([path])
    assert result.status == "executed" and marker.read_text() == "ran\n"
    assert log_path.read_text() == ""


# -- 9. one hostile step never abandons the others (issue 17) --------------------------------------
# Each selection holds the hostile step (newest, so it runs first) and an older good one: the
# hostile one is refused in one line, the older one still runs.

NEWER = "pod_disruption_scenarios_1755523353558511009_abcdefgh.py"
DEAD_PID = 999_999_999  # above any pid_max: no such process


def write_marker_step(content, api_client):
    with open(content.resource_identifier, "a") as f:
        f.write("hostile step ran\n")


def _ours_with_data(versions: Path, marker: Path, json_text: str, wrapped: bool = True) -> Path:
    """A step of ours (header, digest) whose data literal holds ``json_text`` as it is; on one
    line as files were written before, or wrapped as the writer does now when it is long."""
    from krkn_tui.rollback import RollbackContent
    from krkn_tui.rollback.meta import VersionMeta
    from krkn_tui.rollback.writer import render_version_file

    text = render_version_file(write_marker_step, RollbackContent(str(marker), "demo", {}), VersionMeta(verb="recreate"))
    line = f"    data=json.loads({ascii(json_text)}),"
    if wrapped and len(line) > 200:
        from krkn_tui.rollback.data_line import render

        line = render(json_text)
    assert text.count("    data=json.loads('{}'),") == 1
    return plant(versions, text.replace("    data=json.loads('{}'),", line).encode(), name=NEWER)


def _older_step(versions: Path, marker: Path) -> Path:
    return plant(versions, meta() + body(marker, "older"))


SECRET_JSON = '{"kind": "Secret", "metadata": {"name": "db"}, "data": {"password": "aHVudGVyMg=="}}'


@pytest.mark.parametrize("wrapped", [True, False], ids=["wrapped", "one-line"])
@pytest.mark.parametrize("data, why", [
    ('{"objects": [' + SECRET_JSON + ', {"kind": "ConfigMap", "data": {"ratio": NaN}}]}',
     "its data holds NaN, which is not JSON"),
    ('{"objects": [' + SECRET_JSON + '], "replicas": -Infinity}', "its data holds -Infinity"),
    ('{"objects": [' + SECRET_JSON + '], "deep": ' + "[" * 50_000 + "]" * 50_000 + "}", "nested too deeply"),
], ids=["nan", "infinity", "deep"])
def test_9_data_that_cannot_be_redacted_refuses_its_step_only(tmp_path, data, why, wrapped):
    versions, marker = tmp_path / "versions", tmp_path / "marker"
    hostile = _ours_with_data(versions, tmp_path / "hostile-marker", data, wrapped)
    older = _older_step(versions, marker)
    results = {r.path: r for r in executor().execute([older, hostile])}
    assert results[hostile].status == "refused" and why in results[hostile].error, results[hostile]
    assert "\n" not in results[hostile].error
    assert not (tmp_path / "hostile-marker").exists() and hostile.exists()  # not run, file untouched
    assert results[older].status == "executed" and marker.read_text() == "older\n"
    shown = krkn("show-rollback", hostile)  # masking cannot find the values: not shown at all
    assert shown.returncode == 2 and why.encode() in shown.stderr and b"aHVudGVyMg==" not in shown.stdout
    assert shown.stderr.count(b"\n") == 1 and b"Traceback" not in shown.stderr


def test_9_redaction_never_raises_whatever_the_data():
    from krkn_tui.rollback.data_line import render
    from krkn_tui.rollback.redact import Unredactable, redact_secrets, redaction

    for data in ('{"a": NaN, "objects": [' + SECRET_JSON + ']}', "[" * 100_000 + "]" * 100_000,
                 '{"data": {"k": "v"}, "kind": "Secret", "metadata": [1]}', "not json"):
        text = "CONTENT = RollbackContent(\n" + render(data) + "\n)\n"
        assert redact_secrets(text) in ((text, 0), (text.replace('"v"', '"<redacted>"'), 1))
        try:
            redaction(text)
        except Unredactable as exc:
            assert "\n" not in str(exc)


def _dead_temp_dirs(*folders: Path) -> list[Path]:
    made = []
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        made.append(folder / f".tmp-{NEWER}-{DEAD_PID}-0badf00d")
        made[-1].mkdir()
        (made[-1] / "inside").write_text("someone's\n")
    return made


def test_9_a_directory_named_like_a_stale_temp_file_stops_nothing(tmp_path):
    from krkn_tui.records import reports_dir
    from krkn_tui.rollback.service import RollbackService

    versions, marker = tmp_path / "versions", tmp_path / "marker"
    older = _older_step(versions, marker)
    newer = plant(versions, meta() + body(marker, "newer"), name=NEWER)
    stale_file = older.parent / f".tmp-{older.name}-{DEAD_PID}-deadbeef"
    stale_file.write_text("half a step")
    dirs = _dead_temp_dirs(older.parent, reports_dir(versions))
    results = RollbackService(versions, lambda: object()).execute([older, newer])
    assert [r.status for r in results] == ["executed", "executed"], results
    assert marker.read_text() == "newer\nolder\n"
    assert not stale_file.exists()  # a dead writer's temp file still goes
    assert all((d / "inside").read_text() == "someone's\n" for d in dirs)  # a directory is not ours to remove


def test_9_a_directory_named_like_the_executed_file_never_makes_a_step_rerun(tmp_path):
    versions, marker = tmp_path / "versions", tmp_path / "marker"
    older = _older_step(versions, marker)
    newer = plant(versions, meta() + body(marker, "newer"), name=NEWER)
    in_the_way = Path(str(newer) + ".executed")
    in_the_way.mkdir()
    for _ in range(2):  # refused each time, never run (it could never be marked executed)
        results = {r.path: r for r in executor().execute([older, newer])}
        assert results[newer].status == "refused", results[newer]
        assert f"{NEWER}.executed is in the way and is not a regular file" in results[newer].error
        assert not results[newer].undone
    assert marker.read_text() == "older\n"
    # the directory itself is no executed step, and does not stand for one
    [as_step] = executor().execute([in_the_way])
    assert as_step.status == "refused" and "not a regular file" in as_step.error and not as_step.undone
    [listed] = [v for v in list_versions(versions) if v.path.name.startswith(NEWER)]
    assert listed.status == "pending" and listed.path == newer


@pytest.mark.cluster
def test_9_execute_rollback_goes_on_past_a_directory_named_like_a_stale_temp_file(tmp_path, kubeconfig):
    from krkn_tui.records import reports_dir

    versions, marker = tmp_path / "versions", tmp_path / "marker"
    older = _older_step(versions, marker)
    newer = plant(versions, meta() + body(marker, "newer"), name=NEWER)
    _dead_temp_dirs(older.parent, reports_dir(versions))
    out = krkn("execute-rollback", "-d", versions, older, newer, "--kubeconfig", kubeconfig, "--no-journal")
    assert out.returncode == 0 and b"Traceback" not in out.stdout + out.stderr, out
    assert marker.read_text() == "newer\nolder\n"


def test_1_the_console_shows_an_invisible_identifier_escaped(tmp_path):
    """The inspect view of an unsafe file shows every character the rule refused, as its escape:
    a variation selector the sanitiser would leave alone included."""
    from krkn_tui.rollback import read_version
    from krkn_tui.tui.screens.inspect import source_view

    marker = tmp_path / "marker"
    path = plant(tmp_path / "versions", meta() + body(marker).replace(b"def touch", "def touch\ufe00".encode())
                 .replace(b"ROLLBACK = touch", "ROLLBACK = touch\ufe00".encode()))
    shown = source_view(read_version(path)).plain
    assert "unsafe: line 2 holds the invisible character \\ufe00 (VARIATION SELECTOR-1)" in shown
    assert "def touch\\ufe00(content" in shown and "\ufe00" not in shown
