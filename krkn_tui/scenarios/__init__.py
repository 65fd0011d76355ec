"""Scenario plugins, one module per krkn scenario type, registered by type.

Every module of this package is imported on first use; a module that defines a
``ScenarioPlugin`` decorated with ``@register`` adds its type. Everything that lists, names,
parses or describes types asks here, so adding a type is adding its module (and its tests)."""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Any, Mapping

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
    """The scenario types krkn-tui runs, sorted."""
    return tuple(sorted(load_plugins()))


def plugin_class(scenario_type: str) -> type[ScenarioPlugin]:
    from ..errors import UserError

    try:
        return load_plugins()[scenario_type]
    except KeyError:
        raise UserError(f"unknown scenario type {scenario_type!r} (known: {', '.join(scenario_types())})") from None


def short_name(scenario_type: str) -> str:
    """The console's label for a type; an unknown type (krkn's, a listed file's) is shown as is."""
    cls = load_plugins().get(scenario_type)
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
