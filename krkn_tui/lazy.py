"""Names a package hands on but loads on first use (PEP 562's module ``__getattr__``): the
console's first frame must not pay for the executor, the journal or the kubernetes client."""

from __future__ import annotations

from importlib import import_module
from typing import Any, Callable


def lazy_names(module: str, where: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``module``: each name of ``where`` is read from the module it
    maps to (relative to ``module``'s package) the first time it is asked for, then kept."""
    import sys

    def getattr_(name: str) -> Any:
        source = where.get(name)
        if source is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        here = sys.modules[module]
        package = module if hasattr(here, "__path__") else module.rpartition(".")[0]
        value = getattr(import_module(source, package), name)
        setattr(here, name, value)
        return value

    def dir_() -> list[str]:
        return sorted(set(vars(sys.modules[module])) | set(where))

    return getattr_, dir_
