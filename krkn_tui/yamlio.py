"""Reading users' YAML files: every bad input becomes one ``UserError`` line, never a traceback.

Two parts: ``load_yaml_file`` (bytes -> Python data, with limits) and ``Section`` (typed access to a
loaded mapping, where every error names the file and the dotted field).
"""

from __future__ import annotations

import difflib
import math
import re
import stat
from pathlib import Path
from typing import Any, Iterable

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.parser import ParserError
from yaml.scanner import ScannerError

from .errors import UserError

MAX_BYTES = 1024 * 1024
MAX_ALIASES = 100
# Aliases share objects, so loading is cheap; it is whoever walks the data afterwards that pays.
MAX_EXPANDED_NODES = 100_000
MAX_DEPTH = 64

_MERGE_TAG = "tag:yaml.org,2002:merge"
# Keys written differently but equal once constructed (yes/true, 0x10/16) are duplicates too.
_NORMALIZED_KEY_TAGS = {
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:null",
}


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys, alias floods and deep nesting."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._alias_count = 0
        self._depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._alias_count += 1
            if self._alias_count > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise ComposerError(None, None, f"more than {MAX_ALIASES} aliases", mark)
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor):
        # Checked on the composed nodes, before merge keys (<<) rewrite them in place.
        node = super().compose_mapping_node(anchor)
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, ScalarNode):
                continue
            ident = self._key_identity(key_node)
            if ident in seen:
                raise ComposerError(
                    None,
                    None,
                    f"duplicate key {key_node.value!r} (first at line {seen[ident].line + 1})",
                    key_node.start_mark,
                )
            seen[ident] = key_node.start_mark
        return node

    def _key_identity(self, node: ScalarNode) -> tuple:
        if node.tag in _NORMALIZED_KEY_TAGS:
            try:
                value = self.yaml_constructors[node.tag](self, node)
                # Python dicts treat True, 1 and 1.0 as one key, so compare them as one kind.
                return ("scalar", value) if value is not None else ("null",)
            except Exception:  # an unparsable key fails later, with its own message
                pass
        return (node.tag, node.value)

    def construct_object(self, node, deep=False):
        # Scalar constructors raise ValueError & co. on input like `2020-13-45` or `!!int x`.
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, AttributeError, OverflowError, IndexError, KeyError) as exc:
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            shown = node.value if isinstance(node, ScalarNode) else "..."
            reason = f": {exc}" if isinstance(exc, ValueError) else ""
            raise ConstructorError(
                None, None, f"invalid {tag} value {str(shown)[:40]!r}{reason}", node.start_mark
            ) from None


def _check_expansion(root) -> None:
    """Reject recursive aliases and documents that expand past MAX_EXPANDED_NODES (iteratively)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            active.discard(key)
            total = 1 + sum(sizes[id(child)] for child in _children(node))
            if total > MAX_EXPANDED_NODES:
                raise ComposerError(
                    None, None, f"expands to more than {MAX_EXPANDED_NODES} nodes", node.start_mark
                )
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in active:
            raise ComposerError(None, None, "recursive alias", node.start_mark)
        active.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in active:
                raise ComposerError(None, None, "recursive alias", child.start_mark)
            if id(child) not in sizes:
                stack.append((child, False))


def _children(node) -> list:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _position(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"{line}:{col}"


def _describe_yaml_error(exc: yaml.YAMLError, text: str) -> str:
    if isinstance(exc, yaml.reader.ReaderError):
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        return (
            f"YAML syntax error at {_position(text, exc.position)}: "
            f"character U+{ord(char):04X} is not allowed"
        )
    if isinstance(exc, yaml.MarkedYAMLError):
        if exc.context == "expected a single document in the stream":
            at = f" (line {exc.problem_mark.line + 1})" if exc.problem_mark else ""
            return f"more than one YAML document{at}; krkn reads one document per file"
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        where = f" at {mark.line + 1}:{mark.column + 1}" if mark else ""
        kind = "YAML syntax error" if isinstance(exc, (ScannerError, ParserError)) else "YAML error"
        context = ""
        if exc.context and exc.problem:
            started = exc.context_mark
            context = f" ({exc.context}" + (f" started at line {started.line + 1})" if started else ")")
        return f"{kind}{where}: {problem}{context}"
    return f"YAML error: {exc}"


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            raise UserError(f"{what} file is a directory", file=path)
        if not stat.S_ISREG(st.st_mode):
            raise UserError(f"{what} file is not a regular file", file=path)
        if st.st_size > MAX_BYTES:
            raise UserError(f"{what} file is larger than 1 MiB ({st.st_size} bytes)", file=path)
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        hint = " (broken symlink)" if path.is_symlink() else ""
        raise UserError(f"{what} file not found{hint}", file=path) from None
    except PermissionError:
        raise UserError(f"cannot read {what} file: permission denied", file=path) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UserError(f"cannot read {what} file: {reason}", file=path) from None
    if len(data) > MAX_BYTES:  # grew after stat
        raise UserError(f"{what} file is larger than 1 MiB", file=path)
    return data


def parse_yaml_text(text: str, file: str | Path) -> Any:
    """Parse one YAML document with the strict loader; errors name ``file``."""
    loader = None
    try:
        loader = _StrictLoader(text)  # the reader rejects control characters right here
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise UserError(_describe_yaml_error(exc, text), file=file) from None
    except RecursionError:
        raise UserError("YAML nested too deeply", file=file) from None
    finally:
        if loader is not None:
            loader.dispose()


def load_yaml_file(path: str | Path, *, what: str = "config", allow_empty: bool = False) -> Any:
    """Load one YAML document from ``path`` safely; ``what`` names the file's role in messages."""
    path = Path(path)
    raw = _read_bytes(path, what)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start
        line = raw.count(b"\n", 0, start) + 1
        col = start - (raw.rfind(b"\n", 0, start) + 1) + 1
        raise UserError(
            f"{what} file is not valid UTF-8 (byte 0x{raw[start]:02x} at {line}:{col})", file=path
        ) from None
    data = parse_yaml_text(text, path)
    if data is None and not allow_empty:
        raise UserError(f"{what} file is empty", file=path)
    return data


# ---- typed access ---------------------------------------------------------------------------

_MISSING: Any = object()


def join_field(path: str, key: Any) -> str:
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def describe(value: Any) -> str:
    """Short human description of a YAML value, for 'expected X, got Y' messages."""
    kinds = [
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a number"),
        (str, "a string"),
        (list, "a list"),
        (dict, "a mapping"),
    ]
    if value is None:
        return "nothing (null)"
    for typ, name in kinds:
        if isinstance(value, typ):
            if isinstance(value, (list, dict)):
                return name
            text = str(value).lower() if isinstance(value, bool) else repr(value)  # as YAML spells it
            return f"{name} ({text[:40] + '...' if len(text) > 40 else text})"
    return f"a {type(value).__name__}"


def did_you_mean(word: Any, choices: Iterable[str]) -> str:
    # Compare with - and _ alike: hog files spell keys cpu-load-percentage, the rest snake_case.
    def norm(text: str) -> str:
        return text.lower().replace("-", "_")

    by_norm = {norm(c): c for c in choices}
    close = difflib.get_close_matches(norm(str(word)), list(by_norm), n=1, cutoff=0.85)
    return f"; did you mean {by_norm[close[0]]!r}?" if close else ""


class Section:
    """A mapping from a user's file. Null counts as absent everywhere, and so does a blank string
    where a string goes: krkn's own samples write `label_selector:` and `node_name: ''` for "none"."""

    def __init__(self, data: Any, file: str | Path, path: str = "", *, what: str = "a mapping"):
        if not isinstance(data, dict):
            raise UserError(f"expected {what}, got {describe(data)}", file=file, field=path or None)
        self.data = data
        self.file = file
        self.path = path

    def field(self, key: Any) -> str:
        return join_field(self.path, key)

    def error(self, key: Any, message: str) -> UserError:
        where = self.field(key) if key is not None else self.path or None
        return UserError(message, file=self.file, field=where)

    def raw(self, key: str, *, blank_is_absent: bool = True) -> Any:
        value = self.data.get(key)
        if value is None or (blank_is_absent and isinstance(value, str) and not value.strip()):
            return None
        return value

    def reject_unknown(self, known: Iterable[str], *, ignored: Iterable[str] = ()) -> None:
        known = list(known)
        accepted = set(known) | set(ignored)
        for key in self.data:
            if key not in accepted:
                raise self.error(
                    key, f"unknown field{did_you_mean(key, known)} (known: {', '.join(known)})"
                )

    def _required(self, key: str) -> UserError:
        return self.error(key, "is required")

    def string(self, key: str, default: Any = None, *, required: bool = False) -> Any:
        value = self.raw(key)
        if value is None:
            if required:
                raise self._required(key)
            return default
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {describe(value)}")
        return value

    def integer(self, key: str, default: Any = _MISSING, *, minimum: int | None = None,
                maximum: int | None = None, blank_is_absent: bool = False) -> Any:
        value = self.raw(key, blank_is_absent=blank_is_absent)
        if value is None:
            if default is _MISSING:
                raise self._required(key)
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {describe(value)}")
        self._check_range(key, value, minimum, maximum)
        return value

    def number(self, key: str, default: Any = _MISSING, *, minimum: float | None = None,
               above: float | None = None, maximum: float | None = None) -> Any:
        value = self.raw(key, blank_is_absent=False)
        if value is None:
            if default is _MISSING:
                raise self._required(key)
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"expected a number, got {describe(value)}")
        if not math.isfinite(value):
            raise self.error(key, f"must be a finite number, got {value}")
        if above is not None and not value > above:
            raise self.error(key, f"must be greater than {above:g}, got {value}")
        self._check_range(key, value, minimum, maximum)
        return float(value)

    def _check_range(self, key: str, value: float, minimum: float | None, maximum: float | None) -> None:
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be at least {minimum:g}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"must be at most {maximum:g}, got {value}")

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {describe(value)}")
        return value

    def choice(self, key: str, choices: Iterable[str], default: Any = _MISSING) -> Any:
        choices = list(choices)
        value = self.raw(key, blank_is_absent=False)
        if value is None:
            if default is _MISSING:
                raise self.error(key, f"is required (one of: {', '.join(choices)})")
            return default
        if value not in choices:
            raise self.error(key, f"unknown value {value!r}; expected one of: {', '.join(choices)}")
        return value

    def regex(self, key: str, *, required: bool = False) -> str | None:
        value = self.string(key, required=required)
        if value is not None:
            check_regex(value, self.file, self.field(key))
        return value

    def string_list(self, key: str, default: tuple = ()) -> tuple[str, ...]:
        value = self.raw(key, blank_is_absent=False)
        if value is None:
            return default
        if not isinstance(value, list):
            raise self.error(key, f"expected a list of strings, got {describe(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise UserError(
                    f"expected a non-empty string, got {describe(item)}",
                    file=self.file,
                    field=join_field(self.field(key), i),
                )
        return tuple(value)

    def section(self, key: str) -> Section | None:
        value = self.data.get(key)
        return None if value is None else Section(value, self.file, self.field(key))

    def required_section(self, key: str) -> Section:
        value = self.data.get(key)
        if value is None:
            raise self._required(key)
        return Section(value, self.file, self.field(key))


def check_regex(pattern: str, file: str | Path | None, field: str) -> None:
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise UserError(f"not a valid regular expression: {exc}", file=file, field=field) from None


def expect_list(value: Any, file: str | Path, field: str, *, what: str = "a list") -> list:
    if not isinstance(value, list):
        raise UserError(f"expected {what}, got {describe(value)}", file=file, field=field or None)
    return value


__all__ = [
    "MAX_ALIASES",
    "MAX_BYTES",
    "Section",
    "check_regex",
    "describe",
    "did_you_mean",
    "expect_list",
    "join_field",
    "load_yaml_file",
    "parse_yaml_text",
]
