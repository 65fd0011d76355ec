"""Errors that reach the user as one line, never as a traceback."""

from __future__ import annotations

from pathlib import Path

from .sanitize import one_line


class UserError(Exception):
    """Bad input: printed as ``FILE: FIELD: message`` and the command exits 2.

    ``file`` and ``field`` are optional so the same type serves command-line arguments too.
    """

    exit_code = 2

    def __init__(self, message: str, *, file: str | Path | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.field = field

    def __str__(self) -> str:
        parts = [p for p in (self.file, self.field) if p]
        # One line whatever the message holds: YAML errors carry newlines.
        text = one_line(self.message)
        return ": ".join([*parts, text])

