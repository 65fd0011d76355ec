"""The rollback version view: live listing, inspect, execute, archive, filter, read-only."""

from __future__ import annotations

import os

import pytest
from kubernetes import client

from krkn_tui.rollback import RollbackContent, RunRollback, list_versions
from krkn_tui.tui.screens.confirm import ConfirmScreen
from krkn_tui.tui.screens.inspect import InspectScreen
from rollback_fixtures import always_fails, delete_config_map
from tui_support import SIZE, cell, console, footer_keys, keys, until


def register(versions, fn=delete_config_map, name="cm", namespace="demo", run=None):
    run = run or RunRollback(versions)
    path = run.set_rollback_callable(fn, RollbackContent(name, namespace), scenario_type="pod_disruption_scenarios",
                                     verb="delete", kind="ConfigMap")
    return run, path


def config_map(core, namespace, name):
    core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name)))


def config_maps(core, namespace) -> set[str]:
    return {c.metadata.name for c in core.list_namespaced_config_map(namespace).items} - {"kube-root-ca.crt"}


def statuses(table) -> list[str]:
    return [cell(table, k, "status") for k in keys(table)]


class Notes:
    """Records app.notify calls: the outcome of an action is shown there."""

    def __init__(self, app):
        self.items: list[tuple[str, str]] = []
        original = app.notify

        def notify(message, *args, severity="information", **kwargs):
            self.items.append((str(message), severity))
            return original(message, *args, severity=severity, **kwargs)

        app.notify = notify


async def open_versions(app, pilot, rows: int = 0):
    """Switch to the view and wait until its listing shows ``rows`` rows."""
    await pilot.press("3")
    view = app.screen
    table = view.query_one("#version-table")
    await until(pilot, lambda: view.listings >= 1 and table.row_count == rows, what=f"{rows} rows")
    assert view.partial_listings == 1  # the rows from file names came first
    return view, table


def empty_config(tmp_path, kubeconfig: str) -> dict:
    (tmp_path / "config.yaml").write_text("kraken:\n  chaos_scenarios: []\n")
    return dict(kubeconfig=kubeconfig, watch_pods=False, probe_cluster=False)


@pytest.fixture
def offline(tmp_path):
    return empty_config(tmp_path, str(tmp_path / "no-kubeconfig"))


@pytest.fixture
def on_cluster(tmp_path, kubeconfig):
    return empty_config(tmp_path, kubeconfig)


async def test_files_written_by_another_process_show_up_with_the_cursor_kept(tmp_path, offline):
    versions = tmp_path / "versions"
    app = console(tmp_path, **offline)
    async with app.run_test(size=SIZE) as pilot:
        view, table = await open_versions(app, pilot)
        assert table.row_count == 0 and "no versions folder yet" in str(view.query_one("#versions-status").render())
        # the folder does not exist yet: the view starts watching it once it appears
        run, first = register(versions, name="first")
        await until(pilot, lambda: table.row_count == 1, what="first row")
        [key] = keys(table)
        assert cell(table, key, "action") == "delete ConfigMap demo/first"
        assert cell(table, key, "status") == "pending" and cell(table, key, "origin") == "krkn-tui"
        assert cell(table, key, "run") == run.run_uuid[:8]

        register(versions, name="second", run=run)
        await until(pilot, lambda: table.row_count == 2, what="second row")
        # newest first, and the cursor stayed on the row it was on
        assert [cell(table, k, "action") for k in keys(table)] == ["delete ConfigMap demo/second",
                                                                    "delete ConfigMap demo/first"]
        assert table.current_key == key


async def test_inspect_shows_metadata_and_source(tmp_path, offline):
    register(tmp_path / "versions", name="web")
    app = console(tmp_path, **offline)
    async with app.run_test(size=SIZE) as pilot:
        view, table = await open_versions(app, pilot, rows=1)
        await pilot.press("enter")
        assert isinstance(app.screen, InspectScreen)
        meta = str(app.screen.query_one("#inspect-meta").render())
        code = str(app.screen.query_one("#inspect-code").render())
        assert "delete ConfigMap demo/web" in meta and "pending" in meta
        assert "def delete_config_map(content, api_client):" in code
        await pilot.press("escape")
        assert app.screen is view


async def test_unreadable_version_file_is_listed_with_its_error(tmp_path, offline):
    run, path = register(tmp_path / "versions", name="web")
    target = tmp_path / "elsewhere.py"
    target.write_text("print('not here')\n")
    bad = path.parent / "pod_disruption_scenarios_1_zzzzzzzz.py"  # a version name, but a symlink
    os.symlink(target, bad)
    app = console(tmp_path, **offline)
    async with app.run_test(size=SIZE) as pilot:
        view, table = await open_versions(app, pilot, rows=2)
        [bad_key] = [k for k in keys(table) if "zzzzzzzz" in k]
        assert "symlink" in cell(table, bad_key, "note")
        table.move_cursor(row=table.get_row_index(bad_key))
        await pilot.press("i")
        assert "cannot read" in str(app.screen.query_one("#inspect-code").render())


async def test_filter_narrows_rows_and_escape_restores_them(tmp_path, offline):
    versions = tmp_path / "versions"
    run_a, _ = register(versions, name="alpha")
    register(versions, name="beta")
    app = console(tmp_path, **offline)
    async with app.run_test(size=SIZE) as pilot:
        view, table = await open_versions(app, pilot, rows=2)
        await pilot.press("slash", *run_a.run_uuid[:8])
        assert [cell(table, k, "action") for k in keys(table)] == ["delete ConfigMap demo/alpha"]
        await pilot.press("enter")
        assert app.focused is table
        await pilot.press("escape")
        assert table.row_count == 2 and not view.query_one("#version-filter").display


async def test_readonly_removes_execute_and_archive(tmp_path, offline):
    _, path = register(tmp_path / "versions", name="web")
    app = console(tmp_path, readonly=True, **offline)
    async with app.run_test(size=SIZE) as pilot:
        view, table = await open_versions(app, pilot, rows=1)
        shown = footer_keys(app)
        assert {"i", "slash"} <= shown and not {"x", "X", "a", "ctrl+e"} & shown
        await pilot.press("x", "X", "a")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ConfirmScreen)
        assert path.exists() and statuses(table) == ["pending"]
        # the palette offers nothing that changes anything either
        from krkn_tui.tui.commands import ConsoleCommands

        titles = [title for title, _help, _cmd in ConsoleCommands(view)._commands()]
        assert "Inspect" in titles and not {"Execute", "Execute run", "Archive", "E-STOP"} & set(titles)


@pytest.mark.cluster
async def test_execute_one_then_archive_it(tmp_path, on_cluster, namespace, api_client):
    core = client.CoreV1Api(api_client)
    config_map(core, namespace, "victim")
    register(tmp_path / "versions", name="victim", namespace=namespace)
    app = console(tmp_path, **on_cluster)
    notes = Notes(app)
    async with app.run_test(size=SIZE) as pilot:
        view, table = await open_versions(app, pilot, rows=1)
        [key] = keys(table)
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen) and app.focused.id == "cancel"
        await pilot.press("enter")  # Enter on Cancel: nothing happens
        assert not isinstance(app.screen, ConfirmScreen) and config_maps(core, namespace) == {"victim"}
        await pilot.press("x", "y")
        await until(pilot, lambda: statuses(table) == ["executed"], what="executed")
        assert config_maps(core, namespace) == set()
        assert keys(table) == [key]  # same row, new status
        assert any("executed" in text and severity == "information" for text, severity in notes.items)

        await pilot.press("a")  # an executed step archives without asking
        await until(pilot, lambda: statuses(table) == ["archived (executed)"], what="archived")
        assert not isinstance(app.screen, ConfirmScreen)
    [step] = list_versions(tmp_path / "versions")
    assert step.status == "archived" and step.path.is_relative_to(tmp_path / "versions-archive")


@pytest.mark.cluster
async def test_a_failed_step_stays_failed_with_its_error(tmp_path, on_cluster):
    _, path = register(tmp_path / "versions", fn=always_fails, name="stuck")
    app = console(tmp_path, **on_cluster)
    notes = Notes(app)
    async with app.run_test(size=SIZE) as pilot:
        view, table = await open_versions(app, pilot, rows=1)
        [key] = keys(table)
        await pilot.press("x", "y")
        await until(pilot, lambda: statuses(table) == ["failed"], what="failed")
        assert "cannot restore stuck" in cell(table, key, "note")
        assert any("cannot restore stuck" in text and severity == "error" for text, severity in notes.items)
        # still runnable: it stays in the folder, pending a retry
        assert path.exists()
        await pilot.press("a")  # archiving a step that has not run asks first
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert path.exists()


@pytest.mark.cluster
async def test_execute_run_runs_every_pending_step_of_that_run_only(tmp_path, on_cluster, namespace, api_client):
    core = client.CoreV1Api(api_client)
    for name in ("one", "two", "other"):
        config_map(core, namespace, name)
    versions = tmp_path / "versions"
    run, _ = register(versions, name="one", namespace=namespace)
    register(versions, name="two", namespace=namespace, run=run)
    register(versions, name="other", namespace=namespace)  # another run, newest of all
    app = console(tmp_path, **on_cluster)
    async with app.run_test(size=SIZE) as pilot:
        view, table = await open_versions(app, pilot, rows=3)
        await pilot.press("j")  # onto the newest row of the first run ("two")
        assert cell(table, table.current_key, "action").endswith("/two")
        await pilot.press("X")
        body = str(app.screen.query_one("#confirm-body").render())
        assert body.index("/two") < body.index("/one") and "other" not in body  # newest first
        await pilot.press("y")
        await until(pilot, lambda: config_maps(core, namespace) == {"other"}, what="run rolled back")
        await until(pilot, lambda: sorted(statuses(table)) == ["executed", "executed", "pending"], what="statuses")


async def test_krkn_file_is_executed_only_with_allow_foreign(tmp_path, offline):
    from tui_support import KRKN_FILE

    run_dir = tmp_path / "versions" / "1767171000000000000-7a7a7a7a-0000-0000-0000-000000000000"
    run_dir.mkdir(parents=True, mode=0o700)
    path = run_dir / "hog_scenarios_1767171000000000000_abcd1234.py"
    path.write_text(KRKN_FILE)
    app = console(tmp_path, **offline)
    async with app.run_test(size=SIZE) as pilot:
        _view, table = await open_versions(app, pilot, rows=1)
        [key] = keys(table)
        assert cell(table, key, "origin") == "krkn"
        await pilot.press("x")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)  # refused before any dialog
        assert app.told("--allow-foreign")
    assert path.exists() and not path.with_name(path.name + ".executed").exists()


async def test_execute_says_which_skipped_steps_are_done_and_which_are_not(tmp_path, offline):
    from pathlib import Path

    from krkn_tui.rollback import StepResult
    from krkn_tui.tui.screens.versions import StepOutcome

    app = console(tmp_path, **offline)
    notes = Notes(app)
    async with app.run_test(size=SIZE) as pilot:
        view, _table = await open_versions(app, pilot)
        elsewhere = StepResult(Path("a.py"), "skipped", "a.py was executed by another executor", undone=True)
        held = StepResult(Path("b.py"), "skipped", "b.py is being run by another executor", busy=True)
        view.notify_executed(StepOutcome("execute", "run r", [StepResult(Path("c.py"), "executed", undone=True),
                                                              elsewhere]))
        view.notify_executed(StepOutcome("execute", "run r", [elsewhere, held]))
    assert notes.items == [("executed run r: 2 done", "information"),
                           ("executed run r: 1 done, 1 not run here: b.py is being run by another executor",
                            "warning")]


@pytest.mark.cluster
async def test_p_jumps_to_the_pods_the_step_touched(tmp_path, kubeconfig, namespace, api_client):
    core = client.CoreV1Api(api_client)
    pod = {"metadata": {"name": "touched"}, "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}
    core.create_namespaced_pod(namespace, pod)
    register(tmp_path / "versions", name="victim", namespace=namespace)
    app = console(tmp_path, **{**empty_config(tmp_path, kubeconfig), "watch_pods": True})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await until(pilot, lambda: f"{namespace}/touched" in app.pod_table.rows and len(app.pod_table.rows) > 1,
                    what="the pods listed")
        view, table = await open_versions(app, pilot, rows=1)
        await pilot.press("p")
        pods = app.views["pods"]
        await until(pilot, lambda: app.screen is pods, what="the pods view")
        shown = pods.query_one("#pod-table")
        await until(pilot, lambda: keys(shown) == [f"{namespace}/touched"], what="only the step's namespace")
        assert pods.query_one("#pod-filter").value == f"{namespace}/"
