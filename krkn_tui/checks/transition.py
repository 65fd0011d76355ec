"""A check's change of state, as the runner records it and the report keeps it (its check history)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Transition:
    at: float | None  # the probe's time (epoch seconds)
    phase: str  # before | during | after
    state: str  # passing | failing
    seen: str  # what the probe saw
