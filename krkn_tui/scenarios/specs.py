"""What krkn's scenario file formats share: value checks (selectors, namespaces, sizes, labels),
entry lists, krkn's ``{key: [entries]}`` shape, and taints. Each format itself (its spec and
parser) lives with its plugin, in that plugin's module.

A parser takes the loaded YAML and the file it came from, and raises ``UserError`` naming the
file and the dotted field. Unknown fields are errors: a misspelt krkn key must not pass silently
and leave a default in its place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..yamlio import Section, describe, expect_list, join_field

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


# ---- value checks ---------------------------------------------------------------------------

_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
_LABEL_KEY = rf"(?:[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?/)?{_NAME}"
_LABEL_VALUE = rf"(?:{_NAME})?"
LABEL_KEY_RE = re.compile(rf"{_LABEL_KEY}\Z")
LABEL_VALUE_RE = re.compile(rf"{_LABEL_VALUE}\Z")
# One requirement of a Kubernetes label selector: key, !key, key=v, key==v, key!=v, key in (a,b).
_REQUIREMENT_RE = re.compile(
    rf"\s*(?:!?\s*{_LABEL_KEY}"
    rf"|{_LABEL_KEY}\s*(?:==?|!=)\s*{_LABEL_VALUE}"
    rf"|{_LABEL_KEY}\s+(?:in|notin)\s*\(\s*{_LABEL_VALUE}(?:\s*,\s*{_LABEL_VALUE})*\s*\))\s*\Z"
)
_DNS_LABEL_RE = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?\Z")
_SIZE_RE = re.compile(r"[1-9][0-9]*[bkmgtBKMGT]?\Z")
_SIZE_OR_PERCENT_RE = re.compile(r"(?:[1-9][0-9]*[bkmgtBKMGT]?|(?:100|[1-9][0-9]?)%)\Z")


def check_selector(sec: Section, key: str) -> str | None:
    value = sec.string(key)
    if value is not None:
        parts = re.split(r",(?![^()]*\))", value)
        for part in parts:
            if not _REQUIREMENT_RE.match(part):
                where = f" in {value!r}" if len(parts) > 1 else ""
                raise sec.error(key, f"not a valid label selector: {part.strip()!r}{where}")
    return value


def check_namespace(sec: Section, key: str, default: str | None = None) -> str:
    value = sec.string(key, default, required=default is None)
    if not _DNS_LABEL_RE.match(value):
        raise sec.error(key, f"not a valid namespace name: {value!r}")
    return value


def check_size(sec: Section, key: str, default: str, *, percent: bool) -> str:
    value = sec.raw(key)
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    pattern = _SIZE_OR_PERCENT_RE if percent else _SIZE_RE
    if not isinstance(value, str) or not pattern.match(value):
        form = "a size like 512m, 1g or 90%" if percent else "a size like 4k or 1m"
        raise sec.error(key, f"expected {form}, got {describe(value)}")
    return value


def check_label_map(sec: Section, key: str) -> dict[str, str]:
    raw = sec.data.get(key)
    labels = Section(raw, sec.file, sec.field(key), what="a mapping of label names to values")
    for name, value in labels.data.items():
        if not isinstance(name, str) or not LABEL_KEY_RE.match(name):
            raise labels.error(name, f"not a valid label name: {name!r}")
        if not isinstance(value, str):
            raise labels.error(name, f"expected a string label value (quote it), got {describe(value)}")
        if not LABEL_VALUE_RE.match(value):
            raise labels.error(name, f"not a valid label value: {value!r}")
    return dict(labels.data)


def section_entries(value: Any, file: str | Path, where: str, what: str) -> list[Section]:
    items = expect_list(value, file, where, what=f"a list of {what}")
    if not items:
        raise UserError(f"lists no {what}", file=file, field=where or None)
    return [Section(item, file, join_field(where, i)) for i, item in enumerate(items)]


def keyed_entries(data: Any, file: str | Path, key: str, what: str, entry) -> list:
    """krkn's `{key: [entries]}` files: `key` is the one allowed top-level key and is required."""
    top = Section(data, file, what=f"a mapping with {key}")
    top.reject_unknown((key,))
    if top.data.get(key) is None:
        raise top.error(key, "is required")
    return [entry(sec) for sec in section_entries(top.data[key], file, key, what)]


# ---- taints ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Taint:
    key: str
    value: str | None = None  # None: match any value (toleration operator Exists)
    effect: str

    def __str__(self) -> str:
        value = f"={self.value}" if self.value is not None else ""
        return f"{self.key}{value}:{self.effect}"


def taint_from_map(sec: Section) -> Taint:
    sec.reject_unknown(("key", "value", "effect"))
    key = sec.string("key", required=True)
    if not LABEL_KEY_RE.match(key):
        raise sec.error("key", f"not a valid taint key: {key!r}")
    value = sec.string("value")
    if value is not None and not LABEL_VALUE_RE.match(value):
        raise sec.error("value", f"not a valid taint value: {value!r}")
    return Taint(key=key, value=value, effect=sec.choice("effect", TAINT_EFFECTS))


def taint_from_string(text: Any, file: str | Path, where: str) -> Taint:
    """krkn's hog form: ``key=value:Effect`` or ``key:Effect``."""
    if not isinstance(text, str):
        raise UserError(f"expected a taint like key=value:NoSchedule, got {describe(text)}",
                        file=file, field=where)
    head, sep, effect = text.rpartition(":")
    key, eq, value = head.partition("=")
    if not sep or not LABEL_KEY_RE.match(key) or (eq and not LABEL_VALUE_RE.match(value)):
        raise UserError(f"expected a taint like key=value:NoSchedule, got {text!r}",
                        file=file, field=where)
    if effect not in TAINT_EFFECTS:
        raise UserError(f"unknown taint effect {effect!r}; expected one of: {', '.join(TAINT_EFFECTS)}",
                        file=file, field=where)
    return Taint(key=key, value=value if eq else None, effect=effect)
