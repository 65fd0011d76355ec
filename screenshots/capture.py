"""Take the console's screenshots from a real run on the local cluster.

    python -m krkn_tui cluster up --demo
    python screenshots/capture.py          # writes screenshots/*.svg and *.png (rsvg-convert)

Runs the repo's config.yaml against namespace krkn-demo: a passing run (pod kill + app outage),
then an app outage stopped with the emergency-stop key, so the version table has several states.
Rollback files go to a temporary folder (removed afterwards), not ~/.krkn.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SIZE = (140, 42)
sys.path.insert(0, str(REPO))

from krkn_tui.localcluster import LocalCluster  # noqa: E402
from krkn_tui.tui.app import KrknConsole  # noqa: E402
from krkn_tui.tui.settings import ConsoleSettings  # noqa: E402


async def wait(pilot, predicate, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("screenshot capture: timed out")
        await pilot.pause(0.1)
    await pilot.pause(0.3)


def row_of(picker, file_name: str) -> int:
    return next(i for i, r in enumerate(picker.rows) if r.file_label.endswith(file_name))


def demo_console(versions: Path) -> KrknConsole:
    """The console on the local cluster's demo namespace with the repo's config.yaml."""
    return KrknConsole(ConsoleSettings(kubeconfig=str(LocalCluster().kubeconfig), context="krkn-local",
                                       config_path=REPO / "config.yaml", versions_dir=versions,
                                       namespace="krkn-demo"))


def shooter(app: KrknConsole, shots: list[Path]):
    """shot(name): save screenshots/NAME.svg and remember it for the PNG conversion."""
    return lambda name: shots.append(Path(app.save_screenshot(f"{name}.svg", str(HERE))))


async def connected(pilot) -> None:
    app = pilot.app
    await wait(pilot, lambda: app.watch_state == "connected" and app.server_version.startswith("v"))


async def mark(pilot, *files: str):
    """Mark the picker's rows of these scenario files; returns the picker's table."""
    picker = pilot.app.views["picker"]
    table = picker.query_one("#scenarios")
    for name in files:
        table.move_cursor(row=row_of(picker, name))
        await pilot.press("space")
    return table


async def capture(versions: Path) -> list[Path]:
    app = demo_console(versions)
    shots: list[Path] = []
    shot = shooter(app, shots)

    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot)
        picker = app.views["picker"]
        table = await mark(pilot, "pod_kill.yaml", "app_outage.yaml")
        await pilot.pause(0.3)
        shot("picker")
        await pilot.press("r")
        await pilot.pause(0.3)
        shot("confirm")
        await pilot.press("y")
        await wait(pilot, lambda: app.last_result is not None)
        shot("run")
        await pilot.press("ctrl+t")
        await pilot.pause(0.3)
        shot("run-light")
        await pilot.press("ctrl+t", "2")
        await pilot.pause(0.5)
        shot("pods")

        # a second run, stopped: its rollback step stays in the folder as executed
        await pilot.press("1")
        picker.marked = set()
        table.move_cursor(row=row_of(picker, "app_outage.yaml"))
        await pilot.press("space", "r", "y")
        await wait(pilot, lambda: app.run_active and any(versions.glob("*/*.py")))
        await pilot.press("ctrl+e")
        await wait(pilot, lambda: not app.run_active)
        await pilot.press("3")
        view = app.screen
        await wait(pilot, lambda: view.listings >= 1 and view.query_one("#version-table").row_count >= 2)
        shot("versions")
        await pilot.press("ctrl+t")
        await pilot.pause(0.3)
        shot("versions-light")
        await pilot.press("ctrl+t", "enter")
        await pilot.pause(0.3)
        shot("inspect")
        await pilot.press("escape", "question_mark")
        await pilot.pause(0.3)
        shot("help")
    return shots


def to_png(svg: Path) -> Path:
    """rsvg collapses the leading non-breaking spaces of Textual's text runs; plain spaces with
    xml:space="preserve" render as in the terminal."""
    text = svg.read_text().replace("&#160;", " ")
    text = re.sub(r"<svg ", '<svg xml:space="preserve" ', text, count=1)
    with tempfile.NamedTemporaryFile("w", suffix=".svg") as fixed:
        fixed.write(text)
        fixed.flush()
        png = svg.with_suffix(".png")
        subprocess.run(["rsvg-convert", fixed.name, "-o", str(png)], check=True)
    return png


def main() -> int:
    work = Path(tempfile.gettempdir()) / "krkn-tui-screenshots"  # a stable name for the header
    shutil.rmtree(work, ignore_errors=True)
    try:
        shots = asyncio.run(capture(work / "versions"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for svg in shots:
        print(to_png(svg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
