"""A journal entry's data (format 2) and the rules that decide whether it may run.

The entry is the version file's data twin: ``registry.set_rollback_callable`` makes both from
the same function and content. The file holds the function's code (krkn's format); the entry
holds the function's name as one of krkn-tui's undo operations (``undo_ops``) and the content,
with captured Secret values redacted (their values stay in the local file).

Whoever reads an entry from the cluster trusts nothing in it until:
- ``step.json`` is signed by a key the reader trusts (the guard: the keys it was configured
  with; the local executor: its own and the ones its user lists) and names that key as signer;
- the entry sits at the name its run and file give (a signed entry copied elsewhere is refused);
- it records a kube-system UID, and that UID is this cluster's (copied into a forged entry, it
  would need a trusted signature);
- its operation is one of krkn-tui's own, of the entry's scenario type, with content of the
  expected shape.
A state change counts only when its own signature (over the entry's name, the digest of its
data and the change) verifies; an unverified state is shown as such and never obeyed.
"""

from __future__ import annotations

import copy

from ...kube.identity import ClusterIdentity
from ..content import RollbackContent
from .entries import FORMAT, Entry, entry_name, state_payload
from ..naming import pending_name
from ..redact import redact_data
from ..undo_ops import UnknownOperation, content_of, lookup


def build_payload(*, op: str, run_id: str, file: str, scenario_type: str, created_ns: int,
                  cluster: ClusterIdentity, content: RollbackContent, signer_id: str) -> dict:
    """``step.json``'s object for one step, Secret values redacted (the local file keeps them)."""
    data, _count = redact_data(copy.deepcopy(content.data))
    return {
        "format": FORMAT, "op": op, "run_id": run_id, "file": pending_name(file), "scenario_type": scenario_type,
        "created_ns": created_ns, "cluster": cluster.to_dict(),
        "content": {"namespace": content.namespace, "resource_identifier": content.resource_identifier,
                    "data": data},
        "signer": signer_id,
    }


def refusal(entry: Entry, trusted, here: ClusterIdentity) -> str | None:
    """Why ``entry`` must not run on the cluster ``here`` under the keys ``trusted``
    (signing.TrustedKeys), in one line naming the entry; None when it may."""
    label = f"{entry.name} ({entry.file or '?'})"
    if entry.payload is None:
        return f"{label}: {entry.parse_error or 'no data'}"
    verified, why = trusted.check(entry.raw, entry.signature)
    if verified is None:
        return f"{label}: {why}"
    payload = entry.payload
    if payload.get("signer") != verified.key_id:
        return f"{label}: signed by key {verified.key_id} but names {str(payload.get('signer'))[:20]!r} as signer"
    if payload.get("format") != FORMAT:
        return f"{label}: format {str(payload.get('format'))[:10]!r}, not {FORMAT}"
    if not entry.run_id or not entry.file or entry.name != entry_name(entry.run_id, entry.file):
        return f"{label}: not at the name its run and file give (copied from another entry?)"
    try:
        recorded = ClusterIdentity.from_dict(payload.get("cluster"))
    except ValueError as exc:
        return f"{label}: bad cluster record: {exc}"
    if not recorded.kube_system_uid:
        return f"{label}: records no kube-system UID, so no cluster can be sure it is meant"
    if not here.kube_system_uid:
        return f"{label}: this cluster's kube-system UID cannot be read, so it cannot be matched"
    if recorded.kube_system_uid.lower() != here.kube_system_uid.lower():
        return f"{label} was written for another cluster: {recorded.describe()}, this is {here.describe()}"
    if not entry.op.startswith(f"{entry.scenario_type}."):
        return f"{label}: operation {entry.op[:80]!r} is not of its scenario type {entry.scenario_type[:80]!r}"
    try:
        lookup(entry.op)
        content_of(entry.content)
    except (UnknownOperation, ValueError) as exc:
        return f"{label}: {exc}"
    return None


def state_refusal(entry: Entry, trusted) -> str | None:
    """Why the entry's state may not be believed (one line), or None when its signature verifies."""
    signed = state_payload(entry.name, entry.step_sha256, entry.state, entry.state_by or "", entry.state_time or "",
                           entry.error or None)
    verified, why = trusted.check_obj(signed, entry.state_signature)
    return None if verified else f"state {entry.state[:20]!r} of {entry.name}: {why}"


def trusted_state(entry: Entry, trusted) -> str:
    """The state to act on: the recorded one when its signature verifies, else ``pending`` (a
    step nobody verifiably ran is one still to run)."""
    return entry.state if state_refusal(entry, trusted) is None else "pending"


def shown_state(entry: Entry, trusted) -> str:
    """The state as a listing shows it: ``executed``, or ``executed (unverified)``."""
    if entry.state == "pending" or state_refusal(entry, trusted) is None:
        return entry.state or "?"
    return f"{entry.state or '?'} (unverified)"
