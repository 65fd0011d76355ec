"""Steady-state checks: declared in config.yaml (spec), probed (probes), run before, during and
after a run (runner). No Textual here: the console and the command line share this."""

from .spec import ChecksConfig, DeploymentCheck, HttpCheck, PodsReadyCheck, parse_checks

__all__ = ["ChecksConfig", "DeploymentCheck", "HttpCheck", "PodsReadyCheck", "parse_checks"]
