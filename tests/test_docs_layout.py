"""docs/architecture.md's layout table names every module of the core by its path, so it cannot drift from
the code: a name in a row means that file in one of the folders the row's first cell names (two
``guard.py`` and two ``cluster.py`` are two different lines)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "krkn_tui"
# Folders the table describes as a whole: a module added there needs no line of its own.
WHOLE = ("scenarios", "tui", "report")
_TICKED = re.compile(r"`([^`]+)`")


def _resolve(token: str) -> Path:
    """A path as the table writes it: from the repository (``krkn_tui/...``) or from the package."""
    if token.startswith("krkn_tui/"):
        return ROOT / token
    return PACKAGE / token if (PACKAGE / token).exists() else ROOT / token


def named_paths(readme: str) -> set[Path]:
    layout = readme[readme.index("## Layout"):readme.index("Dependencies:")]
    named: set[Path] = set()
    for row in layout.splitlines():
        cells = row.split("|")
        if len(cells) < 3 or not _TICKED.search(cells[1]):
            continue
        heads = [_resolve(t) for t in _TICKED.findall(cells[1])]
        folders = {h if h.is_dir() else h.parent for h in heads}
        for token in _TICKED.findall(row):
            candidates = {_resolve(token)} if "/" in token else {f / token for f in folders}
            named |= {c.resolve() for c in candidates if c.exists()}
    return named


def test_every_module_is_in_the_layout_table_by_its_path():
    named = named_paths((ROOT / "docs" / "architecture.md").read_text())
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if path.name in ("__init__.py", "__main__.py") or rel.parts[0] in WHOLE:
            continue
        if path.resolve() not in named:
            missing.append(str(rel))
    assert not missing, f"docs/architecture.md's layout table does not name: {', '.join(missing)}"
    for folder in WHOLE:
        assert (PACKAGE / folder).resolve() in named, folder


def test_a_name_counts_only_in_the_folders_its_row_names():
    table = ("## Layout\n| `krkn_tui/cli.py`, `commands/` | `guard.py` |\n"
             "| `krkn_tui/rollback/service.py` | the service |\nDependencies:")
    named = named_paths(table)
    assert (PACKAGE / "commands" / "guard.py").resolve() in named
    assert (PACKAGE / "rollback" / "guard.py").resolve() not in named
