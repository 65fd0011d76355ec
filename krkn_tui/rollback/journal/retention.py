"""How long the journal keeps a finished run: its entries go once every one is archived.

An archived step is history; its entry (redacted data, who ran it) is kept ``retention`` seconds
after the last archive (``cluster_journal_retention``, default 7 days; 0: deleted at archive),
then deleted by whoever archives the run's last step (``execute-rollback``'s and the console's
archive, through ``JournalLinks.after``) or by a guard's next pass. Only an ``archived`` state
whose signature verifies counts: a relabel cannot make anyone delete a pending step.
"""

from __future__ import annotations

import time

from .entry import state_refusal
from .entries import Journal, parse_time


def prune(journal: Journal, retention: float, trusted, *, run_id: str | None = None,
          now: float | None = None) -> list[str]:
    """Delete the entries of every run (or of ``run_id``) whose entries are all verifiably
    archived, the newest archive at least ``retention`` seconds ago; the names deleted."""
    now = time.time() if now is None else now
    runs: dict[str, list] = {}
    for entry in journal.entries(run_id):
        runs.setdefault(entry.run_id, []).append(entry)
    deleted: list[str] = []
    for entries in runs.values():
        if not all(e.state == "archived" and state_refusal(e, trusted) is None for e in entries):
            continue
        archived = [parse_time(e.state_time) for e in entries]
        if any(t is None for t in archived) or now - max(archived) < retention:
            continue
        for entry in entries:
            journal.delete(entry)
            deleted.append(entry.name)
    return deleted
