"""Run a versions folder's pending files the way krkn's `execute-rollback` does, with real krkn-lib.

Runs in a separate virtual environment that has krkn-lib (it pins a kubernetes client older than
krkn-tui's), so it imports nothing from krkn-tui. It follows krkn's loader contract:
- run folders named ``<digits>-<run uuid>``, files ``<type>_<digits>_<8 alnum>.py``, ``.executed``
  skipped, newest timestamp first;
- each file imported with ``importlib.util.spec_from_file_location`` under a made-up name that is
  NOT put in ``sys.modules``;
- the first (by name) ``rollback_*`` function whose two parameters are annotated
  ``RollbackContent`` and ``KrknTelemetryOpenshift`` is called with the module's
  ``rollback_content`` and a ``KrknTelemetryOpenshift`` built on the kubeconfig;
- on success the file is renamed ``<file>.executed``.

Usage: python krkn_contract_loader.py KUBECONFIG VERSIONS_DIR; prints one line per file.
"""

import importlib.util
import inspect
import os
import sys
import tempfile


def version_files(versions_dir):
    found = []
    for run in os.listdir(versions_dir):
        head, _, uuid = run.partition("-")
        if not head.isdigit() or not uuid:
            continue
        folder = os.path.join(versions_dir, run)
        for name in os.listdir(folder):
            if name == "__pycache__" or name.endswith(".executed") or not name.endswith(".py"):
                continue
            parts = name.split("_")
            if len(parts) >= 3 and parts[-2].isdigit() and len(parts[-1]) == 11 and parts[-1][:8].isalnum():
                found.append((int(parts[-2]), os.path.join(folder, name)))
    return [path for _, path in sorted(found, reverse=True)]


def parse_module(path):
    module_name = "rollback_module_" + os.path.basename(path).replace(".py", "").replace("-", "_")
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, obj in inspect.getmembers(module):
        if inspect.isfunction(obj) and name.startswith("rollback_"):
            params = list(inspect.signature(obj).parameters.values())
            if (len(params) == 2 and "RollbackContent" in str(params[0].annotation)
                    and "KrknTelemetryOpenshift" in str(params[1].annotation)):
                content = getattr(module, "rollback_content", None)
                if content is None:
                    raise ValueError("no rollback_content")
                return obj, content
    raise ValueError(f"No valid rollback function found in {path}")


def main(kubeconfig, versions_dir):
    from kubernetes import client
    from krkn_lib.ocp import KrknOpenshift
    from krkn_lib.telemetry.ocp import KrknTelemetryOpenshift
    from krkn_lib.utils import SafeLogger

    lib_openshift = KrknOpenshift(kubeconfig_path=kubeconfig)
    log = os.path.join(tempfile.mkdtemp(), "telemetry.log")
    telemetry = KrknTelemetryOpenshift(safe_logger=SafeLogger(log), lib_openshift=lib_openshift)
    assert isinstance(telemetry.get_lib_kubernetes().api_client, client.ApiClient)
    for path in version_files(versions_dir):
        fn, content = parse_module(path)
        fn(content, telemetry)
        os.rename(path, path + ".executed")
        print(f"executed {os.path.basename(path)} via {fn.__name__}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
