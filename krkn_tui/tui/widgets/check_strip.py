"""The check strip: one cell per steady-state check (name, state, last latency, failures), in
the header of every view. Fed by the run panel's handlers of the check events."""

from __future__ import annotations

from dataclasses import dataclass

from textual.content import Content


@dataclass
class CheckCell:
    name: str
    aborts: bool
    state: str = "not probed"  # not probed | passing | failing
    latency: float | None = None
    failures: int = 0


class CheckBoard:
    """The strip's model: plain data, in the config's order."""

    def __init__(self, checks=()):
        self.cells = {c.name: CheckCell(c.name, c.abort) for c in checks}

    def __bool__(self) -> bool:
        return bool(self.cells)

    def probed(self, name: str, ok: bool, latency: float, failures: int) -> None:
        cell = self.cells.setdefault(name, CheckCell(name, False))
        cell.state, cell.latency, cell.failures = ("passing" if ok else "failing"), latency, failures

    def content(self) -> Content:
        parts = [Content("checks ")]
        for i, c in enumerate(self.cells.values()):
            if i:
                parts.append(Content(" │ "))
            style = {"passing": "$text-success", "failing": "bold $text-error"}.get(c.state, "dim")
            mark = {"passing": "●", "failing": "✗"}.get(c.state, "○")
            latency = f" {c.latency * 1000:.0f}ms" if c.latency is not None else ""
            parts.append(Content.assemble((f"{mark} {c.name}", style), (f" {c.state}{latency}", style),
                                          f" {c.failures}✗" if c.failures else "", (" ⏹" if c.aborts else "", "dim")))
        return Content.assemble(*parts)
