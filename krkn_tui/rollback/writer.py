"""Turn a rollback callable and its content into a standalone version file, durably.

The file runs with ``python FILE`` (kubeconfig from ``$KUBECONFIG``, context from
``$KRKN_TUI_CONTEXT``) or in-process through the executor, which imports it under another
``__name__`` and calls ``ROLLBACK(CONTENT, api_client)`` itself.

It is also a krkn version file, so a versions folder shared with krkn works both ways: krkn's
``execute-rollback`` imports it without registering it in ``sys.modules`` (so no ``dataclass``
here: it looks its module up there), takes the module-level ``rollback_content`` and calls the
``rollback_*`` function whose parameters are annotated ``RollbackContent`` and
``KrknTelemetryOpenshift`` with krkn-lib's telemetry object.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import json
import os
import symtable
import textwrap
from pathlib import Path
from typing import Callable

from . import data_line, manifest
from .content import RollbackContent
from ..fsio import sha256_hex, write_atomic
from .meta import VersionMeta, meta_line

# Module-level names of the generated file: a callable may use them, but not be named like them.
# The function krkn's loader calls; no plugin callable may take its name.
KRKN_ENTRY = "rollback_krkn_tui_step"
FILE_GLOBALS = frozenset(
    {"annotations", "json", "os", "sys", "dataclass", "RollbackContent", "CONTENT", "ROLLBACK",
     KRKN_ENTRY, "rollback_content"}
)
_MODULE_DUNDERS = frozenset({"__name__", "__file__", "__doc__", "__builtins__", "__spec__"})

_PRELUDE = '''\
from __future__ import annotations

import json
import os
import sys


class RollbackContent:
    """krkn's field names, plus ``data``: extra JSON state to restore."""

    __slots__ = ("resource_identifier", "namespace", "data")

    def __init__(self, resource_identifier="", namespace=None, data=None):
        self.resource_identifier = resource_identifier
        self.namespace = namespace
        self.data = data

    def __repr__(self):
        return (f"RollbackContent(resource_identifier={self.resource_identifier!r}, "
                f"namespace={self.namespace!r})")
'''

_MAIN = '''\
if __name__ == "__main__":
    try:
        from kubernetes import client as _k8s_client, config as _k8s_config

        _k8s_config.load_kube_config(
            config_file=os.environ.get("KUBECONFIG"), context=os.environ.get("KRKN_TUI_CONTEXT")
        )
        ROLLBACK(CONTENT, _k8s_client.ApiClient())
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        message = " ".join(f"{type(exc).__name__}: {exc}".split())
        print(f"rollback {os.path.basename(__file__)} failed: {message}", file=sys.stderr)
        sys.exit(1)
'''


def callable_source(fn: Callable) -> str:
    """Dedented source of a module-level ``def fn(content, api_client)``; ValueError if unfit."""
    if not inspect.isfunction(fn):
        raise ValueError(f"rollback callable {fn!r} must be a plain function defined with def")
    qualname = fn.__qualname__
    if "<" in qualname or "." in qualname:
        raise ValueError(
            f"rollback callable {qualname} must be a module-level function, "
            "not a lambda, nested function or method"
        )
    if fn.__closure__:
        raise ValueError(f"rollback callable {qualname} must not be a closure")
    if inspect.iscoroutinefunction(fn) or inspect.isgeneratorfunction(fn):
        raise ValueError(f"rollback callable {qualname} must be a plain synchronous function")
    if fn.__name__ in FILE_GLOBALS or fn.__name__.startswith("_k8s_"):
        raise ValueError(f"rollback callable name {fn.__name__!r} is reserved in version files")
    try:
        inspect.signature(fn).bind(None, None)
    except TypeError:
        raise ValueError(
            f"rollback callable {qualname} must accept (content, api_client)"
        ) from None
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as exc:
        raise ValueError(f"rollback callable {qualname}: source not available ({exc})") from None
    tree = ast.parse(source)
    defs = tree.body
    if (
        len(defs) != 1
        or not isinstance(defs[0], ast.FunctionDef)
        or defs[0].name != fn.__name__
        or defs[0].decorator_list
    ):
        raise ValueError(f"rollback callable {qualname} must be a single undecorated def")
    return source.rstrip() + "\n"


def undefined_globals(text: str) -> list[str]:
    """Names the file's code reads as globals but that neither the file nor builtins define."""
    top = symtable.symtable(text, "<version>", "exec")
    defined = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    known = defined | set(dir(builtins)) | _MODULE_DUNDERS
    missing: set[str] = set()

    def walk(table: symtable.SymbolTable) -> None:
        for sym in table.get_symbols():
            reads_global = sym.is_global() if table is not top else not (
                sym.is_assigned() or sym.is_imported()
            )
            if reads_global and sym.is_referenced() and sym.get_name() not in known:
                missing.add(sym.get_name())
        for child in table.get_children():
            walk(child)

    walk(top)
    return sorted(missing)


def _data_json(data: object) -> str:
    try:
        encoded = json.dumps(data, sort_keys=True, ensure_ascii=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"RollbackContent.data must be JSON-serializable: {exc}") from None
    if json.loads(encoded) != data:
        raise ValueError(
            "RollbackContent.data does not survive a JSON round trip "
            "(tuples, non-string keys, sets?): use lists and string keys"
        )
    return encoded


def _namespace_line(namespace: str | None) -> str:
    if namespace is None:
        return "    namespace=None,"
    return data_line.wrapped("    namespace=", namespace, ",", parens=True)


def _check_content(content: RollbackContent) -> None:
    if not isinstance(content.resource_identifier, str):
        raise ValueError("RollbackContent.resource_identifier must be a string")
    if content.namespace is not None and not isinstance(content.namespace, str):
        raise ValueError("RollbackContent.namespace must be a string or None")


def render_version_file(fn: Callable, content: RollbackContent, meta: VersionMeta) -> str:
    """The whole text of a version file; ValueError if the callable or content cannot be stored."""
    _check_content(content)
    source = callable_source(fn)
    header = "\n".join(
        [
            "# Rollback step written by krkn-tui before it changed the cluster.",
            "# Run it alone with `python THIS_FILE` ($KUBECONFIG, optional $KRKN_TUI_CONTEXT),",
            "# or through the krkn-tui rollback executor, which records it as executed or failed.",
            meta_line(meta),
        ]
    )
    content_block = (
        "CONTENT = RollbackContent(\n"
        f"{data_line.wrapped('    resource_identifier=', content.resource_identifier, ',', parens=True)}\n"
        f"{_namespace_line(content.namespace)}\n"
        f"{data_line.render(_data_json(content.data))}\n"
        ")\n"
        f"ROLLBACK = {fn.__name__}\n"
    )
    krkn_block = (
        "# krkn's execute-rollback: it passes this content and krkn-lib's telemetry object.\n"
        "rollback_content = CONTENT\n\n\n"
        f"def {KRKN_ENTRY}(rollback_content: RollbackContent, lib_telemetry: KrknTelemetryOpenshift):\n"
        "    ROLLBACK(rollback_content, lib_telemetry.get_lib_kubernetes().api_client)\n"
    )
    body = "\n\n".join([header, _PRELUDE, source, content_block, krkn_block])
    # Checked without the __main__ block: its names exist only when the file runs alone.
    missing = undefined_globals(body)
    if missing:
        raise ValueError(
            f"rollback callable {fn.__qualname__} uses names defined outside it: "
            f"{', '.join(missing)}; import or define them inside the function body"
        )
    text = body + "\n\n" + _MAIN
    compile(text, "<version file>", "exec")  # fail here, not at rollback time
    return text


def write_version_file(run_dir: Path, name: str, text: str, created_ns: int) -> Path:
    """The manifest line (appended and fsynced), then temp file, fsync, rename, fsync dir.

    Digest first: a process killed between the two writes must not leave a file under its final
    name without its digest, which the executor would refuse forever. A line whose file never
    got its name is harmless.
    """
    data = text.encode("utf-8")
    if os.path.lexists(Path(run_dir) / name):
        raise FileExistsError(f"version file {name} already exists in {run_dir}")
    manifest.append_entry(run_dir, name, sha256_hex(data), created_ns)
    return write_atomic(Path(run_dir), name, data)
