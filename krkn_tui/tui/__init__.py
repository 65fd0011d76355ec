"""The terminal console (Textual). The core never imports this package."""

from __future__ import annotations

import gc
from pathlib import Path


def freeze_start_up() -> None:
    """Once the console is built: what start-up made (modules, classes, the config, the app;
    ~60,000 objects) lives as long as the process, so it is moved out of the collector's reach.
    Left in, the first full collection walks all of it on the way to the first frame (measured:
    ~45 ms of a ~260 ms start). Only for the console's own process: a process that builds many
    consoles (the tests) would keep their garbage."""
    gc.freeze()


def run_console(*, kubeconfig: str | None = None, context: str | None = None, namespace: str | None = None,
                config_path: str | Path = "config.yaml", readonly: bool = False,
                versions_dir: str | Path | None = None, allow_foreign: bool = False,
                force_cluster: bool = False) -> int:
    """Open the console; returns its exit status once it is closed and any run is rolled back."""
    from .app import KrknConsole
    from .settings import ConsoleSettings

    app = KrknConsole(ConsoleSettings(kubeconfig=kubeconfig, context=context, namespace=namespace,
                                      config_path=config_path, readonly=readonly, versions_dir=versions_dir,
                                      allow_foreign=allow_foreign, force_cluster=force_cluster))
    freeze_start_up()
    code = app.run()
    if not app.engine_done.is_set():
        # The app closed some other way during a run: the engine saw the stop and rolls back.
        print("krkn-tui: rolling back the interrupted run…", flush=True)
        app.engine_done.wait()
        code = app.last_result.exit_code if app.last_result else 130
    return app.return_code or 0 if code is None else code
