"""What a rollback callable receives besides the API client."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RollbackContent:
    """Identifies what to restore; ``data`` holds extra JSON state (replicas, taints, manifests).

    The field names match krkn's ``RollbackContent`` (plus ``data``), so a callable written for
    either reads ``content.namespace`` and ``content.resource_identifier`` the same way.
    """

    resource_identifier: str = ""
    namespace: str | None = None
    data: dict | None = None
