"""Time to the first frame, in a fresh interpreter: `python -m bench.startup_child WHICH T0 [KUBECONFIG]`.

WHICH is `console` (krkn-tui's console, the scenario view, on the given cluster) or `minimal`
(a Textual app with one Static). T0 is the parent's time.time() just before it started us; we
print seconds from T0 to the first headless frame showing the app's first view, and the
process's CPU seconds at that frame (what a loaded machine does not inflate).
Imports are kept to what each app needs, so the bench adds nothing to either side.
"""

import asyncio
import sys
import time


def console_app(kubeconfig: str, versions: str):
    from pathlib import Path

    from krkn_tui.tui.app import KrknConsole
    from krkn_tui.tui.screens.picker import PickerScreen
    from krkn_tui.tui.settings import ConsoleSettings

    class FirstFrame(KrknConsole):
        CSS_PATH = str(Path(sys.modules[KrknConsole.__module__].__file__).with_name(KrknConsole.CSS_PATH))
        first = first_cpu = None

        def post_display_hook(self):
            if self.first is None and isinstance(self.screen, PickerScreen):
                self.first, self.first_cpu = time.time(), time.process_time()

    from krkn_tui.tui import freeze_start_up

    root = Path(__file__).resolve().parents[1]
    app = FirstFrame(ConsoleSettings(kubeconfig=kubeconfig, config_path=root / "config.yaml",
                                     versions_dir=versions))
    freeze_start_up()  # as run_console does between building the console and running it
    return app


def minimal_app():
    from textual.app import App
    from textual.widgets import Static

    class Hello(App):
        first = first_cpu = None

        def compose(self):
            yield Static("hello")

        def post_display_hook(self):
            if self.first is None and self.query(Static):
                self.first, self.first_cpu = time.time(), time.process_time()

    return Hello()


async def main(which: str, t0: float, kubeconfig: str | None, versions: str) -> tuple[float, float]:
    app = console_app(kubeconfig, versions) if which == "console" else minimal_app()
    async with app.run_test(size=(160, 50)):
        deadline = time.monotonic() + 60
        while app.first is None and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
    if app.first is None:
        raise SystemExit(f"{which}: no first frame within 60 s")
    return app.first - t0, app.first_cpu


if __name__ == "__main__":
    import tempfile

    which, t0 = sys.argv[1], float(sys.argv[2])
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as versions:
        wall, cpu = asyncio.run(main(which, t0, sys.argv[3] if len(sys.argv) > 3 else None, versions))
        print(f"{wall:.6f} {cpu:.6f}")
