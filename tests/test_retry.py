"""The one retry-until-deadline loop (rollback.retry.retry_until), on plain callables with an
injected clock: the executor, the guard and the reachability check all retry through it."""

import pytest

from krkn_tui.rollback.retry import GaveUp, retry_until


class Flaky(Exception):
    pass


def _clock():
    now = [0.0]
    return now, (lambda: now[0]), (lambda s: now.__setitem__(0, now[0] + s))


def test_transient_failures_are_retried_with_backoff_until_the_call_succeeds():
    now, clock, sleep = _clock()
    calls, seen = [], []

    def call():
        calls.append(now[0])
        if len(calls) < 4:
            raise Flaky("down")
        return "up"

    value, attempts = retry_until(call, 60, transient=lambda e: isinstance(e, Flaky),
                                  on_retry=lambda n, e, d: seen.append((n, str(e), d)), sleep=sleep, clock=clock)
    assert (value, attempts) == ("up", 4)
    assert seen == [(1, "down", 0.2), (2, "down", 0.4), (3, "down", 0.8)]


def test_the_deadline_and_a_failure_not_worth_retrying_end_it_with_the_last_failure():
    now, clock, sleep = _clock()

    def down():
        raise Flaky("down")

    with pytest.raises(GaveUp) as stop:
        retry_until(down, 1.0, transient=lambda e: True, sleep=sleep, clock=clock)
    assert stop.value.timed_out and stop.value.attempts == 3 and isinstance(stop.value.cause, Flaky)

    with pytest.raises(GaveUp) as stop:
        retry_until(down, 60, transient=lambda e: False, sleep=sleep, clock=clock)
    assert not stop.value.timed_out and stop.value.attempts == 1

    with pytest.raises(GaveUp) as stop:  # no time at all: one attempt
        retry_until(down, 0, transient=lambda e: True, sleep=sleep, clock=clock)
    assert stop.value.timed_out and stop.value.attempts == 1
