"""Names of run directories and version files, in krkn's layout.

``<versions_dir>/<run_time_ns>-<run_uuid>/<scenario_type>_<time_ns>_<suffix>.py[.executed]``
"""

from __future__ import annotations

import re
import secrets
import string
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Iterable

from ..errors import UserError

DEFAULT_VERSIONS_DIR = Path("~/.krkn/rollback").expanduser()

PY = ".py"
EXECUTED = ".executed"
FAILED = ".failed"
MANIFEST_NAME = ".krkn-tui-manifest.jsonl"
SUFFIX_LEN = 8
_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits

# re.ASCII so \w never matches other scripts; bounded digit runs keep int() inside its limits.
_SCENARIO = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}"
_RUN_UUID = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"
_SCENARIO_RE = re.compile(_SCENARIO, re.ASCII)
_RUN_UUID_RE = re.compile(_RUN_UUID, re.ASCII)
_RUN_DIR_RE = re.compile(rf"(?P<ns>[0-9]{{1,30}})-(?P<uuid>{_RUN_UUID})", re.ASCII)
# The scenario type may itself contain underscores; the greedy group leaves the last two fields.
_VERSION_RE = re.compile(
    rf"(?P<type>{_SCENARIO})_(?P<ns>[0-9]{{1,30}})_(?P<suffix>[A-Za-z0-9]{{{SUFFIX_LEN}}})"
    rf"\.py(?P<executed>\.executed)?",
    re.ASCII,
)

class IncreasingNs:
    """``clock()`` (``time.time_ns`` by default), but strictly increasing across calls: two
    registrations in the same clock tick, or after the clock went back, still get distinct,
    totally ordered names."""

    def __init__(self, clock: Callable[[], int] = time.time_ns):
        self._clock = clock
        self._last = 0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            now = self._clock()
            self._last = now if now > self._last else self._last + 1
            return self._last


next_time_ns = IncreasingNs()  # the process's one sequence


def new_suffix() -> str:
    return "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(SUFFIX_LEN))


def new_run_id(run_uuid: str | None = None, time_ns: int | None = None) -> str:
    """``<time_ns>-<uuid4>``: the run directory's name."""
    run_uuid = run_uuid or str(uuid.uuid4())
    check_run_uuid(run_uuid)
    return run_dir_name(time.time_ns() if time_ns is None else time_ns, run_uuid)


def run_dir_name(time_ns: int, run_uuid: str) -> str:
    return f"{time_ns}-{run_uuid}"


def parse_run_dir_name(name: str) -> tuple[int, str] | None:
    """``(run_time_ns, run_uuid)``, or None when ``name`` is not a run directory."""
    m = _RUN_DIR_RE.fullmatch(name) if isinstance(name, str) else None
    return (int(m["ns"]), m["uuid"]) if m else None


def resolve_run(run: str, run_ids: Iterable[str]) -> set[str]:
    """The run ids ``run`` names: the ids equal to it or whose uuid is, else those that start with
    it (id or uuid) when exactly one does; several is a UserError (a prefix names one run). The
    one rule for every place a person names a run: local folders, the cluster journal, reports."""
    ids = {r: (parse_run_dir_name(r) or (0, None))[1] for r in run_ids}
    exact = {r for r, uuid in ids.items() if run in (r, uuid)}
    if exact:
        return exact
    prefixed = {r for r, uuid in ids.items() if r.startswith(run) or (uuid or "").startswith(run)}
    if len(prefixed) > 1:
        raise UserError(f"run {run!r} is ambiguous: {', '.join(sorted(prefixed))}")
    return prefixed


def check_run_uuid(run_uuid: str) -> None:
    if not isinstance(run_uuid, str) or not _RUN_UUID_RE.fullmatch(run_uuid):
        raise ValueError(f"run uuid {run_uuid!r}: use letters, digits, '.', '_' and '-' only")


def check_scenario_type(scenario_type: str) -> None:
    # The type becomes part of a file name: no separators, nothing a shell or listing trips on.
    if not isinstance(scenario_type, str) or not _SCENARIO_RE.fullmatch(scenario_type):
        raise ValueError(
            f"scenario type {scenario_type!r}: use letters, digits, '.', '_' and '-' only"
        )


def version_file_name(scenario_type: str, time_ns: int, suffix: str) -> str:
    check_scenario_type(scenario_type)
    return f"{scenario_type}_{time_ns}_{suffix}{PY}"


def parse_version_name(name: str) -> tuple[str, int, str, str] | None:
    """``(scenario_type, time_ns, suffix, state)`` with state "pending" or "executed", else None.

    A ``.py.failed`` sidecar, the manifest or a temp file is not a version file: None.
    """
    m = _VERSION_RE.fullmatch(name) if isinstance(name, str) else None
    if not m:
        return None
    return m["type"], int(m["ns"]), m["suffix"], "executed" if m["executed"] else "pending"


def pending_name(name: str) -> str:
    """The ``.py`` name a version file had before it was marked executed."""
    return name[: -len(EXECUTED)] if name.endswith(PY + EXECUTED) else name


def archive_dir_for(versions_dir: Path) -> Path:
    """The archive is a sibling folder: ``~/.krkn/rollback`` -> ``~/.krkn/rollback-archive``."""
    versions_dir = Path(versions_dir).expanduser()
    return versions_dir.with_name(versions_dir.name + "-archive")
