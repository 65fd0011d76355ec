"""Headless subcommands of `krkn-tui`, each a thin client of the core."""
