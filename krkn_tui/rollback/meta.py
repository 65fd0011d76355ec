"""The ``# krkn-tui-meta:`` header line that marks a version file as ours, as one typed record
(``VersionMeta``) written by ``meta_line`` and read back by ``parse_meta``: the JSON on the line
is as it always was (sorted keys, ``cluster`` only when the writer knew it)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..kube.identity import ClusterIdentity

META_PREFIX = "# krkn-tui-meta: "
# The header sits in the leading comment block; looking further would let a comment in the
# callable's body claim the file.
_HEADER_LINES = 20


FORMAT = 1


@dataclass(frozen=True)
class VersionMeta:
    """What a version file says of itself: whose run, which change, on which cluster. Read from a
    file, a field of the wrong type reads as missing; a cluster record that is present but unfit
    is ``cluster_error`` (the executor refuses the step, the listing says why)."""

    run_id: str = ""
    scenario_type: str = ""
    created_ns: int = 0
    verb: str = ""
    kind: str = ""
    namespace: str | None = None
    name: str | None = None
    callable: str | None = None
    cluster: ClusterIdentity | None = None
    cluster_error: str | None = None  # never written: only what a reader found
    format: int = FORMAT

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": self.format, "run_id": self.run_id, "scenario_type": self.scenario_type,
                               "created_ns": self.created_ns, "verb": self.verb, "kind": self.kind,
                               "namespace": self.namespace, "name": self.name, "callable": self.callable}
        if self.cluster is not None:
            out["cluster"] = self.cluster.to_dict()
        return out

    @classmethod
    def read(cls, raw: dict) -> VersionMeta:
        cluster, error = None, None
        if raw.get("cluster") is not None:
            try:
                cluster = ClusterIdentity.from_dict(raw["cluster"])
            except ValueError as exc:
                error = str(exc)
        created = raw.get("created_ns")
        fmt = raw.get("format")
        return cls(_str(raw.get("run_id")) or "", _str(raw.get("scenario_type")) or "",
                   created if isinstance(created, int) and not isinstance(created, bool) else 0,
                   _str(raw.get("verb")) or "", _str(raw.get("kind")) or "", _str(raw.get("namespace")),
                   _str(raw.get("name")), _str(raw.get("callable")), cluster, error,
                   fmt if isinstance(fmt, int) and not isinstance(fmt, bool) else FORMAT)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def meta_line(meta: VersionMeta) -> str:
    # ensure_ascii: no character in a name can end the comment line early.
    return META_PREFIX + json.dumps(meta.to_json(), sort_keys=True, ensure_ascii=True)


def find_meta_line(text: str) -> str | None:
    """The JSON after the prefix, or None when the file has no header of ours."""
    start = 0
    for _ in range(_HEADER_LINES):  # line by line: a listing must not split a 16 MiB file
        end = text.find("\n", start)
        line = text[start:] if end < 0 else text[start:end]
        start = end + 1
        if line.startswith(META_PREFIX):
            return line[len(META_PREFIX) :]
        if line.strip() and not line.startswith("#"):
            return None
        if end < 0:
            break
    return None


def parse_meta(text: str) -> VersionMeta | None:
    """The header; None if absent. Raises ValueError if present but not a JSON object."""
    raw = find_meta_line(text)
    if raw is None:
        return None
    meta = json.loads(raw)
    if not isinstance(meta, dict):
        raise ValueError("krkn-tui-meta header is not a JSON object")
    return VersionMeta.read(meta)
