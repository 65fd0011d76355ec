"""The cluster journal's settings (``kraken.cluster_journal`` and its companions in config.yaml)
and their defaults, apart from the journal itself: loading a config, and the console's first
frame, import none of the journal's machinery."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_NAMESPACE = "krkn-rollback"
DEFAULT_DURATION = 15.0  # a run Lease's duration, seconds
DEFAULT_RENEW_EVERY = 5.0
# How long the entries of a run whose steps are all archived stay in the journal (0: deleted at
# archive). Whoever archives the last step, or a guard's pass, deletes them after that.
DEFAULT_RETENTION = 7 * 24 * 3600.0
# A Lease renewed this long past its run's planned end (when the runner recorded one) is
# reported by the guard and shown by list-rollback --cluster.
DEFAULT_HOLD_PAST_END = 3600.0
# Without a planned end, how long after the Lease was created it may be held before that report;
# also the cap on any planned end (the Lease, and so its planned end, is writable by operators).
DEFAULT_MAX_HOLD = 12 * 3600.0


@dataclass(frozen=True)
class JournalSettings:
    """``kraken.cluster_journal`` and its companions in config.yaml."""

    enabled: bool = True
    namespace: str = DEFAULT_NAMESPACE
    lease_duration: float = DEFAULT_DURATION
    renew_every: float = DEFAULT_RENEW_EVERY
    retention: float = DEFAULT_RETENTION
    hold_past_end: float = DEFAULT_HOLD_PAST_END
    max_hold: float = DEFAULT_MAX_HOLD
