import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from krkn_tui.rollback.naming import (
    archive_dir_for,
    new_run_id,
    new_suffix,
    IncreasingNs,
    parse_run_dir_name,
    parse_version_name,
    pending_name,
    run_dir_name,
    version_file_name,
)


def test_time_is_strictly_increasing_even_when_the_clock_stands_still():
    tick = IncreasingNs(clock=lambda: 1_000)
    values = [tick() for _ in range(1000)]
    assert values == sorted(set(values))
    assert len(values) == 1000


def test_time_is_strictly_increasing_when_the_clock_goes_back():
    clock = iter([5_000_000_000_000_000_000, 10, 20, 30])
    tick = IncreasingNs(clock=lambda: next(clock))
    values = [tick() for _ in range(4)]
    assert all(b > a for a, b in zip(values, values[1:]))


def test_suffix_is_eight_lowercase_alphanumerics_and_varies():
    suffixes = {new_suffix() for _ in range(200)}
    assert all(re.fullmatch(r"[a-z0-9]{8}", s) for s in suffixes)
    assert len(suffixes) > 190


def test_version_name_round_trip_with_underscores_in_the_type():
    name = version_file_name("application_outages_scenarios", 1755523353558511000, "kestermi")
    assert name == "application_outages_scenarios_1755523353558511000_kestermi.py"
    assert parse_version_name(name) == (
        "application_outages_scenarios",
        1755523353558511000,
        "kestermi",
        "pending",
    )
    assert parse_version_name(name + ".executed") == (
        "application_outages_scenarios",
        1755523353558511000,
        "kestermi",
        "executed",
    )


@pytest.mark.parametrize(
    "name",
    [
        "pod_scenarios_123_abcdefgh.py.failed",
        ".krkn-tui-manifest.jsonl",
        ".tmp-pod_scenarios_123_abcdefgh.py-1-abcd",
        "pod_scenarios_123_abcdefg.py",  # 7-char suffix
        "pod_scenarios_123_abcdefgh.pyc",
        "pod_scenarios_abc_abcdefgh.py",
        "_123_abcdefgh.py",
        "pod_scenarios_١٢٣_abcdefgh.py",  # non-ASCII digits
        "pod_scenarios_" + "1" * 5000 + "_abcdefgh.py",  # beyond int()'s digit limit
    ],
)
def test_non_version_names_are_none(name):
    assert parse_version_name(name) is None


@pytest.mark.parametrize("bad", ["", "a/b", "..", "../x", "a b", "ü", "-x"])
def test_scenario_type_that_cannot_be_a_file_name_is_rejected(bad):
    with pytest.raises(ValueError):
        version_file_name(bad, 1, "abcdefgh")


def test_run_dir_names():
    run_id = new_run_id()
    time_ns, run_uuid = parse_run_dir_name(run_id)
    assert run_dir_name(time_ns, run_uuid) == run_id
    assert re.fullmatch(r"[0-9a-f-]{36}", run_uuid)
    assert parse_run_dir_name("1755523261039221000-0ddd9f07-bcd8-47bc-bf89-f9c4f2503ead") == (
        1755523261039221000,
        "0ddd9f07-bcd8-47bc-bf89-f9c4f2503ead",
    )
    assert parse_run_dir_name("logs") is None
    assert parse_run_dir_name("123-") is None
    assert parse_run_dir_name("123-a/b") is None
    with pytest.raises(ValueError):
        new_run_id("../escape")


def test_pending_name_and_archive_dir():
    assert pending_name("a_1_abcdefgh.py.executed") == "a_1_abcdefgh.py"
    assert pending_name("a_1_abcdefgh.py") == "a_1_abcdefgh.py"
    assert archive_dir_for(Path("/x/.krkn/rollback")) == Path("/x/.krkn/rollback-archive")
    assert archive_dir_for(Path("/x/.krkn/rollback/")) == Path("/x/.krkn/rollback-archive")


@given(st.text(max_size=300))
def test_parse_version_name_never_raises_and_round_trips(name):
    parsed = parse_version_name(name)
    if parsed is not None:
        scenario_type, time_ns, suffix, state = parsed
        rebuilt = version_file_name(scenario_type, time_ns, suffix)
        assert parse_version_name(rebuilt)[:3] == parsed[:3]
        assert state in ("pending", "executed")
        assert name.startswith(f"{scenario_type}_")


@given(st.text(max_size=200))
def test_parse_run_dir_name_never_raises(name):
    parsed = parse_run_dir_name(name)
    assert parsed is None or run_dir_name(*parsed).lstrip("0") == name.lstrip("0")


@given(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,40}", fullmatch=True),
    st.integers(min_value=0, max_value=10**25),
    st.from_regex(r"[a-z0-9]{8}", fullmatch=True),
)
def test_any_generated_name_parses_back(scenario_type, time_ns, suffix):
    name = version_file_name(scenario_type, time_ns, suffix)
    assert parse_version_name(name) == (scenario_type, time_ns, suffix, "pending")


def test_a_run_is_named_by_its_id_its_uuid_or_a_prefix_shared_by_one_run():
    from krkn_tui.errors import UserError
    from krkn_tui.rollback.naming import resolve_run

    ids = {"100-abcd1234", "200-abff0000", "not-a-run-dir"}
    assert resolve_run("abcd1234", ids) == {"100-abcd1234"}
    assert resolve_run("100-abcd1234", ids) == {"100-abcd1234"}
    assert resolve_run("abc", ids) == {"100-abcd1234"}
    assert resolve_run("20", ids) == {"200-abff0000"}
    assert resolve_run("zz", ids) == set()
    with pytest.raises(UserError, match="ambiguous: 100-abcd1234, 200-abff0000"):
        resolve_run("ab", ids)
