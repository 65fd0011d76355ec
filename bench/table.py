"""`python -m bench.table FILE.jsonl`: docs/bench.md's figures table from a run's JSON lines;
`--readme`: the README's table, the console's speed figures only."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _number(value) -> str:
    if value is None:
        return "–"
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


# The README's table: what a person watching the console feels, each beside its target.
README_FIGURES = ("pod_event_latency_screen", "pod_event_latency_screen_30005_pods", "version_sync_10000_files",
                  "startup_first_frame", "timeline_view_first_paint_10000", "history_view_first_paint_10000",
                  "pods_view_all_rows_5005", "pods_view_all_rows_30005", "pods_view_all_rows_100005",
                  "console_rss_100005_pods")


def readme_rows(records: list[dict]) -> list[str]:
    by_name = {r["name"]: r for r in records}
    return rows([by_name[name] for name in README_FIGURES if name in by_name])


def rows(records: list[dict]) -> list[str]:
    out = ["| figure | krkn-tui | baseline | ratio | target | ok |", "|---|---|---|---|---|---|"]
    for r in records:
        value = "not measured" if r.get("value") is None else f"{_number(r['value'])} {r.get('unit', '')}".strip()
        ok = {True: "yes", False: "no", None: "–"}[r.get("ok")]
        out.append(f"| `{r['name']}` | {value} | {_number(r.get('baseline'))} | {_number(r.get('ratio'))} "
                   f"| {r.get('target') or '–'} | {ok} |")
    return out


def main(argv: list[str] | None = None) -> int:
    paths = list(argv if argv is not None else sys.argv[1:])
    readme = "--readme" in paths
    paths = [p for p in paths if p != "--readme"]
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    records = [json.loads(line) for path in paths for line in Path(path).read_text().splitlines() if line.strip()]
    print("\n".join(readme_rows(records) if readme else rows(records)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
