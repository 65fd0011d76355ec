"""krkn's ``config.yaml``: the parts this console uses, validated; krkn's other sections are ignored."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .checks.spec import ChecksConfig, parse_checks
from .errors import UserError
from .krkn_signal import SignalSettings, parse_settings
from .monitoring.settings import Monitoring, parse_monitoring
from .rollback.naming import DEFAULT_VERSIONS_DIR
from .rollback.journal.settings import JournalSettings
from .scenarios import scenario_types
from .config_paths import FROM_ABSOLUTE, FROM_CONFIG, FROM_CWD, resolve_relative
from .scenarios.krkn_only import KRKN_ONLY_TYPES, UNSUPPORTED_NOTE
from .yamlio import Section, describe, did_you_mean, expect_list, join_field, load_yaml_file

DEFAULT_PROTECTED_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
# krkn's own defaults, so a krkn config that leaves them out behaves the same here.
DEFAULT_WAIT_DURATION = 60.0
DEFAULT_ITERATIONS = 1

# Keys read under `kraken`. Other keys are krkn's (distribution, exit_on_failure, ...) and
# ignored (its signal keys are read by krkn_signal), but a near-miss of one of ours is a typo
# that would silently change behaviour.
_KRAKEN_KEYS = (
    "kubeconfig_path",
    "auto_rollback",
    "rollback_versions_directory",
    "protected_namespaces",
    "allow_protected_namespaces",
    "chaos_scenarios",
    "cluster_journal",
    "cluster_journal_namespace",
    "cluster_journal_lease_duration",
    "cluster_journal_renew_interval",
    "cluster_journal_retention",
    "cluster_journal_hold_past_end",
    "cluster_journal_max_hold",
    "daemon_mode",
)
_KRKN_KRAKEN_KEYS = frozenset({
    "distribution", "exit_on_failure", "publish_kraken_status", "signal_state", "signal_address",
    "port", "kubeconfig_path", "chaos_scenarios", "auto_rollback", "rollback_versions_directory",
    "generate_pdf_report", "wait_duration", "iterations", "daemon_mode",
})
_TUNINGS_KEYS = ("wait_duration", "iterations", "daemon_mode")
_KRKN_TUNINGS_KEYS: frozenset[str] = frozenset()

# Where a relative scenario path was found: krkn runs from its repository root and resolves
# against the working directory; a config kept beside its scenarios resolves against its folder.


@dataclass(frozen=True)
class ScenarioRef:
    """One scenario file from ``kraken.chaos_scenarios``, in run order."""

    scenario_type: str
    file: Path
    index: int  # 0-based position across the whole run
    field: str = ""  # where it was listed, e.g. kraken.chaos_scenarios[0].node_scenarios[1]
    resolved_from: str = FROM_CONFIG  # FROM_CWD, FROM_CONFIG or FROM_ABSOLUTE
    listed_as: str = ""  # the path as the config wrote it
    supported: bool = True  # False for krkn's types that krkn-tui does not run: shown, never run

    @property
    def where(self) -> str:
        """One line: the file and how its relative path was resolved."""
        return describe_resolved(self.file, self.listed_as, self.resolved_from)


def describe_resolved(path: Path, listed_as: str, resolved_from: str) -> str:
    """``listed -> absolute (relative to the working directory)``; just the path when absolute."""
    if resolved_from == FROM_ABSOLUTE or not listed_as:
        return str(path)
    return f"{listed_as} -> {path} (relative to the {resolved_from})"


@dataclass(frozen=True)
class ConfigPath:
    """A path the config names under ``kraken`` (kubeconfig, versions folder) and where it was found."""

    key: str  # kraken.kubeconfig_path or kraken.rollback_versions_directory
    path: Path
    listed_as: str
    resolved_from: str
    unused: Path | None = None  # the config-folder candidate, when it exists too (files there are not seen)
    tried: Path | None = None  # a kubeconfig in neither place: the working directory's candidate

    @property
    def where(self) -> str:
        also = f"; {self.unused} exists too and is not used" if self.unused else ""
        if self.tried:
            also = f"; not found, nor {self.tried} (relative to the working directory)"
        return describe_resolved(self.path, self.listed_as, self.resolved_from) + also

    @property
    def relative_to(self) -> str:
        """``relative to the working directory`` (or config folder); empty for an absolute path."""
        return "" if self.resolved_from == FROM_ABSOLUTE else f"relative to the {self.resolved_from}"


@dataclass
class Config:
    path: Path
    kubeconfig_path: Path | None
    auto_rollback: bool
    versions_dir: Path
    protected_namespaces: frozenset[str]
    allow_protected: bool
    scenarios: list[ScenarioRef] = field(default_factory=list)
    wait_duration: float = DEFAULT_WAIT_DURATION
    iterations: int = DEFAULT_ITERATIONS
    daemon_mode: bool = False  # krkn's: repeat the scenarios until stopped (iterations is then ignored)
    checks: ChecksConfig = field(default_factory=ChecksConfig)
    journal: JournalSettings = field(default_factory=JournalSettings)
    # krkn's signal endpoint (publish_kraken_status, signal_state, signal_address, port)
    signal: SignalSettings = field(default_factory=SignalSettings)
    monitoring: Monitoring = field(default_factory=Monitoring)  # performance_monitoring, resiliency, cerberus
    # How kraken.kubeconfig_path and kraken.rollback_versions_directory were resolved (None: not set).
    kubeconfig_from: ConfigPath | None = None
    versions_from: ConfigPath | None = None

    @property
    def unsupported(self) -> list[ScenarioRef]:
        return [ref for ref in self.scenarios if not ref.supported]


def _config_path(kraken: Section, base: Path, key: str, must_exist: bool = False) -> ConfigPath | None:
    """``must_exist``: a missing file is not an error here (a flag may override it), but where it
    was looked for is kept for the line that reports it."""
    value = kraken.string(key)
    if not value:
        return None
    path, resolved_from, tried = resolve_relative(base, value, check_exists=must_exist)
    beside = Path(os.path.normpath(base / Path(value).expanduser()))
    unused = beside if resolved_from == FROM_CWD and os.path.lexists(beside) else None
    return ConfigPath(f"kraken.{key}", path, value, resolved_from, unused, tried)


def _reject_typos(section: Section, ours: Iterable[str], krkn: frozenset[str]) -> None:
    ours = list(ours)
    for key in section.data:
        if key in ours or key in krkn or not isinstance(key, str):
            continue
        hint = did_you_mean(key, ours)
        if hint:
            raise section.error(key, f"unknown field{hint}")


def _check_file(path: Path, file: Path, where: str, also_tried: Path | None = None) -> None:
    try:
        st = path.stat()  # follows symlinks: a link out of the config's folder is fine
    except FileNotFoundError:
        tried = f" (nor {also_tried}, relative to the working directory)" if also_tried else ""
        raise UserError(f"scenario file not found: {path}{tried}", file=file, field=where) from None
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot access scenario file {path}: {exc}", file=file, field=where) from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise UserError(f"scenario file {path} is {kind}", file=file, field=where)


def _scenarios(
    kraken: Section, base: Path, known: tuple[str, ...], check_files: bool
) -> list[ScenarioRef]:
    file = kraken.file
    where = kraken.field("chaos_scenarios")
    raw = kraken.data.get("chaos_scenarios")
    if raw is None:
        return []
    entries = expect_list(raw, file, where, what="a list of one-key mappings (type: [files])")
    refs: list[ScenarioRef] = []
    for i, entry in enumerate(entries):
        at = join_field(where, i)
        if isinstance(entry, list):
            raise UserError(
                "a nested list is krkn's old post-scenario form, which is not supported; "
                "write `- <scenario_type>: [files]`",
                file=file,
                field=at,
            )
        if not isinstance(entry, dict) or len(entry) != 1:
            got = f"a mapping with {len(entry)} keys" if isinstance(entry, dict) else describe(entry)
            raise UserError(
                f"expected a one-key mapping (type: [files]), got {got}", file=file, field=at
            )
        ((scenario_type, files),) = entry.items()
        krkn_only = scenario_type in KRKN_ONLY_TYPES and scenario_type not in known
        if scenario_type not in known and not krkn_only:
            raise UserError(
                f"unknown scenario type {scenario_type!r}"
                f"{did_you_mean(scenario_type, [*known, *KRKN_ONLY_TYPES])} "
                f"(krkn-tui runs: {', '.join(known)}; krkn's other types load as {UNSUPPORTED_NOTE})",
                file=file,
                field=at,
            )
        at = join_field(at, scenario_type)
        files = expect_list(files, file, at, what="a list of scenario files")
        for j, name in enumerate(files):
            item = join_field(at, j)
            if isinstance(name, list):
                raise UserError(
                    "a nested list is krkn's old post-scenario form, which is not supported",
                    file=file,
                    field=item,
                )
            if not isinstance(name, str) or not name.strip():
                raise UserError(f"expected a file path, got {describe(name)}", file=file, field=item)
            # A krkn-only type's file is never read, so a missing one does not stop the others.
            path, resolved_from, other = resolve_relative(base, name, check_files and not krkn_only)
            if check_files and not krkn_only:
                _check_file(path, file, item, other)
            refs.append(ScenarioRef(scenario_type, path, len(refs), item, resolved_from, name, not krkn_only))
    return refs


_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def _journal(kraken: Section) -> JournalSettings:
    """The cluster journal: on by default; its namespace and the run Lease's timing."""
    default = JournalSettings()
    namespace = kraken.string("cluster_journal_namespace", default.namespace)
    if not _DNS_LABEL.fullmatch(namespace):
        raise kraken.error("cluster_journal_namespace",
                           f"{namespace!r} is not a namespace name (lowercase letters, digits, '-')")
    duration = kraken.number("cluster_journal_lease_duration", default.lease_duration, minimum=1)
    renew = kraken.number("cluster_journal_renew_interval", min(default.renew_every, duration / 3), above=0)
    if renew >= duration:
        raise kraken.error("cluster_journal_renew_interval",
                           f"must be shorter than cluster_journal_lease_duration ({duration:g}s), got {renew:g}")
    return JournalSettings(enabled=kraken.boolean("cluster_journal", True), namespace=namespace,
                           lease_duration=duration, renew_every=renew,
                           retention=kraken.number("cluster_journal_retention", default.retention, minimum=0),
                           hold_past_end=kraken.number("cluster_journal_hold_past_end", default.hold_past_end,
                                                       minimum=0),
                           max_hold=kraken.number("cluster_journal_max_hold", default.max_hold, above=0))


@dataclass(frozen=True)
class Tunings:
    wait_duration: float = DEFAULT_WAIT_DURATION
    iterations: int = DEFAULT_ITERATIONS
    daemon_mode: bool = False


def _tunings(top: Section, kraken: Section) -> Tunings:
    """krkn's two layouts: ``tunings:`` (current) or ``kraken.wait_duration``/``iterations``/
    ``daemon_mode`` (older configs). Both may be present; they must then agree."""
    old = {"wait_duration": kraken.number("wait_duration", None, minimum=0),
           "iterations": kraken.integer("iterations", None, minimum=1),
           "daemon_mode": kraken.boolean("daemon_mode", None)}
    tunings = top.section("tunings")
    new: dict = {}
    if tunings is not None:
        _reject_typos(tunings, _TUNINGS_KEYS, _KRKN_TUNINGS_KEYS)
        new = {"wait_duration": tunings.number("wait_duration", None, minimum=0),
               "iterations": tunings.integer("iterations", None, minimum=1),
               "daemon_mode": tunings.boolean("daemon_mode", None)}
    values = {}
    for key, before in old.items():
        after = new.get(key)
        if before is not None and after is not None and before != after:
            raise tunings.error(key, f"is {_shown(after)} here but {_shown(before)} in kraken.{key}; keep one")
        values[key] = after if after is not None else before
    return Tunings(**{k: v for k, v in values.items() if v is not None})


def _shown(value) -> str:
    return str(value).lower() if isinstance(value, bool) else f"{value:g}"


def load_config(
    path: str | Path, known_types: Iterable[str] | None = None, check_files: bool = True
) -> Config:
    """Read and validate krkn's config.yaml; raises UserError naming the file and field."""
    path = Path(path)
    # The types krkn-tui runs are the plugin registry's: a new plugin module is a new known type.
    known = tuple(known_types) if known_types is not None else scenario_types()
    top = Section(load_yaml_file(path, what="config"), path, what="a mapping at the top level")
    if top.data.get("kraken") is None:
        raise top.error("kraken", "is required")
    kraken = Section(top.data["kraken"], path, "kraken")
    _reject_typos(kraken, _KRAKEN_KEYS, _KRKN_KRAKEN_KEYS)
    base = Path(os.path.normpath(path.absolute())).parent

    kubeconfig = _config_path(kraken, base, "kubeconfig_path", must_exist=True)
    versions = _config_path(kraken, base, "rollback_versions_directory")
    extra = kraken.string_list("protected_namespaces")

    tunings = _tunings(top, kraken)

    return Config(
        path=path,
        kubeconfig_path=kubeconfig.path if kubeconfig else None,
        auto_rollback=kraken.boolean("auto_rollback", True),
        versions_dir=versions.path if versions else DEFAULT_VERSIONS_DIR,
        protected_namespaces=DEFAULT_PROTECTED_NAMESPACES | frozenset(extra),
        allow_protected=kraken.boolean("allow_protected_namespaces", False),
        scenarios=_scenarios(kraken, base, known, check_files),
        wait_duration=tunings.wait_duration,
        iterations=tunings.iterations,
        daemon_mode=tunings.daemon_mode,
        checks=parse_checks(top),
        journal=_journal(kraken),
        signal=parse_settings(kraken),
        monitoring=parse_monitoring(top, base),
        kubeconfig_from=kubeconfig,
        versions_from=versions,
    )


__all__ = [
    "Config",
    "ConfigPath",
    "resolve_relative",
    "DEFAULT_PROTECTED_NAMESPACES",
    "ScenarioRef",
    "load_config",
]
