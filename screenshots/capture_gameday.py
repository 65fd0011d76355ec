"""Take the game-day screenshots from a real run on the local cluster's realistic demo.

    python -m krkn_tui cluster up --demo         # realistic pods and the health endpoint
    python screenshots/capture_gameday.py        # writes screenshots/gameday-*.svg and *.png

Runs the repo's config.yaml (its health check watches the demo endpoint): the confirm dialog's
blast radius, the check strip turning red while the demo is scaled to zero, the timeline view,
and the HTML report of that run rendered by headless Chromium. Rollback files and reports go to
a temporary folder, not ~/.krkn.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))  # capture.py, the other screenshots' helpers

from capture import SIZE, connected, demo_console, mark, shooter, to_png, wait  # noqa: E402


async def capture(versions: Path) -> tuple[list[Path], Path]:
    app = demo_console(versions)
    shots: list[Path] = []
    shot = shooter(app, shots)

    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot)
        await mark(pilot, "pod_kill.yaml", "service_scale.yaml")
        await pilot.press("r")
        await wait(pilot, lambda: "reading" not in str(app.screen.query_one("#confirm-detail").render()))
        shot("gameday-confirm")
        await pilot.press("y")
        await wait(pilot, lambda: any(c.state == "failing" for c in app.check_board.cells.values()))
        shot("gameday-checks")
        await wait(pilot, lambda: app.last_result is not None, timeout=300)
        await pilot.press("4")
        await pilot.pause(0.5)
        shot("gameday-timeline")
        await pilot.press("w")
        await wait(pilot, lambda: app.last_report is not None)
        report = app.last_report
    return shots, report


def html_png(html: Path, png: Path) -> Path:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("screenshot capture: chromium is needed for the report's picture")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--no-first-run", f"--user-data-dir={profile}", "--hide-scrollbars",
                        "--window-size=1200,1500", f"--screenshot={png}", html.as_uri()],
                       check=True, capture_output=True, timeout=120)
    return png


def main() -> int:
    work = Path(tempfile.gettempdir()) / "krkn-tui-screenshots"  # a stable name for the header
    shutil.rmtree(work, ignore_errors=True)
    try:
        shots, report = asyncio.run(capture(work / "versions"))
        for svg in shots:
            print(to_png(svg))
        print(html_png(report.with_suffix(".html"), HERE / "gameday-report.png"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
