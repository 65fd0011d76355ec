"""cerberus's go/no-go after each scenario, as krkn reads it (krkn/cerberus/setup.py): the body
of `cerberus_url` is exactly `True` for go; with `check_application_routes`, any failure of a
`route` component in `{url}/history?loopback=<minutes of the scenario>` is a no-go too. krkn
exits 1 on a no-go; krkn-tui fails the run (exit 1) and starts no further scenario. An
unreachable cerberus, or a history that is not JSON, is a no-go with its reason."""

from __future__ import annotations

import json
import urllib.request

MAX_BYTES = 4 * 1024 * 1024


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read(MAX_BYTES)


def go_no_go(url: str, check_routes: bool, start: float, end: float) -> dict:
    try:
        signal = _get(url)
    except (OSError, ValueError) as e:
        return {"go": False, "reason": f"cerberus at {url} unreachable: {e}"}
    if signal != b"True":
        shown = " ".join(signal[:60].decode("utf-8", "replace").split()) or "an empty answer"
        return {"go": False, "reason": f"cerberus said {shown!r}: the cluster is unhealthy"}
    if not check_routes:
        return {"go": True}
    history = f"{url}/history?loopback={(end - start) / 60}"
    try:
        doc = json.loads(_get(history))
        failures = doc["history"]["failures"]
        routes = sorted({f["name"] for f in failures if isinstance(f, dict) and f.get("component") == "route"})
    except (OSError, ValueError, KeyError, TypeError) as e:
        return {"go": False, "reason": f"cerberus history {history} unreadable: {e}"}
    if routes:
        return {"go": False, "reason": f"application routes down during the scenario: {', '.join(map(str, routes))}"}
    return {"go": True}
