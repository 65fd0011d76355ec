"""One result line per measured figure, and the percentile helpers they share."""

from __future__ import annotations

import math
import statistics
from typing import Iterable

from krkn_tui.sanitize import one_line


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile: p95 of few samples is an observed value, never interpolated."""
    data = sorted(values)
    if not data:
        return None
    rank = max(1, math.ceil(q / 100 * len(data)))
    return data[min(rank, len(data)) - 1]


def summary(values: list[float], scale: float = 1.0, digits: int = 2) -> dict:
    """p50/p95/max/n; ``scale`` converts units (1000 for seconds to ms)."""
    if not values:
        return {"n": 0}
    return {
        "p50": round(percentile(values, 50) * scale, digits),
        "p95": round(percentile(values, 95) * scale, digits),
        "max": round(max(values) * scale, digits),
        "mean": round(statistics.fmean(values) * scale, digits),
        "n": len(values),
    }


def result(name: str, value: float | None, unit: str, baseline: float | None, target: str | None,
           ok: bool | None, detail: dict | None = None, digits: int = 3) -> dict:
    """The JSON line: ratio is always krkn-tui / baseline (lower is better unless the target says)."""
    ratio = None
    if value is not None and baseline:
        ratio = round(value / baseline, 3)
    out = {
        "name": name,
        "value": None if value is None else round(value, digits),
        "unit": unit,
        "baseline": None if baseline is None else round(baseline, digits),
        "ratio": ratio,
        "target": target,
        "ok": ok,
    }
    if detail:
        out["detail"] = detail
    return out


def failed(name: str, unit: str, target: str | None, error: BaseException | str) -> dict:
    """A figure that could not be measured still produces a line, with the reason."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return result(name, None, unit, None, target, False, {"error": one_line(text)[:500]})
