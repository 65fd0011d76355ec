"""Scenario plugins, one module per krkn scenario type, registered by type.

A module that defines a ``ScenarioPlugin`` decorated with ``@register`` adds its type; ``index``
names each type's module and label, so listing or labelling types imports no plugin, and a type
imports its own module when it is parsed or run. Everything that lists, names, parses or
describes types asks here, so adding a type is adding its module, its line in ``index`` (a test
checks them against each other) and its tests."""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Any, Mapping

from .index import TYPES

if TYPE_CHECKING:
    from .base import ScenarioPlugin

_loaded = False


def load_plugins() -> Mapping[str, type[ScenarioPlugin]]:
    """The registry, type name -> plugin class, once every module here is imported."""
    global _loaded
    from .base import REGISTRY

    if not _loaded:
        for module in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{module.name}")
        _loaded = True
    return REGISTRY


def scenario_types() -> tuple[str, ...]:
    """The scenario types krkn-tui runs, sorted: the index's, and any registered beside it."""
    from .base import REGISTRY

    return tuple(sorted(TYPES.keys() | REGISTRY.keys()))


def plugin_class(scenario_type: str) -> type[ScenarioPlugin]:
    """The type's plugin, its module imported on first use."""
    from ..errors import UserError
    from .base import REGISTRY

    cls = REGISTRY.get(scenario_type)
    if cls is None and scenario_type in TYPES:
        importlib.import_module(f"{__name__}.{TYPES[scenario_type][0]}")
        cls = REGISTRY.get(scenario_type)
    if cls is None:
        raise UserError(f"unknown scenario type {scenario_type!r} (known: {', '.join(scenario_types())})")
    return cls


def short_name(scenario_type: str) -> str:
    """The console's label for a type; an unknown type (krkn's, a listed file's) is shown as is."""
    from .base import REGISTRY

    known = TYPES.get(scenario_type)
    if known is not None:
        return known[1]
    cls = REGISTRY.get(scenario_type)
    return cls.short_name if cls is not None else scenario_type


def parse_scenario_file(scenario_type: str, path: Any) -> list:
    """Load ``path`` and validate it as ``scenario_type``; raises UserError naming the file."""
    from ..errors import UserError

    try:
        plugin = plugin_class(scenario_type)
    except UserError as e:
        raise UserError(e.message, file=path) from None
    return plugin.parse(path)


def describe_specs(scenario_type: str, specs: list, limit: int = 2) -> str:
    """One line saying what a file's first ``limit`` specs will do."""
    plugin = plugin_class(scenario_type)
    summary = "; ".join(plugin.describe(s) for s in specs[:limit])
    if len(specs) > limit:
        summary += f"; +{len(specs) - limit} more"
    return summary
