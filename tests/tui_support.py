"""Helpers for the console's Pilot tests: configs in tmp_path, waiting, reading table cells."""

from __future__ import annotations

import time
from pathlib import Path

from krkn_tui.tui.app import KrknConsole
from krkn_tui.tui.settings import ConsoleSettings

SIZE = (140, 45)


async def until(pilot, predicate, timeout: float = 60.0, what: str = "condition"):
    """Let the app run until ``predicate()`` is truthy; the timeout only bounds a broken test."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.05)


def outage_config(tmp_path: Path, namespace: str, duration: float = 2, extra: str = "") -> Path:
    """A config with one application outage on ``namespace`` (plus ``extra`` chaos entries)."""
    (tmp_path / "outage.yaml").write_text(
        f"application_outage:\n  duration: {duration}\n  namespace: {namespace}\n"
        "  pod_selector: {app: web}\n  block: [Ingress]\n")
    config = tmp_path / "config.yaml"
    config.write_text(
        "kraken:\n  chaos_scenarios:\n    - application_outages_scenarios:\n        - outage.yaml\n"
        f"{extra}tunings:\n  wait_duration: 0\n  iterations: 1\n")
    return config


def console(tmp_path: Path, **settings) -> KrknConsole:
    settings.setdefault("versions_dir", tmp_path / "versions")
    settings.setdefault("config_path", tmp_path / "config.yaml")
    return KrknConsole(ConsoleSettings(**settings))


def keys(table) -> list[str]:
    """Row keys in display order."""
    return [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)]


def cell(table, row_key: str, column: str) -> str:
    value = table.get_cell(row_key, column)
    return getattr(value, "plain", str(value))


def footer_keys(app) -> set[str]:
    """Keys the footer shows for the active screen."""
    return {key for key, (_node, binding, enabled, _tip) in app.screen.active_bindings.items()
            if binding.show and enabled}
