"""The README and docs/ against the code where they name it: the README stays a front page with
the two set-up commands CI runs, every link lands on a file and heading that exist, every module
or file a doc names exists, every `krkn-tui` command line a doc writes parses with the real
parser (subcommands and flags), the scenario table lists exactly the registered types, and the
bench table is the reference run's."""

from __future__ import annotations

import argparse
import importlib
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from docs_support import CONFIG_SECTIONS, DOCS, README, ROOT, anchors, doc_files, fenced, prose, ticked

from krkn_tui.cli import build_parser

FRONT_PAGE_LINES = 150
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_FLAG = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")
# Folders of the repository a doc names files in; a bare `name.py` is looked for in these.
_REPO_DIRS = ("krkn_tui/", "tests/", "bench/", "localcluster/", "deploy/", "scenarios/", "screenshots/",
              "docs/", ".ci/")
# Files of other projects the docs name (krkn's entry point).
_NOT_OURS = {"run_kraken.py"}


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


# -- the front page ------------------------------------------------------------------------------

def test_the_readme_is_a_front_page_with_the_two_commands_ci_runs():
    text = README.read_text()
    assert len(text.splitlines()) <= FRONT_PAGE_LINES
    block = fenced(text[text.index("## Two commands"):], "bash")[0]
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["make console", "make test"], commands
    assert "make console CONTEXT=" in text  # any context on request
    makefile = (ROOT / "Makefile").read_text()
    for target in ("console", "test"):
        assert re.search(rf"^{target}:", makefile, re.M), f"Makefile has no {target} target"
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test\b", ci, re.M), ".ci/run no longer runs the README's test command"


def test_the_readme_links_every_doc():
    text = README.read_text()
    for doc in sorted(DOCS.glob("*.md")):
        assert f"(docs/{doc.name})" in text, f"README.md does not link docs/{doc.name}"


# -- links, files and modules ------------------------------------------------------------------

def link_problems(doc: Path) -> list[str]:
    problems = []
    text = doc.read_text()
    for target in _LINK.findall(prose(text)):
        if re.match(r"^[a-z]+:", target):
            continue
        file, _, fragment = target.partition("#")
        dest = (doc.parent / file).resolve() if file else doc
        if not dest.exists():
            problems.append(f"{_rel(doc)}: {target}: no such file")
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest.read_text()):
            problems.append(f"{_rel(doc)}: {target}: no such heading")
    return problems


def test_every_link_lands_on_a_file_and_heading_that_exist():
    problems = [p for doc in doc_files() for p in link_problems(doc)]
    assert not problems, problems


def test_a_link_to_a_missing_heading_is_found(tmp_path):
    (tmp_path / "a.md").write_text("# A\n## Real part\n[ok](#real-part) [bad](#gone) [file](b.md)\n")
    doc = tmp_path / "a.md"
    assert link_problems(doc) == [f"{doc}: #gone: no such heading", f"{doc}: b.md: no such file"]


def named_file_exists(token: str) -> bool | None:
    """None for a token that names no file of this repository; else whether it exists."""
    token = token.rstrip("/")
    if not token or token.startswith(".") and not token.startswith(".ci") or any(c in token for c in " <>*…$~"):
        return None
    if token.startswith(_REPO_DIRS) or token + "/" in _REPO_DIRS:
        return (ROOT / token).exists() or (ROOT / "krkn_tui" / token).exists()
    if re.fullmatch(r"[\w/-]+\.py", token) and token not in _NOT_OURS:
        if "/" in token:
            return (ROOT / "krkn_tui" / token).exists() or (ROOT / token).exists()
        return any(next((ROOT / d).rglob(token), None) for d in _REPO_DIRS if (ROOT / d).is_dir())
    return None


def unknown_names(check, tokens_of=ticked) -> tuple[int, list[str]]:
    """How many names of the docs ``check`` knows about, and those of them it finds missing."""
    checked, missing = 0, []
    for doc in doc_files():
        for token in tokens_of(doc.read_text()):
            found = check(token)
            checked += found is not None
            if found is False:
                missing.append(f"{_rel(doc)}: {token}")
    return checked, missing


def _ticked_and_drawn(text: str) -> list[str]:
    return ticked(text) + [m for block in fenced(text, "mermaid") for m in re.findall(r"[\w/]+\.py", block)]


def test_every_module_and_file_a_doc_names_exists():
    checked, missing = unknown_names(named_file_exists, _ticked_and_drawn)
    assert checked > 50, checked
    assert not missing, missing


_ATTRIBUTE = re.compile(r"([a-z_]+)\.([A-Za-z_]\w*)")
_NOT_ATTRIBUTES = {"py", "yaml", "yml", "md", "json", "jsonl", "tmp", "log", "tar", "executed", "failed"}


def named_attribute_exists(token: str) -> bool | None:
    """`module.name` (`config.resolve_relative`): None when the first part is not one of the
    package's modules; else whether a module of that name defines the name."""
    m = _ATTRIBUTE.fullmatch(token)
    if not m or m.group(2) in _NOT_ATTRIBUTES or m.group(1) in CONFIG_SECTIONS:
        return None
    files = [p for p in (ROOT / "krkn_tui").rglob(f"{m.group(1)}.py")]
    if not files:
        return None
    modules = [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in files]
    return any(hasattr(importlib.import_module(name), m.group(2)) for name in modules)


def test_every_module_attribute_a_doc_names_exists():
    checked, missing = unknown_names(named_attribute_exists)
    assert checked, "no module.name found in the docs"
    assert not missing, missing


@pytest.mark.parametrize("check, token, expected", [
    (named_file_exists, "rollback/front.py", True),
    (named_file_exists, "realnode.py", True),
    (named_file_exists, "rollback/nowhere.py", False),
    (named_file_exists, "tests/test_nowhere.py", False),
    (named_file_exists, "nowhere.py", False),
    (named_file_exists, "registry.k8s.io/pause:3.10", None),
    (named_attribute_exists, "config.resolve_relative", True),
    (named_attribute_exists, "config.resolve_elsewhere", False),
    (named_attribute_exists, "config.yaml", None),
    (named_attribute_exists, "kraken.cluster_journal", None),
])
def test_a_named_module_or_name_that_is_gone_is_found(check, token, expected):
    assert check(token) is expected


# -- command lines ---------------------------------------------------------------------------------

def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions for s in a.option_strings}


def _all_options(parser: argparse.ArgumentParser) -> set[str]:
    return _options(parser).union(*(_all_options(p) for p in _subparsers(parser).values()))


def command_problems(line: str, top: argparse.ArgumentParser) -> list[str]:
    """A `krkn-tui ...` line as a doc writes it (placeholders, [optional] parts, a|b choices):
    its subcommands must exist and each flag must be one the parser takes there or before it."""
    words = shlex.split(line.split(" #")[0].replace("[", " ").replace("]", " ").replace("|", " "),
                        posix=False)[1:]
    parser, problems = top, []
    actions = {s: a for a in top._actions for s in a.option_strings}
    takes_value = False
    for word in words:
        subs = _subparsers(parser)
        if takes_value:  # the value of the flag before
            takes_value = False
        elif word in subs:
            parser = subs[word]
            actions |= {s: a for a in parser._actions for s in a.option_strings}
        elif word.startswith("-"):
            flag = _FLAG.match(word)
            name = flag.group(1) if flag else word
            if name not in actions:
                problems.append(f"{name} in: {line}")
            else:
                takes_value = actions[name].nargs != 0 and "=" not in word
        elif subs:
            problems.append(f"no subcommand {word!r} in: {line}")
    return problems


def _command_lines(text: str) -> list[str]:
    lines = [token for token in ticked(text) if token.startswith("krkn-tui ")]
    for block in fenced(text, "bash") + fenced(text, "sh"):
        for raw in block.splitlines():
            line = raw.strip().removeprefix("$ ")
            if line.startswith("krkn-tui ") or line.startswith("krkn-tui\t"):
                lines.append(line)
    return lines


def test_every_command_line_in_the_docs_parses():
    top = build_parser()
    lines = [(doc, line) for doc in doc_files() for line in _command_lines(doc.read_text())]
    assert len(lines) >= 20, lines  # the docs' command lines are found at all
    problems = [f"{_rel(doc)}: {p}" for doc, line in lines for p in command_problems(line, top)]
    assert not problems, problems


# Flags of other programs the docs quote (docs/bench.md's are bench's: checked below).
OTHER_PROGRAMS_FLAGS = {"--run-firewall": "kube-router", "--v": "the kubelet", "-i": "iptables", "--comment": "iptables",
                        "--queue-bypass": "iptables (NFQUEUE)", "-toolexec": "go build", "-gcflags": "go build",
                        "-w": "go's linker"}


def test_every_flag_a_doc_names_exists():
    known = _all_options(build_parser())
    problems, seen = [], 0
    for doc in doc_files():
        if doc.name == "bench.md":
            continue
        for token in ticked(prose(doc.read_text())):
            flag = _FLAG.match(token) if token.startswith("-") else None
            if flag:
                seen += 1
                if flag.group(1) not in known and flag.group(1) not in OTHER_PROGRAMS_FLAGS:
                    problems.append(f"{_rel(doc)}: {token}")
    assert seen > 20, seen
    assert not problems, f"flags no parser takes: {problems}"


def test_a_wrong_flag_or_subcommand_is_found():
    top = build_parser()
    assert command_problems("krkn-tui cluster up [--nodes 3] [--demo-profile realistic|fast]", top) == []
    assert command_problems("krkn-tui --context X run -c config.yaml --only 1,3", top) == []
    assert command_problems("krkn-tui run --nodes 3", top) == ["--nodes in: krkn-tui run --nodes 3"]
    assert command_problems("krkn-tui rollbak", top) == ["no subcommand 'rollbak' in: krkn-tui rollbak"]


# -- tables read from the code -------------------------------------------------------------------

def test_the_scenario_table_lists_exactly_the_registered_types():
    from krkn_tui.scenarios import scenario_types

    text = (DOCS / "scenarios.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `") and line.count("|") >= 4]
    listed = [ticked(row.split("|")[1])[0] for row in rows]
    assert sorted(listed) == sorted(scenario_types()), listed


def test_the_bench_table_is_the_reference_run():
    from bench.table import rows

    records = [json.loads(line) for line in (ROOT / "bench" / "results-reference.jsonl").read_text().splitlines()
               if line.strip()]
    text = (DOCS / "bench.md").read_text()
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert table == rows(records)


def test_the_readme_speed_table_is_the_reference_run():
    from bench.table import README_FIGURES, readme_rows

    records = [json.loads(line) for line in (ROOT / "bench" / "results-reference.jsonl").read_text().splitlines()
               if line.strip()]
    names = {r["name"] for r in records}
    assert set(README_FIGURES) <= names, set(README_FIGURES) - names
    section = (ROOT / "README.md").read_text().split("\n## Speed\n", 1)[1].split("\n## ", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("|")]
    assert table == readme_rows(records)


def test_the_bench_flags_and_figures_the_docs_name_exist():
    from bench.__main__ import FIGURES

    helped = subprocess.run([sys.executable, "-m", "bench", "--help"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout
    known = set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", helped))
    assert {"--quick", "--only"} <= known, helped
    problems, seen = [], 0
    for doc in doc_files():
        for token in ticked(doc.read_text()):
            if not token.startswith("python -m bench"):
                continue
            seen += 1
            words = token.split()[3:]
            for i, word in enumerate(words):
                if word.startswith("--") and word not in known:
                    problems.append(f"{_rel(doc)}: {word} in {token}")
                if word == "--only" and i + 1 < len(words) and words[i + 1] not in FIGURES:
                    problems.append(f"{_rel(doc)}: no figure {words[i + 1]} in {token}")
    bench_doc = (DOCS / "bench.md").read_text()
    for token in ticked(prose(bench_doc)):
        if token.startswith("--") and token.split()[0] not in known:
            problems.append(f"docs/bench.md: {token}")
    assert seen, "no `python -m bench` line found"
    assert not problems, problems
