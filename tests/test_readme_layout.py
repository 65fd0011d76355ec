"""The README's layout table names every module of the core, so it cannot drift from the code."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Folders the table describes as a whole: a module added there needs no line of its own.
WHOLE = {"scenarios", "tui", "report"}


def test_every_module_is_in_the_layout_table():
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout"):readme.index("Dependencies:")]
    missing = []
    for path in sorted((ROOT / "krkn_tui").rglob("*.py")):
        rel = path.relative_to(ROOT / "krkn_tui")
        if path.name in ("__init__.py", "__main__.py") or rel.parts[0] in WHOLE:
            continue
        if f"`{path.name}`" not in layout and f"/{path.name}`" not in layout:
            missing.append(str(rel))
    assert not missing, f"README's layout table does not name: {', '.join(missing)}"
    for folder in WHOLE:
        assert f"{folder}/" in layout, folder
