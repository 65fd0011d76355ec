"""docs/architecture.md's floors against the code's imports (read from the syntax tree of every
module): every module stands on a floor the picture draws, every drawn path exists, no import
runs up a floor but the ones the doc lists under "Arrows that run back up", and the clients take
nothing of the rollback wing but its door."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from docs_support import DOCS, ROOT, fenced, section

PACKAGE = ROOT / "krkn_tui"
ARCHITECTURE = DOCS / "architecture.md"
_FLOOR = re.compile(r'^\s*\w+\["<b>[^<]*</b>[^<]*<br/>([^"]+)"\]\s*$')
_ARROW_UP = re.compile(r"^- `([^`]+)` → `([^`]+)`", re.M)
_DOTTED = re.compile(r'-\. "([^"]+) → ([^"]+)" \.->')


def floors(picture: str) -> list[list[str]]:
    """The floors of the Mermaid picture, top first: each a node whose label is its name in bold,
    then its paths separated by " · "."""
    return [[p.strip() for p in m.group(1).split(" · ")] for line in picture.splitlines()
            if (m := _FLOOR.match(line))]


def floor_of(module: str, drawn: list[list[str]]) -> int | None:
    """The floor of the longest drawn path that holds ``module`` (a path under krkn_tui/)."""
    best: tuple[int, int] | None = None
    for index, paths in enumerate(drawn):
        for path in paths:
            if module == path or (path.endswith("/") and module.startswith(path)):
                if best is None or len(path) > best[1]:
                    best = (index, len(path))
    return None if best is None else best[0]


def _module_paths() -> dict[str, str]:
    """Dotted name -> path under krkn_tui/ of every module."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        parts = ["krkn_tui", *rel.with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = rel.as_posix()
    return out


def imports() -> set[tuple[str, str]]:
    """(importer, imported) as paths under krkn_tui/, every import of the package's own modules,
    lazy ones inside functions included."""
    modules = _module_paths()

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return modules.get(name)

    edges = set()
    for name, rel in modules.items():
        tree = ast.parse((PACKAGE / rel).read_text())
        package = name if rel.endswith("__init__.py") else name.rpartition(".")[0]
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
                # `from pkg import mod` is an arrow to mod; `from pkg import name` one to pkg.
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                found = resolve(target) if target.startswith("krkn_tui") else None
                if found and found != rel:
                    edges.add((rel, found))
    return edges


def upward(edges: set[tuple[str, str]], drawn: list[list[str]]) -> set[tuple[str, str]]:
    """The imports whose target stands on a higher floor than the importer (floor 0 is the top)."""
    out = set()
    for a, b in edges:
        fa, fb = floor_of(a, drawn), floor_of(b, drawn)
        if fa is not None and fb is not None and fb < fa:
            out.add((a, b))
    return out


def _doc() -> tuple[list[list[str]], set[tuple[str, str]]]:
    text = ARCHITECTURE.read_text()
    part = section(text, "The floors")
    picture = fenced(part, "mermaid")[0]
    listed = set(_ARROW_UP.findall(part[part.index("Arrows that run back up:"):]))
    assert set(_DOTTED.findall(picture)) == listed, "the picture's dotted arrows are not the listed ones"
    return floors(picture), listed


def test_every_module_stands_on_a_drawn_floor_and_every_drawn_path_exists():
    drawn, _ = _doc()
    assert len(drawn) >= 5, drawn
    for path in (p for paths in drawn for p in paths):
        assert (PACKAGE / path).exists(), f"docs/architecture.md draws {path}, which does not exist"
    homeless = [rel for rel in _module_paths().values()
                if rel != "__init__.py" and floor_of(rel, drawn) is None]
    assert not homeless, f"on no floor of docs/architecture.md: {homeless}"


def test_imports_run_down_the_floors_but_the_listed_arrows():
    drawn, listed = _doc()
    found = upward(imports(), drawn)
    assert not found - listed, f"imports that run up a floor, not listed in docs/architecture.md: {sorted(found - listed)}"
    assert not listed - found, f"listed as running back up, no longer in the code: {sorted(listed - found)}"


def test_the_clients_import_of_the_rollback_wing_only_its_door():
    wrong = sorted((a, b) for a, b in imports()
                   if a.startswith(("commands/", "tui/", "cli.py")) and b.startswith("rollback/")
                   and b != "rollback/front.py")
    assert not wrong, wrong


def test_an_import_up_a_floor_is_found():
    drawn = [["cli.py"], ["rollback/"], ["kube/"]]
    edges = {("kube/poddetail.py", "rollback/redact.py"), ("cli.py", "kube/client.py"),
             ("rollback/store.py", "rollback/naming.py")}
    assert upward(edges, drawn) == {("kube/poddetail.py", "rollback/redact.py")}
    assert floor_of("rollback/journal.py", [["rollback/"], ["rollback/journal.py"]]) == 1
