"""The reopen schedule of a failed medium: 1 s doubling to 30 s, reset once settled."""

from __future__ import annotations

import pytest

from cluster.hbcomm.backoff import Backoff, BackoffPolicy


def delays(backoff: Backoff, count: int, start: float = 100.0) -> list[float]:
    """`count` failures in a row (every reopen fails at once): the delays asked for."""
    out, now = [], start
    for _ in range(count):
        retry = backoff.failed(now)
        out.append(retry - now)
        now = retry
    return out


def test_delays_double_from_one_second_and_stop_at_thirty() -> None:
    assert delays(Backoff(), 9) == [1, 2, 4, 8, 16, 30, 30, 30, 30]


def test_a_medium_failing_for_weeks_stays_at_the_limit() -> None:
    backoff = Backoff()
    delays(backoff, 2000)
    assert backoff.failed(1e9) == 1e9 + 30


def test_a_settled_medium_starts_again_from_one_second() -> None:
    backoff = Backoff()
    delays(backoff, 5)
    backoff.opened(200.0)
    assert backoff.failed(230.0) == 231.0
    assert backoff.attempts == 1


def test_a_medium_that_fails_right_after_reopening_keeps_backing_off() -> None:
    backoff = Backoff()
    assert delays(backoff, 3) == [1, 2, 4]
    backoff.opened(200.0)
    assert backoff.failed(200.5) == 208.5
    backoff.opened(208.5)
    assert backoff.failed(209.0) == 225.0


def test_a_medium_open_since_start_fails_first_with_one_second() -> None:
    backoff = Backoff()
    backoff.opened(0.0)
    assert backoff.failed(5.0) == 6.0


@pytest.mark.parametrize(("first", "limit", "settle"), [(0, 30, 30), (31, 30, 30), (1, 30, -1)])
def test_a_nonsense_policy_is_refused(first: float, limit: float, settle: float) -> None:
    with pytest.raises(ValueError):
        BackoffPolicy(first, limit, settle)
