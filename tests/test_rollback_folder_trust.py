"""Whose version folder runs in-process: manifest lines signed by a trusted key (issue 17).

A folder written with another operator key (another KRKN_TUI_CONFIG_DIR), a tampered signature, a
line copied from another run and an unsigned (older) manifest are foreign: listed with why,
refused without --allow-foreign, run isolated with it. The user's own run is executed as before,
and --trust-key (or the trusted-keys file) makes another signer's folder ours."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from krkn_tui.rollback import Executor, RollbackContent, RunRollback, list_versions, manifest, signing
from krkn_tui.rollback.folder_trust import FolderTrust, own_signer
from hostile_support import krkn
from kubehelpers import gone_is_fine
from rollback_fixtures import KUBECONFIG

TESTS = Path(__file__).resolve().parent


def record_pid(content, api_client):
    import os

    with open(content.resource_identifier, "a") as f:
        f.write(f"{os.getpid()}\n")


@pytest.fixture
def keys(tmp_path, monkeypatch):
    """Two operators' config folders; the test process is operator "me"."""
    me, other = tmp_path / "me", tmp_path / "other"
    monkeypatch.setenv("KRKN_TUI_CONFIG_DIR", str(me))
    return me, other


def register_as(monkeypatch, operator: Path, versions: Path, marker: Path) -> Path:
    """A step written with ``operator``'s key (config folder); the test is "me" again after."""
    me = os.environ["KRKN_TUI_CONFIG_DIR"]
    monkeypatch.setenv("KRKN_TUI_CONFIG_DIR", str(operator))
    try:
        return register(versions, marker)
    finally:
        monkeypatch.setenv("KRKN_TUI_CONFIG_DIR", me)


def register(versions: Path, marker: Path, fn=record_pid) -> Path:
    return RunRollback(versions).set_rollback_callable(fn, RollbackContent(str(marker)),
                                                       scenario_type="pod_disruption_scenarios",
                                                       verb="delete", kind="Pod")


def public_line(folder: Path) -> str:
    return signing.load_or_create(folder / signing.KEY_FILE).public_text


def _key_id(folder: Path) -> str:
    return signing.load_or_create(folder / signing.KEY_FILE).key_id


def executor(tmp_path, **kwargs) -> Executor:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)  # loads, reaches nothing: the steps here only write a file
    return Executor(lambda: object(), kubeconfig=str(kubeconfig), retry_deadline=0, **kwargs)


def pids(marker: Path) -> list[int]:
    return [int(x) for x in marker.read_text().split()] if marker.exists() else []


def test_own_run_is_ours_and_runs_in_process(tmp_path, keys):
    marker = tmp_path / "marker"
    path = register(tmp_path / "versions", marker)
    [v] = list_versions(tmp_path / "versions")
    assert v.origin == "krkn-tui" and v.foreign is None
    [result] = executor(tmp_path).execute([path])
    assert result.status == "executed", result
    assert pids(marker) == [os.getpid()]


def test_a_folder_signed_by_another_key_is_foreign_until_trusted(tmp_path, keys, monkeypatch):
    me, other = keys
    marker = tmp_path / "marker"
    path = register_as(monkeypatch, other, tmp_path / "versions", marker)

    [v] = list_versions(tmp_path / "versions")
    assert v.foreign == f"foreign: signed by unknown key {_key_id(other)!r}"
    [refused] = executor(tmp_path).execute([path])
    assert refused.status == "refused" and "is foreign: signed by unknown key" in refused.error
    assert "--allow-foreign" in refused.error and "--trust-key" in refused.error
    assert not marker.exists() and path.exists()

    trusted = FolderTrust([public_line(other)])
    [v] = list_versions(tmp_path / "versions", trust=trusted)
    assert v.foreign is None
    [result] = executor(tmp_path, trust=trusted).execute([path])
    assert result.status == "executed" and pids(marker) == [os.getpid()]  # ours now: in-process


def test_the_trusted_keys_file_makes_another_signer_ours(tmp_path, keys, monkeypatch):
    me, other = keys
    path = register_as(monkeypatch, other, tmp_path / "versions", tmp_path / "marker")
    me.mkdir(mode=0o700, exist_ok=True)
    (me / signing.TRUSTED_FILE).write_text(f"# a colleague\n{public_line(other)}\n")
    [v] = list_versions(tmp_path / "versions")
    assert v.foreign is None
    assert executor(tmp_path).execute([path])[0].status == "executed"


def test_a_foreign_file_runs_isolated_with_allow_foreign(tmp_path, keys, monkeypatch):
    me, other = keys
    marker = tmp_path / "marker"
    path = register_as(monkeypatch, other, tmp_path / "versions", marker)
    [result] = executor(tmp_path, allow_foreign=True).execute([path])
    assert result.status == "executed", result
    [pid] = pids(marker)
    assert pid != os.getpid()  # its own interpreter (python -I -), as krkn's files
    assert path.with_name(path.name + ".executed").exists()


def _copy_run(src_run: Path, versions: Path, name: str) -> Path:
    dst = versions / name
    shutil.copytree(src_run, dst)
    os.chmod(dst, 0o700)
    return dst


def test_a_line_copied_into_another_run_does_not_verify(tmp_path, keys):
    marker = tmp_path / "marker"
    path = register(tmp_path / "versions", marker)
    other_run = _copy_run(path.parent, tmp_path / "versions", "1755523355298089000-a-copy-of-my-own-run")
    copied = other_run / path.name
    by_path = {v.path: v for v in list_versions(tmp_path / "versions")}
    assert by_path[path].foreign is None
    assert by_path[copied].foreign.startswith("foreign: bad signature")
    [result] = executor(tmp_path).execute([copied])
    assert result.status == "refused" and "is foreign: bad signature" in result.error and not marker.exists()


def test_a_tampered_signature_and_an_unsigned_manifest_are_foreign(tmp_path, keys):
    marker = tmp_path / "marker"
    path = register(tmp_path / "versions", marker)
    manifest_file = path.parent / manifest.MANIFEST_NAME
    [line] = manifest_file.read_text().splitlines()
    entry = json.loads(line)
    algo, kid, sig = entry["signature"].split(":")
    cases = [
        ("foreign: bad signature", {**entry, "signature": f"{algo}:{kid}:{sig[::-1]}"}),
        ("foreign: not signed", {k: v for k, v in entry.items() if k != "signature"}),  # before lines were signed
        ("foreign: bad signature", {**entry, "created_ns": entry["created_ns"] + 1}),  # a signed field changed
    ]
    for why, changed in cases:
        manifest_file.write_text(json.dumps(changed) + "\n")
        [v] = list_versions(tmp_path / "versions")
        assert v.foreign.startswith(why), (why, v.foreign)
        [result] = executor(tmp_path).execute([path])
        assert result.status == "refused" and f"is {why}" in result.error, result
    assert not marker.exists()
    manifest_file.write_text(line + "\n")  # the line as written: ours again
    assert executor(tmp_path).execute([path])[0].status == "executed"


def test_the_key_is_loaded_once_per_process(tmp_path, keys, monkeypatch):
    calls = []
    real = signing.load_or_create
    monkeypatch.setattr(signing, "load_or_create", lambda *a, **k: calls.append(a) or real(*a, **k))
    run = RunRollback(tmp_path / "versions")
    for i in range(5):
        run.set_rollback_callable(record_pid, RollbackContent(str(tmp_path / f"m{i}")),
                                  scenario_type="pod_disruption_scenarios", verb="delete", kind="Pod")
    assert len(calls) == 1
    assert len(manifest.read_lines(run.run_dir)) == 5
    assert own_signer() is own_signer()


def test_a_bad_trust_key_is_one_line_before_any_step(tmp_path, keys):
    path = register(tmp_path / "versions", tmp_path / "marker")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    out = krkn("execute-rollback", "-d", tmp_path / "versions", path, "--trust-key", "ed25519:not-base64!",
               "--kubeconfig", kubeconfig, "--retry-deadline", "0",
               env={"KRKN_TUI_CONFIG_DIR": str(keys[0])})
    err = out.stderr.decode()
    assert out.returncode == 2 and "--trust-key" in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1
    assert path.exists() and not (tmp_path / "marker").exists()


def test_a_broken_trusted_keys_file_stops_the_command_line_not_a_runs_own_rollback(tmp_path, keys):
    me, _ = keys
    marker = tmp_path / "marker"
    path = register(tmp_path / "versions", marker)
    (me / signing.TRUSTED_FILE).write_text("ed25519:AAAA\n")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    out = krkn("execute-rollback", "-d", tmp_path / "versions", path, "--kubeconfig", kubeconfig,
               env={"KRKN_TUI_CONFIG_DIR": str(me)})
    err = out.stderr.decode()
    assert out.returncode == 2 and f"{me / signing.TRUSTED_FILE}:1:" in err and len(err.splitlines()) == 1, err
    assert not marker.exists()
    # a run undoing its own steps (the engine's executor) is not stopped by that file
    assert executor(tmp_path).execute([path])[0].status == "executed" and pids(marker) == [os.getpid()]


# -- the command line against the local cluster -----------------------------------------------


def _register_config_map_step(versions: Path, namespace: str, name: str, config_dir: Path) -> Path:
    """Another operator's run: a real step, written by another process with that operator's key."""
    script = (f"import sys; sys.path.insert(0, {str(TESTS)!r})\n"
              "from pathlib import Path\n"
              "from krkn_tui.rollback import RollbackContent, RunRollback\n"
              "from rollback_fixtures import delete_config_map\n"
              f"print(RunRollback(Path({str(versions)!r})).set_rollback_callable(delete_config_map, "
              f"RollbackContent({name!r}, {namespace!r}), scenario_type='pod_disruption_scenarios', "
              "verb='delete', kind='ConfigMap'))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         env={**os.environ, "KRKN_TUI_CONFIG_DIR": str(config_dir)})
    return Path(out.stdout.strip())


def test_cli_refuses_another_operators_folder_and_runs_it_when_told(tmp_path, core, namespace, kubeconfig):
    from kubernetes import client

    me, other = tmp_path / "me", tmp_path / "other"
    versions = tmp_path / "versions"
    names = ["theirs", "mine"]
    for name in names:
        core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name)))
    theirs = _register_config_map_step(versions, namespace, "theirs", other)
    mine = _register_config_map_step(versions, namespace, "mine", me)

    def present() -> set[str]:
        return {c.metadata.name for c in core.list_namespaced_config_map(namespace).items} & set(names)

    as_me = {"KRKN_TUI_CONFIG_DIR": str(me)}
    listed = krkn("list-rollback", "-d", versions, env=as_me).stdout.decode().splitlines()
    [their_row] = [row for row in listed if str(theirs) in row]
    [my_row] = [row for row in listed if str(mine) in row]
    assert their_row.endswith(f"{theirs}  (foreign: signed by unknown key '{_key_id(other)}')") and my_row.endswith(str(mine))
    shown = krkn("show-rollback", theirs, env=as_me).stdout.decode()
    assert "# trust: foreign: signed by unknown key" in shown

    out = krkn("execute-rollback", "-d", versions, "-r", theirs.parent.name, "--kubeconfig", kubeconfig,
               env=as_me)
    assert out.returncode == 1 and "is foreign: signed by unknown key" in out.stdout.decode(), out
    assert present() == {"theirs", "mine"}  # the foreign step did not touch the cluster

    out = krkn("execute-rollback", "-d", versions, "-r", mine.parent.name, "--kubeconfig", kubeconfig, env=as_me)
    assert out.returncode == 0, out
    assert present() == {"theirs"}  # my own run: executed as before

    out = krkn("execute-rollback", "-d", versions, "-r", theirs.parent.name, "--kubeconfig", kubeconfig,
               "--trust-key", public_line(other), env=as_me)
    assert out.returncode == 0 and out.stdout.decode().startswith("executed"), out
    assert present() == set()
    for name in names:
        gone_is_fine(lambda n: core.delete_namespaced_config_map(n, namespace), name)


def test_cli_allow_foreign_runs_another_operators_step_isolated(tmp_path, core, namespace, kubeconfig):
    from kubernetes import client

    core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="theirs")))
    path = _register_config_map_step(tmp_path / "versions", namespace, "theirs", tmp_path / "other")
    out = krkn("execute-rollback", "-d", tmp_path / "versions", path, "--kubeconfig", kubeconfig, "--allow-foreign",
               env={"KRKN_TUI_CONFIG_DIR": str(tmp_path / "me")})
    assert out.returncode == 0, out
    assert "theirs" not in {c.metadata.name for c in core.list_namespaced_config_map(namespace).items}
    assert path.with_name(path.name + ".executed").exists()


async def test_console_says_why_another_operators_step_is_foreign_and_refuses_it(tmp_path, keys, monkeypatch):
    from krkn_tui.tui.screens.confirm import ConfirmScreen
    from tui_support import SIZE, cell, console, keys as row_keys, until

    me, other = keys
    theirs = register_as(monkeypatch, other, tmp_path / "versions", tmp_path / "marker")
    register(tmp_path / "versions", tmp_path / "marker")
    (tmp_path / "config.yaml").write_text("kraken:\n  chaos_scenarios: []\n")
    app = console(tmp_path, kubeconfig=str(tmp_path / "none"), watch_pods=False, probe_cluster=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        view = app.screen
        table = view.query_one("#version-table")
        await until(pilot, lambda: view.listings >= 1 and table.row_count == 2, what="2 rows")
        rows = {key: (cell(table, key, "origin"), cell(table, key, "note")) for key in row_keys(table)}
        assert sorted(rows.values()) == [("foreign", f"foreign: signed by unknown key {_key_id(other)!r}"),
                                         ("krkn-tui", "")]
        for _ in range(table.row_count):
            if view.selected().path == theirs:
                break
            await pilot.press("j")
        assert view.selected().path == theirs
        await pilot.press("x")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)  # refused before any dialog
        assert any("foreign: signed by unknown key" in line and "--trust-key" in line for line in app.said)
    assert theirs.exists() and not (tmp_path / "marker").exists()
