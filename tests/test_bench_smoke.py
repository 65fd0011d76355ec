"""The bench's output shape, on one cluster-free figure with tiny n (no timing is asserted)."""

import json

from bench.fig_versions import figure

KEYS = {"name", "value", "unit", "baseline", "ratio", "target", "ok", "detail"}


def test_version_sync_figure_has_the_json_shape():
    record = figure(n_files=0, cycles=1)
    assert set(record) == KEYS
    assert record["name"] == "version_sync_0_files"
    assert isinstance(record["ok"], bool)
    for key in ("value", "baseline", "ratio"):
        assert record[key] is None or isinstance(record[key], float)
    assert {"p50", "p95", "n"} <= set(record["detail"]["krkn_tui_ms"])
    json.dumps(record)


def test_listing_figures_have_the_json_shape():
    from bench.fig_listing import large_file, many_files

    for record in (many_files(n=20, repeat=1), large_file(lines=2_000)):
        assert set(record) == KEYS and isinstance(record["ok"], bool)
        json.dumps(record)
    assert large_file(lines=2_000)["detail"]["described_as"] == "hog-000000"


def test_view_figures_have_the_json_shape():
    from bench.fig_views import history_figure, timeline_figure

    for record in (timeline_figure(1, n=40), history_figure(1, n=30)):
        assert set(record) == KEYS and isinstance(record["ok"], bool)
        assert {"p50", "n"} <= set(record["detail"]["cpu_s"])
        json.dumps(record)
