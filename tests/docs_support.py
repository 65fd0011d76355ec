"""Reading the README and docs/ as the doc tests need them: the files, their `ticked` names,
their fenced blocks, their headings as GitHub anchors them."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
# The sections of config.yaml krkn-tui reads: `kraken.port` is a config key, not a module's name.
CONFIG_SECTIONS = ("kraken", "tunings", "health_checks", "krkn_tui", "performance_monitoring", "resiliency",
                   "cerberus")
_TICKED = re.compile(r"`([^`\n]+)`")
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def doc_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def ticked(text: str) -> list[str]:
    return _TICKED.findall(text)


def fenced(text: str, lang: str | None = None) -> list[str]:
    """The bodies of the fenced blocks (of one language when given)."""
    return [m.group(2) for m in _FENCE.finditer(text) if lang is None or m.group(1) == lang]


def prose(text: str) -> str:
    """The text outside fenced blocks."""
    return _FENCE.sub("", text)


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    return {anchor(m.group(1)) for m in re.finditer(r"^#+ (.+)$", prose(text), re.M)}


def section(text: str, heading: str) -> str:
    """From the heading line to the next heading of the same or a higher level."""
    m = re.search(rf"^(#+) {re.escape(heading)}$", text, re.M)
    assert m, f"no heading {heading!r}"
    level = len(m.group(1))
    rest = text[m.end():]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return text[m.start():m.end() + (end.start() if end else len(rest))]
