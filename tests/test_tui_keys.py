"""Keys shared by every view: number keys, help, palette, theme, table navigation."""

from __future__ import annotations

import pytest
from textual.command import CommandList, CommandPalette

from krkn_tui.tui.screens.help import HelpScreen
from tui_support import SIZE, cell, console, keys, until

SCENARIOS = "".join(f"    - node_scenarios: [n{i}.yaml]\n" for i in range(4))


@pytest.fixture
def app(tmp_path):
    for i in range(4):
        (tmp_path / f"n{i}.yaml").write_text(
            f"node_scenarios:\n  - actions: [node_cordon_scenario]\n    label_selector: k=v{i}\n")
    (tmp_path / "config.yaml").write_text(f"kraken:\n  chaos_scenarios:\n{SCENARIOS}")
    return console(tmp_path, kubeconfig=str(tmp_path / "none"), watch_pods=False, probe_cluster=False)


async def test_number_keys_switch_views_and_each_keeps_its_state(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j", "j")
        picker_table = app.screen.query_one("#scenarios")
        assert picker_table.current_key == "2"
        await pilot.press("2")
        assert app.current_mode == "pods" and app.screen.query_one("#pod-table")
        await pilot.press("3")
        assert app.current_mode == "versions"
        await pilot.press("1")
        assert app.current_mode == "picker" and picker_table.current_key == "2"


async def test_table_keys_j_k_g_G(app):
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#scenarios")
        assert keys(table) == ["0", "1", "2", "3"]
        await pilot.press("G")
        assert table.current_key == "3"
        await pilot.press("k")
        assert table.current_key == "2"
        await pilot.press("g")
        assert table.current_key == "0"


async def test_space_marks_and_unmarks_and_the_preview_follows_the_cursor(app):
    async with app.run_test(size=SIZE) as pilot:
        picker = app.screen
        await pilot.press("space", "j", "space", "space")
        assert picker.marked == {"0"}
        assert "k=v1" in str(picker.query_one("#preview").render())
        assert "n1.yaml" in str(picker.query_one("#preview-title").render())


async def test_help_lists_this_views_keys_and_escape_closes_it(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-keys").render())
        for line in ("Execute the highlighted step", "Emergency stop", "Filter by run", "Bottom"):
            assert line in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen) and app.current_mode == "versions"


async def test_palette_runs_a_view_action_by_name(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*"Versions")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette)
                    and app.screen.query_one(CommandList).option_count > 0, timeout=10, what="palette hits")
        hits = app.screen.query_one(CommandList)
        assert "Versions" in str(hits.get_option_at_index(0).prompt)
        await pilot.press("enter")
        await until(pilot, lambda: app.current_mode == "versions", timeout=10, what="versions view")


async def test_ctrl_t_toggles_light_and_dark(app):
    async with app.run_test(size=SIZE) as pilot:
        first = app.theme
        await pilot.press("ctrl+t")
        assert app.theme != first and app.current_theme.dark != app.get_theme(first).dark
        await pilot.press("ctrl+t")
        assert app.theme == first


async def test_emergency_stop_without_a_run_says_so(app):
    notes = []
    async with app.run_test(size=SIZE) as pilot:
        app.notify = lambda message, **kw: notes.append(message)
        await pilot.press("ctrl+e")
        assert notes == ["No run in progress."] and not app.stop_event.is_set()


async def test_quit_without_a_run_exits_at_once(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, timeout=10, what="exit")
    assert app.return_value == 0


async def test_krkn_only_types_are_listed_greyed_and_cannot_be_marked(tmp_path, monkeypatch):
    """krkn's repository layout: the config in config/, paths relative to the root we run from."""
    (tmp_path / "config").mkdir()
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "n.yaml").write_text("node_scenarios:\n  - actions: [node_cordon_scenario]\n"
                                                  "    label_selector: k=v\n")
    (tmp_path / "config" / "config.yaml").write_text(
        "kraken:\n  chaos_scenarios:\n    - zone_outages_scenarios: [scenarios/c.yml]\n"
        "    - node_scenarios: [scenarios/n.yaml]\n")
    monkeypatch.chdir(tmp_path)
    app = console(tmp_path, config_path=tmp_path / "config" / "config.yaml", kubeconfig=str(tmp_path / "none"),
                  watch_pods=False, probe_cluster=False)
    async with app.run_test(size=SIZE) as pilot:
        picker = app.screen
        table = picker.query_one("#scenarios")
        assert cell(table, "0", "params") == "not supported by krkn-tui"
        assert "not supported by krkn-tui" in str(picker.query_one("#preview-title").render())
        await pilot.press("space")
        assert picker.marked == set()
        await until(pilot, lambda: app.told("cannot be marked"),
                    what="a notice that the row cannot be marked")
        await pilot.press("j", "space")
        assert picker.marked == {"1"}
        title = str(picker.query_one("#preview-title").render())
        assert "scenarios/n.yaml" in title and "relative to the working directory" in title
