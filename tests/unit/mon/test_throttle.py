"""Mon's rule for holding down alerts back, one check at a time (pure, no clock)."""

from __future__ import annotations

import pytest

from cluster.mon.outcome import MonitorOutcome
from cluster.mon.specs import PeriodSpec
from cluster.mon.throttle import Memo, alerted, hold_back, recovered

from .monkit import one_service

DOWN = MonitorOutcome(1, "10.0.0.2", "start time: 10:00:00")
LATER = MonitorOutcome(1, "10.0.0.2", "start time: 10:00:05")
OTHER = MonitorOutcome(1, "10.0.0.1 10.0.0.2", "start time: 10:00:05")
OK = MonitorOutcome(0, "")


def period(lines: str, interval: str = "1s") -> PeriodSpec:
    text = (f"watch h\n service s\n  interval {interval}\n  monitor icmp\n  period\n"
            f"   alert mail a@b\n{lines}")  # fmt: skip
    return one_service(text).periods[0]


def alerts_at(spec: PeriodSpec, runs: list[tuple[float, MonitorOutcome]]) -> list[float]:
    """Drive the rule like ServiceAlerts does; the times a down alert went out."""
    memo, previous, consecutive, sent = Memo(), None, 0, []
    for now, outcome in runs:
        if outcome.ok:
            memo, previous, consecutive = recovered(spec, memo), None, 0
            continue
        consecutive += 1
        reason, memo = hold_back(spec, memo, outcome, previous, consecutive, now)
        if not reason:
            memo = alerted(memo, now)
            sent.append(now)
        previous = outcome
    return sent


def test_alertevery_counts_whole_seconds_like_mon() -> None:
    # The case: runs 2.49 s apart (fping with retries), alertevery 5s;
    # the second failing run after the alert is the one Mon alerts on.
    spec = period("   alertevery 5s\n")
    assert alerts_at(spec, [(0.0, DOWN), (2.49, DOWN), (4.98, DOWN), (7.47, DOWN)]) == [0.0, 4.98]
    # Less than four and a half seconds is not five.
    assert alerts_at(spec, [(0.0, DOWN), (4.4, DOWN), (8.8, DOWN)]) == [0.0, 8.8]


def test_alertevery_repeats_an_unchanged_summary_once_per_interval() -> None:
    spec = period("   alertevery 5s\n")
    assert alerts_at(spec, [(t, DOWN) for t in range(12)]) == [0, 5, 10]


@pytest.mark.parametrize("option", ["", " summary"])
def test_alertevery_compares_the_summary_line_only(option: str) -> None:
    spec = period(f"   alertevery 1h{option}\n")
    assert alerts_at(spec, [(0, DOWN), (1, LATER), (2, OTHER), (3, OTHER), (4, DOWN)]) == [0, 2, 4]


def test_alertevery_observe_detail_compares_the_whole_output() -> None:
    spec = period("   alertevery 1h observe_detail\n")
    assert alerts_at(spec, [(0, DOWN), (1, DOWN), (2, LATER), (3, LATER)]) == [0, 2]


def test_alertevery_ignore_summary_holds_back_new_output_until_a_success() -> None:
    spec = period("   alertevery 1h ignore_summary\n")
    assert alerts_at(spec, [(0, DOWN), (1, OTHER), (2, OK), (3, OTHER), (4, DOWN)]) == [0, 3]


def test_alertevery_strict_ignores_output_and_success() -> None:
    spec = period("   alertevery 1h strict\n")
    runs = [(0, DOWN), (1, OTHER), (2, OK), (3, OTHER), (3599, DOWN), (3600, DOWN)]
    assert alerts_at(spec, runs) == [0, 3600]


def test_a_success_restarts_the_alertevery_clock() -> None:
    spec = period("   alertevery 1h\n")
    assert alerts_at(spec, [(0, DOWN), (1, DOWN), (2, OK), (3, DOWN), (4, DOWN)]) == [0, 3]


def test_alertafter_n_consecutive_failures() -> None:
    spec = period("   alertafter 3\n")
    assert alerts_at(spec, [(0, DOWN), (1, DOWN), (2, OK), (3, DOWN), (4, DOWN), (5, DOWN)]) == [5]


def test_alertafter_timeval_counts_from_the_first_failure_it_saw() -> None:
    spec = period("   alertafter 3s\n")
    assert alerts_at(spec, [(t, DOWN) for t in range(6)]) == [4, 5]
    assert alerts_at(spec, [(0, DOWN), (2, DOWN), (3, OK), (4, DOWN), (7, DOWN), (8, DOWN)]) == [8]


def test_alertafter_n_timeval_counts_failures_in_a_window() -> None:
    spec = period("   alertafter 2 5s\n")
    # window [0, 5]: 2 failures -> alert; later failures in it alert too.
    assert alerts_at(spec, [(0, DOWN), (3, DOWN), (4, DOWN)]) == [3, 4]
    # 0 and 6 are in different windows; 6 and 8 share one.
    assert alerts_at(spec, [(0, DOWN), (6, DOWN), (8, DOWN)]) == [8]


def test_numalerts_comes_before_alertevery_and_alertevery_before_alertafter() -> None:
    capped = period("   numalerts 1\n")
    assert alerts_at(capped, [(0, DOWN), (1, OTHER), (2, OK), (3, DOWN)]) == [0, 3]
    # A failure held back by alertevery is not counted by alertafter N T.
    spec = period("   alertevery 1h strict\n   alertafter 2 1m\n")
    memo = Memo(last_alert=0.0)
    reason, after = hold_back(spec, memo, DOWN, None, 1, 10.0)
    assert reason.startswith("alertevery") and after == memo
    reason, after = hold_back(spec, Memo(), DOWN, None, 1, 10.0)
    assert reason == "alertafter: 1 of 2 failures within 60 s"
    assert after == Memo(window=10.0, failcount=1)
