"""Load one of our version files in-process without running its ``__main__`` block."""

from __future__ import annotations

import sys
import threading
import types

MODULE_NAME = "krkn_tui_version"  # anything but "__main__", so the file's own main block stays off
_lock = threading.Lock()


def load_version(text: str, filename: str) -> tuple:
    """``(ROLLBACK, CONTENT)`` from the file's checked text (``source_text.checked_source``),
    executed in a fresh namespace. Compiled from ``str``: no coding cookie can re-decode it.

    The module is in ``sys.modules`` only while its body runs: ``dataclass`` looks the module up
    to resolve the (postponed, string) annotations of ``RollbackContent``.
    """
    module = types.ModuleType(MODULE_NAME)
    module.__file__ = filename
    if not isinstance(text, str):
        raise TypeError("load_version takes the checked text, not bytes")
    code = compile(text, filename, "exec")
    with _lock:
        previous = sys.modules.get(MODULE_NAME)
        sys.modules[MODULE_NAME] = module
        try:
            exec(code, module.__dict__)
        finally:
            if previous is None:
                sys.modules.pop(MODULE_NAME, None)
            else:
                sys.modules[MODULE_NAME] = previous
    return module.__dict__["ROLLBACK"], module.__dict__["CONTENT"]
