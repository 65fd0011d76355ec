"""docs/console.md against the console's code: `run_console`'s signature as written, the views in
the order of their keys, and every figure the doc gives (drain, wake-up, log caps, refresh and
probe intervals) read from the constant that sets it."""

from __future__ import annotations

import inspect
import re

from docs_support import DOCS, section

CONSOLE_DOC = DOCS / "console.md"


def _text() -> str:
    return CONSOLE_DOC.read_text()


def _flat(text: str) -> str:
    return " ".join(text.split())


def _g(value: float) -> str:
    return f"{value:g}"


def test_run_console_is_documented_with_its_signature():
    from krkn_tui.tui import run_console

    m = re.search(r"`krkn_tui\.tui\.run_console\((.*?)\) -> (\w+)`", _flat(_text()))
    assert m, "docs/console.md does not give run_console's signature"
    documented = [p.strip() for p in m.group(1).split(",")]
    sig = inspect.signature(run_console)
    actual = ["*"] + [f"{p.name}={p.default!r}".replace("'", '"') for p in sig.parameters.values()]
    assert documented == actual, f"docs/console.md: {documented}, the code: {actual}"
    assert m.group(2) == sig.return_annotation


def test_the_views_are_described_in_the_order_of_their_keys():
    from krkn_tui.tui.app import VIEWS, KrknConsole

    text = _text()
    numbers = [int(n) for n in re.findall(r"^### (\d) — ", text, re.M)]
    assert numbers == list(range(1, len(VIEWS) + 1)), numbers
    views = {b.key: b.description.lower() for b in KrknConsole.BINDINGS if b.action.startswith("show(")}
    assert sorted(views) == [str(n) for n in numbers]
    keys_row = next(line for line in section(text, "Keys everywhere").splitlines()
                    if line.startswith("| `1`"))
    named = [name.strip() for name in keys_row.split("|")[2].split(",")]
    assert named == [views[str(n)] for n in numbers], (named, views)


def test_every_figure_the_doc_gives_is_the_codes():
    from krkn_tui.kube import liveness, podlogs, podwatch
    from krkn_tui.tui import app
    from krkn_tui.tui.screens import pod_detail, pod_logs, versions
    from krkn_tui.tui.widgets import event_log

    phrases = [
        f"every {_g(app.DRAIN_SECONDS * 1000)} ms, and at once (at most every {_g(app.WAKE_GAP_SECONDS * 1000)} ms, "
        f"but a pod's DELETED at once; a deletion's start waits for its DELETED, at most "
        f"{_g(app.WAKE_DELAY_SECONDS * 1000)} ms,",
        f"more than {app.BURST_EVENTS} pod events",
        f"keeps the last {podlogs.LOG_CAP} lines",
        f"flushed every {_g(pod_logs.FLUSH_SECONDS * 1000)} ms",
        f"(the last {event_log.LOG_LINES} lines)",
        f"read again every {_g(pod_detail.EVENTS_REFRESH_SECONDS)} s",
        f"retries ({_g(podwatch.BACKOFF_START)} s, doubling to {_g(podwatch.BACKOFF_MAX)} s)",
        f"probe every second ({_g(liveness.PROBE_TIMEOUT[1])} s timeout)",
        f"past {_g(liveness.STALE_SECONDS)} s of silence",
        f"debounce {versions.DEBOUNCE_MS} ms, step {versions.STEP_MS} ms",
        f"every {_g(versions.JOURNAL_POLL_SECONDS)} s from the journal namespace",
    ]
    assert liveness.PROBE_SECONDS == 1.0  # "every second"
    text = _flat(_text())
    missing = [p for p in phrases if p not in text]
    assert not missing, f"docs/console.md does not say: {missing}"
