"""The inspect view's `v` key: a step's captured Secret values stay masked until asked for and
confirmed, are audited when revealed, and are masked again by `v` or by leaving the view.

The pending step is captured from a namespace of the local cluster with the scenario's own
capture and registered by the core's writer, as `delete_namespace` does before it deletes; the
executed one comes from a real `delete_namespace` run, which redacts and archives its step."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from krkn_tui.rollback import RollbackContent, RunRollback
from krkn_tui.scenarios.service_disruption import capture_namespace, recreate_namespace
from krkn_tui.tui.screens.confirm import ConfirmScreen
from krkn_tui.tui.screens.help import HelpScreen
from krkn_tui.tui.screens.inspect import InspectScreen
from kubehelpers import gone_is_fine
from test_scenario_node import Recorder, run_engine, scenario_config
from test_tui_versions import Notes, empty_config, open_versions
from tui_support import SIZE, console, until

pytestmark = pytest.mark.cluster

PASSWORD = "tr0ub4dor-" + uuid.uuid4().hex[:8]
SHOWN = base64.b64encode(PASSWORD.encode()).decode()  # what the file holds: the Secret's data


def add_secret(core, namespace: str) -> None:
    core.create_namespaced_secret(namespace, {"metadata": {"name": "creds"}, "type": "Opaque",
                                              "stringData": {"password": PASSWORD}})


def register_capture(versions, api_client, namespace: str):
    """A pending `recreate Namespace` step, as delete_namespace writes it before deleting."""
    return RunRollback(versions).set_rollback_callable(
        recreate_namespace, RollbackContent(namespace, namespace, capture_namespace(api_client, namespace)),
        scenario_type="service_disruption_scenarios", verb="recreate", kind="Namespace")


def on_screen(screen) -> str:
    """The inspect view's text: its title, metadata and source."""
    return "\n".join(str(screen.query_one(f"#inspect-{part}").render()) for part in ("title", "meta", "code"))


def v_key(app) -> str:
    return app.screen.active_bindings["v"].binding.description


def reveals(tmp_path) -> list[dict]:
    audit = tmp_path / "versions-audit.jsonl"
    lines = [json.loads(x) for x in audit.read_text().splitlines()] if audit.exists() else []
    return [x for x in lines if x["event"] == "secrets_revealed"]


async def inspect_only_row(app, pilot) -> InspectScreen:
    await open_versions(app, pilot, rows=1)
    await pilot.press("enter")
    assert isinstance(app.screen, InspectScreen)
    return app.screen


async def test_pending_secret_values_are_masked_until_revealed_and_masked_again(
        tmp_path, kubeconfig, api_client, core, namespace):
    add_secret(core, namespace)
    path = register_capture(tmp_path / "versions", api_client, namespace)
    assert SHOWN in path.read_text()  # the step needs them to re-create the Secret
    app = console(tmp_path, **empty_config(tmp_path, kubeconfig))
    async with app.run_test(size=SIZE) as pilot:
        screen = await inspect_only_row(app, pilot)
        text = on_screen(screen)
        assert SHOWN not in text and PASSWORD not in text
        assert "1 Secret value(s) masked; v shows them" in text and "<redacted>" in text
        assert v_key(app) == "Reveal values"

        # asked first, focus on Cancel; cancelling keeps them masked and writes nothing
        await pilot.press("v")
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen) and app.focused.id == "cancel"
        assert "will be shown on screen" in str(dialog.query_one("#confirm-body").render())
        await pilot.press("n")
        assert app.screen is screen and SHOWN not in on_screen(screen) and not reveals(tmp_path)

        await pilot.press("v", "y")
        await until(pilot, lambda: SHOWN in on_screen(screen), timeout=10, what="the revealed value")
        assert "1 Secret value(s) REVEALED on screen" in on_screen(screen)
        assert v_key(app) == "Mask values"
        [line] = reveals(tmp_path)
        assert (line["file"], line["count"], line["run_id"]) == (str(path), 1, "console")
        assert SHOWN not in (tmp_path / "versions-audit.jsonl").read_text()  # that, never what

        await pilot.press("question_mark")  # help names what the key does now
        keys = str(app.screen.query_one("#help-keys").render())
        assert "Mask the Secret values" in keys and "Show the captured Secret values" not in keys
        assert "REVEALED" in str(app.screen.query_one("#help-title").render())
        await pilot.press("escape")

        await pilot.press("v")  # masks at once: no dialog, no audit line
        assert app.screen is screen and SHOWN not in on_screen(screen)
        assert v_key(app) == "Reveal values" and len(reveals(tmp_path)) == 1

        await pilot.press("v", "y")
        await until(pilot, lambda: SHOWN in on_screen(screen), timeout=10, what="revealed again")
        await pilot.press("escape")  # leaving the view masks them too
        await pilot.press("enter")
        assert isinstance(app.screen, InspectScreen) and app.screen is not screen
        assert SHOWN not in on_screen(app.screen) and len(reveals(tmp_path)) == 2


async def test_an_executed_and_archived_step_has_nothing_to_reveal(tmp_path, kubeconfig, api_client, core):
    name = f"t-reveal-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    try:
        add_secret(core, name)
        config = scenario_config(tmp_path, "service_disruption_scenarios",
                                 f"scenarios:\n  - namespace: \"^{name}$\"\n    mode: delete_namespace\n"
                                 "    delete_count: 1\n    duration: 0\n")
        result = run_engine(config, api_client, Recorder())
        assert result.status == "passed", result.scenarios
        assert core.read_namespace_status(name) and core.read_namespaced_secret("creds", name).data["password"] == SHOWN
    finally:
        gone_is_fine(core.delete_namespace, name)
    app = console(tmp_path, **empty_config(tmp_path, kubeconfig))
    async with app.run_test(size=SIZE) as pilot:
        notes = Notes(app)
        screen = await inspect_only_row(app, pilot)
        assert screen.version.status == "archived"
        text = on_screen(screen)
        assert SHOWN not in text and "1 Secret value(s) redacted when the step ran: nothing to reveal" in text
        await pilot.press("v")
        await pilot.pause()
        assert app.screen is screen  # no dialog: nothing to ask about
        assert any("Nothing to reveal" in m and "redacted when the step ran" in m for m, _ in notes.items)
        assert SHOWN not in on_screen(screen) and not reveals(tmp_path)


async def test_a_reveal_that_cannot_be_audited_is_refused(tmp_path, kubeconfig, api_client, core, namespace):
    add_secret(core, namespace)
    register_capture(tmp_path / "versions", api_client, namespace)
    audit = tmp_path / "versions-audit.jsonl"
    audit.write_text("")
    audit.chmod(0o666)  # anyone may write it: not a log to trust
    app = console(tmp_path, **empty_config(tmp_path, kubeconfig))
    async with app.run_test(size=SIZE) as pilot:
        notes = Notes(app)
        screen = await inspect_only_row(app, pilot)
        await pilot.press("v", "y")
        await until(pilot, lambda: notes.items, timeout=10, what="the refusal")
        assert app.screen is screen and SHOWN not in on_screen(screen)
        [(message, severity)] = notes.items
        assert severity == "error" and "audit log refused" in message
        assert v_key(app) == "Reveal values" and audit.read_text() == ""
