"""`python -m bench.table FILE.jsonl`: docs/bench.md's figures table from a run's JSON lines."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _number(value) -> str:
    if value is None:
        return "–"
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def rows(records: list[dict]) -> list[str]:
    out = ["| figure | krkn-tui | baseline | ratio | target | ok |", "|---|---|---|---|---|---|"]
    for r in records:
        value = "not measured" if r.get("value") is None else f"{_number(r['value'])} {r.get('unit', '')}".strip()
        ok = {True: "yes", False: "no", None: "–"}[r.get("ok")]
        out.append(f"| `{r['name']}` | {value} | {_number(r.get('baseline'))} | {_number(r.get('ratio'))} "
                   f"| {r.get('target') or '–'} | {ok} |")
    return out


def main(argv: list[str] | None = None) -> int:
    paths = argv if argv is not None else sys.argv[1:]
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    records = [json.loads(line) for path in paths for line in Path(path).read_text().splitlines() if line.strip()]
    print("\n".join(rows(records)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
