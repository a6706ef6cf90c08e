"""bench.stalls: the host's own stalls, as a sleeper sees them."""

from __future__ import annotations

from bench.false_failovers import Alarms
from bench.stalls import BOUNDS, Stalls, sleep_and_measure


def test_a_short_sleeper_run_counts_every_wakeup() -> None:
    stalls = sleep_and_measure(0.05, 0.01)
    assert 1 <= stalls.wakeups <= 6  # fewer when the box stalled it
    assert len(stalls.late) == len(BOUNDS)
    assert all(a >= b for a, b in zip(stalls.late, stalls.late[1:], strict=False))
    assert stalls.worst >= 0.0


def test_summaries_read_as_the_table_columns_say() -> None:
    assert Stalls(100, (7, 3, 1), 0.0234, 5.0).summary() == "7/3/1 (max 23.4 ms)"
    alarms = Alarms(dead=3, group_starts=1, late=9, traced=(2, 1, 0, 4, 11))
    assert alarms.causes() == "2 / 1 / 0"
    assert alarms.stalls() == "4 / 11"
