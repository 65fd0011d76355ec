"""The cluster journal's settings (``kraken.cluster_journal`` and its companions in config.yaml)
and their defaults, apart from the journal itself: loading a config, and the console's first
frame, import none of the journal's machinery."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_NAMESPACE = "krkn-rollback"
DEFAULT_DURATION = 15.0  # a run Lease's duration, seconds
DEFAULT_RENEW_EVERY = 5.0


@dataclass(frozen=True)
class JournalSettings:
    """``kraken.cluster_journal`` and its companions in config.yaml."""

    enabled: bool = True
    namespace: str = DEFAULT_NAMESPACE
    lease_duration: float = DEFAULT_DURATION
    renew_every: float = DEFAULT_RENEW_EVERY
