import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from krkn_tui.events import RollbackRegistered
from krkn_tui.rollback import RollbackContent, RunRollback
from krkn_tui.rollback import manifest
from krkn_tui.fsio import sha256_hex
from krkn_tui.rollback.loader import load_version
from krkn_tui.rollback.meta import VersionMeta, parse_meta
from krkn_tui.rollback.naming import parse_run_dir_name, parse_version_name
from krkn_tui.rollback.source_text import MAX_COLUMNS, checked_source
from krkn_tui.rollback.writer import render_version_file

from rollback_fixtures import KUBECONFIG  # noqa: E402  (a kubeconfig that loads but reaches nothing)


def write_marker(content, api_client):
    from pathlib import Path

    with open(Path(content.data["marker"]), "a") as f:
        f.write(f"{content.namespace}/{content.resource_identifier}\n")


def always_fails(content, api_client):
    raise RuntimeError("pod\nnot restorable")


def noop(content, api_client):
    return None


def uses_a_global(content, api_client):
    return KUBECONFIG


def _content(tmp_path, name="web", namespace="demo"):
    return RollbackContent(name, namespace, {"marker": str(tmp_path / "marker")})


def _register(run, fn=noop, content=None, scenario_type="pod_disruption_scenarios"):
    return run.set_rollback_callable(
        fn, content or RollbackContent("x"), scenario_type=scenario_type, verb="delete", kind="Pod"
    )


@pytest.fixture
def kubeconfig(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    return path


def test_thousand_registrations_get_distinct_strictly_increasing_names(tmp_path):
    run = RunRollback(tmp_path / "versions")
    paths = [_register(run, content=RollbackContent(str(i))) for i in range(1000)]
    names = [p.name for p in paths]
    assert len(set(names)) == 1000
    times = [parse_version_name(n)[1] for n in names]
    assert all(b > a for a, b in zip(times, times[1:]))
    assert sorted(paths, key=lambda p: parse_version_name(p.name)[1]) == paths
    assert sorted(os.listdir(run.run_dir)) == sorted(names + [manifest.MANIFEST_NAME])
    assert set(manifest.read_entries(run.run_dir)) == set(names)
    assert list(run.registered) == paths


def test_file_is_durable_and_in_the_manifest_when_the_call_returns(tmp_path, monkeypatch):
    events = []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def rename(src, dst):
        events.append(("rename", str(src), str(dst)))
        return real_rename(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    run = RunRollback(tmp_path / "versions", run_uuid="run-1")
    content = _content(tmp_path)
    path = _register(run, write_marker, content)
    monkeypatch.undo()

    data = path.read_bytes()
    assert b"def write_marker(content, api_client):" in data
    entry = manifest.read_entries(run.run_dir)[path.name]
    assert entry.sha256 == sha256_hex(data)
    assert entry.created_ns == parse_version_name(path.name)[1]

    renames = [e for e in events if e[0] == "rename" and e[2] == str(path)]
    assert len(renames) == 1
    tmp_name = renames[0][1]
    i_rename = events.index(renames[0])
    assert ("fsync", tmp_name) in events[:i_rename]  # content on disk before it gets its name
    dir_syncs = [i for i, e in enumerate(events) if e == ("fsync", str(run.run_dir))]
    assert any(i > i_rename for i in dir_syncs)  # the rename itself is durable
    manifest_syncs = [
        i for i, e in enumerate(events) if e == ("fsync", str(run.run_dir / manifest.MANIFEST_NAME))
    ]
    assert manifest_syncs and manifest_syncs[-1] < i_rename  # never a named file without its digest
    assert not [n for n in os.listdir(run.run_dir) if n.startswith(".tmp-")]


def test_modes_and_layout(tmp_path):
    run = RunRollback(tmp_path / "versions", run_uuid="abc")
    assert not run.run_dir.exists()  # nothing written before the first registration
    path = _register(run)
    assert path.parent == run.run_dir == tmp_path / "versions" / run.run_id
    assert parse_run_dir_name(run.run_id)[1] == "abc"
    assert stat.S_IMODE(os.stat(tmp_path / "versions").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(run.run_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(run.run_dir / manifest.MANIFEST_NAME).st_mode) == 0o600


def test_header_carries_the_metadata(tmp_path):
    run = RunRollback(tmp_path / "v")
    path = run.set_rollback_callable(
        noop,
        RollbackContent("deny-all", "demo"),
        scenario_type="application_outages_scenarios",
        verb="delete",
        kind="NetworkPolicy",
    )
    meta = parse_meta(path.read_text())
    assert meta.run_id == run.run_id
    assert meta.scenario_type == "application_outages_scenarios"
    assert meta.created_ns == parse_version_name(path.name)[1]
    assert (meta.verb, meta.kind) == ("delete", "NetworkPolicy")
    assert (meta.namespace, meta.name, meta.callable) == ("demo", "deny-all", "noop")


def test_version_file_runs_standalone(tmp_path, kubeconfig):
    run = RunRollback(tmp_path / "versions")
    path = _register(run, write_marker, _content(tmp_path, "web-1", "shop"))
    proc = subprocess.run(
        [sys.executable, str(path)],
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "marker").read_text() == "shop/web-1\n"


def test_standalone_failure_exits_nonzero_with_one_line(tmp_path, kubeconfig):
    run = RunRollback(tmp_path / "versions")
    path = _register(run, always_fails)
    proc = subprocess.run(
        [sys.executable, str(path)],
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "RuntimeError: pod not restorable" in lines[0]
    assert path.name in lines[0]


def test_standalone_without_a_usable_kubeconfig_fails_cleanly(tmp_path):
    run = RunRollback(tmp_path / "versions")
    path = _register(run, write_marker, _content(tmp_path))
    proc = subprocess.run(
        [sys.executable, str(path)],
        env={**os.environ, "KUBECONFIG": str(tmp_path / "missing")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "marker").exists()


class Holder:
    def method(self, content, api_client):
        return None


def _make_closure():
    captured = 1

    def inner(content, api_client):
        return captured

    return inner


def one_arg(content):
    return None


@pytest.mark.parametrize(
    "fn, message",
    [
        (lambda c, a: None, "module-level"),
        (_make_closure(), "module-level"),
        (Holder().method, "plain function"),
        (Holder.method, "module-level"),
        (print, "plain function"),
        (uses_a_global, "KUBECONFIG"),
        (one_arg, "(content, api_client)"),
    ],
)
def test_unfit_callables_are_rejected_and_nothing_is_written(tmp_path, fn, message):
    run = RunRollback(tmp_path / "versions")
    with pytest.raises(ValueError, match=re_escape(message)):
        _register(run, fn)
    assert not run.run_dir.exists()


def re_escape(text):
    import re

    return re.escape(text)


@pytest.mark.parametrize("data", [{"t": (1, 2)}, {1: "x"}, {"x": float("nan")}, {"s": {1}}])
def test_data_that_does_not_round_trip_through_json_is_rejected(tmp_path, data):
    run = RunRollback(tmp_path / "versions")
    with pytest.raises(ValueError, match="RollbackContent.data"):
        _register(run, content=RollbackContent("x", data=data))


@pytest.mark.parametrize("verb", ["", "two\nlines", None])
def test_verb_must_be_one_line(tmp_path, verb):
    run = RunRollback(tmp_path / "versions")
    with pytest.raises(ValueError):
        run.set_rollback_callable(noop, RollbackContent(), scenario_type="a", verb=verb, kind="Pod")


def test_loose_versions_dir_is_refused_at_registration(tmp_path):
    versions = tmp_path / "versions"
    versions.mkdir(mode=0o700)
    os.chmod(versions, 0o777)
    with pytest.raises(PermissionError, match="writable"):
        _register(RunRollback(versions))


def test_registration_event(tmp_path):
    events = []
    run = RunRollback(tmp_path / "versions", on_event=events.append)
    path = run.set_rollback_callable(
        noop, RollbackContent("np", "demo"), scenario_type="s", verb="delete", kind="NetworkPolicy"
    )
    assert events == [RollbackRegistered(str(path), "s", "delete", "NetworkPolicy", "demo", "np", run_id=run.run_id)]
    # the audit log's line: the keys it has always had
    assert events[0].record() == {
        "event": "rollback_registered",
        "file": str(path),
        "run_id": run.run_id,
        "scenario_type": "s",
        "verb": "delete",
        "kind": "NetworkPolicy",
        "namespace": "demo",
        "name": "np",
    }


def test_a_failing_event_sink_does_not_lose_the_step(tmp_path):
    def sink(event):
        raise OSError("audit log full")

    path = _register(RunRollback(tmp_path / "versions", on_event=sink))
    assert path.exists()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(
    ident=st.text(),
    namespace=st.none() | st.text(),
    data=st.none() | st.dictionaries(st.text(), json_values, max_size=5),
)
def test_any_content_round_trips_through_the_file(ident, namespace, data):
    meta = VersionMeta(name=ident, namespace=namespace, verb="delete")
    text = render_version_file(noop, RollbackContent(ident, namespace, data), meta)
    rollback, content = load_version(text, "<v>")
    assert (content.resource_identifier, content.namespace, content.data) == (
        ident,
        namespace,
        data,
    )
    assert rollback.__name__ == "noop"
    assert parse_meta(text) == meta
    assert checked_source(text.encode()) == text  # whatever the content, the file passes the text rule


@pytest.mark.timeout(30)
def test_a_value_of_wide_escapes_is_wrapped_and_round_trips():
    """Characters that ascii() writes as 10 columns (an emoji in a ConfigMap anyone can write)
    made the wrapper's shrink step overshoot below one character and loop for ever, before the
    version file was written."""
    ident, data = "\U0001f600" * 300, {"k": "\U0001f600" * 300 + "é\x00" * 100}
    meta = VersionMeta(name=ident, namespace="\U0001f600" * 63, verb="delete")
    text = render_version_file(noop, RollbackContent(ident, meta.namespace, data), meta)
    _, content = load_version(text, "<v>")
    assert (content.resource_identifier, content.namespace, content.data) == (ident, meta.namespace, data)
    assert checked_source(text.encode()) == text  # the text rule: no line wider than a screen


def test_a_namespace_capture_stays_within_the_screen_width_and_round_trips(tmp_path):
    """A capture's JSON runs to megabytes and a name to 253 characters: the writer wraps its
    literals so that no line is wider than the text rule allows, and the data comes back whole."""
    from krkn_tui.rollback.redact import redaction

    secret = {"kind": "Secret", "metadata": {"name": "db"}, "data": {"k": "v" * 70_000, "q": "'\"\\\u00e9" * 999}}
    data = {"objects": [secret] + [{"kind": "ConfigMap", "data": {str(i): "x" * i}} for i in range(400)]}
    name, namespace = "n" * 253, "é" * 63
    path = RunRollback(tmp_path).set_rollback_callable(
        noop, RollbackContent(name, namespace, data), scenario_type="service_disruption_scenarios",
        verb="recreate", kind="Namespace")
    text = path.read_text()
    code = [line for line in text.splitlines() if not line.startswith("# krkn-tui-meta: ")]
    assert max(map(len, code)) <= MAX_COLUMNS and len(text) > 150_000
    assert checked_source(path.read_bytes()) == text
    _, content = load_version(text, str(path))
    assert (content.resource_identifier, content.namespace, content.data) == (name, namespace, data)
    redacted, count = redaction(text)
    assert count == 2 and checked_source(redacted.encode()) == redacted
    assert max(len(line) for line in redacted.splitlines()[5:]) <= MAX_COLUMNS
    assert load_version(redacted, str(path))[1].data["objects"][0]["data"] == {"k": "<redacted>", "q": "<redacted>"}


def test_a_file_written_before_wrapping_still_passes_and_is_redacted(tmp_path):
    """Pending steps on disk hold the data on one long line: still runnable, still redacted."""
    from krkn_tui.rollback.redact import redaction

    data = {"objects": [{"kind": "Secret", "data": {"k": "s" * 5000}}]}
    text = render_version_file(noop, RollbackContent("x", "ns", {}), VersionMeta(verb="delete")).replace(
        "    data=json.loads('{}'),", f"    data=json.loads({ascii(json.dumps(data, sort_keys=True))}),")
    assert max(map(len, text.splitlines())) > 5000
    assert checked_source(text.encode()) == text
    assert load_version(text, "<v>")[1].data == data
    redacted, count = redaction(text)
    assert count == 1 and "s" * 5000 not in redacted and checked_source(redacted.encode()) == redacted
