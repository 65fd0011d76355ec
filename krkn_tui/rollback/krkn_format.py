"""Read a version file written by krkn (krkn-lib's template) without executing it.

krkn binds ``rollback_content = RollbackContent(namespace=..., resource_identifier=...)`` at
module level (or passes the call inline) and, under ``if __name__ == '__main__':``, calls
``<callable>(rollback_content, lib_telemetry)``. Only literal arguments are read.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class KrknVersion:
    callable: str | None
    namespace: str | None
    resource_identifier: str | None


def _is_content_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "RollbackContent"
    )


def _literal(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _content_fields(call: ast.Call) -> tuple[str | None, str | None]:
    kw = {k.arg: k.value for k in call.keywords if k.arg}
    # Positional order of krkn's dataclass: resource_identifier, namespace.
    ident = kw.get("resource_identifier", call.args[0] if call.args else None)
    ns = kw.get("namespace", call.args[1] if len(call.args) > 1 else None)
    return _literal(ns), _literal(ident)


def _is_main_guard(node: ast.AST) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    parts = [node.test.left, *node.test.comparators]
    return any(isinstance(p, ast.Name) and p.id == "__name__" for p in parts) and any(
        _literal(p) == "__main__" for p in parts
    )


_DEF_RE = re.compile(r"^def[ \t]+([A-Za-z_]\w*)[ \t]*\(", re.M)
_CONTENT_CALL_RE = re.compile(r"RollbackContent[ \t]*\(")  # no \b: it turns off the literal prefix scan
_MAX_CALL_CHARS = 4096  # a RollbackContent(...) call of two literals is far shorter
# The call's arguments when each is a plain string literal (or None), as krkn-lib writes them.
_STR = r"""(?:"[^"\\\n]*"|'[^'\\\n]*'|None)"""
_ARG_RE = re.compile(rf"\s*(?:(\w+)\s*=\s*)?({_STR})\s*(,|\))")


def _literal_text(token: str) -> str | None:
    return None if token == "None" else token[1:-1]


def _content_call(text: str) -> tuple[str | None, str | None] | None:
    """``(namespace, resource_identifier)`` of the first ``RollbackContent(...)`` call, from its
    own (bounded) text; None when it is not a call of plain literals."""
    m = _CONTENT_CALL_RE.search(text)
    if m is None:
        return None
    at, limit = m.end(), m.start() + _MAX_CALL_CHARS
    args, kwargs = [], {}
    while at < limit:
        arg = _ARG_RE.match(text, at)
        if arg is None:
            return None
        if arg[1]:
            kwargs[arg[1]] = _literal_text(arg[2])
        else:
            args.append(_literal_text(arg[2]))
        at = arg.end()
        if arg[3] == ")":
            # Positional order of krkn's dataclass: resource_identifier, namespace.
            ident = kwargs.get("resource_identifier", args[0] if args else None)
            ns = kwargs.get("namespace", args[1] if len(args) > 1 else None)
            return ns, ident
    return None


def scan_krkn_version(text: str) -> KrknVersion | None:
    """What ``parse_krkn_version`` reads, from a bounded look at the text instead of the whole
    module's syntax tree (that tree is hundreds of times the file: a 2 MB file took 1 GB).
    None when the file does not have krkn's template shape: a callable ``rollback_*`` (or the
    only function) and a ``RollbackContent(...)`` call."""
    names = _DEF_RE.findall(text)
    ours = [n for n in names if n.startswith("rollback_")]
    name = ours[0] if ours else (names[0] if len(names) == 1 else None)
    fields = _content_call(text)
    if name is None or fields is None:
        return None
    ns, ident = fields
    return KrknVersion(callable=name, namespace=ns, resource_identifier=ident)


def parse_krkn_version(text: str) -> KrknVersion:
    """Callable name, namespace and resource identifier; SyntaxError/ValueError if unparsable."""
    tree = ast.parse(text)
    bound: dict[str, ast.Call] = {}  # module-level names bound to RollbackContent(...)
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    for node in tree.body:
        if isinstance(node, ast.Assign) and _is_content_call(node.value):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    bound[target.id] = node.value

    content: ast.Call | None = None
    name: str | None = None
    for guard in (n for n in tree.body if _is_main_guard(n)):
        for node in ast.walk(guard):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            first = node.args[0]
            call = first if _is_content_call(first) else None
            if call is None and isinstance(first, ast.Name):
                call = bound.get(first.id)
            if call is not None and isinstance(node.func, ast.Name):
                content, name = call, node.func.id
                break
        if content is not None:
            break

    if content is None and bound:
        content = next(iter(bound.values()))
    if name is None and len(functions) == 1:
        name = functions[0]
    ns, ident = _content_fields(content) if content is not None else (None, None)
    return KrknVersion(callable=name, namespace=ns, resource_identifier=ident)
