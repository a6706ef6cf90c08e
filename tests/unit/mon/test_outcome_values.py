"""Monitor outcomes (Mon's output contract) and mon.cf value converters."""

from __future__ import annotations

import pytest

from cluster.mon import values
from cluster.mon.outcome import HostResult, MonitorOutcome, host_report


def test_first_line_is_the_summary_the_rest_is_detail() -> None:
    outcome = MonitorOutcome.from_output(1, "h1 h2\n\nstart time: x\n")
    assert (outcome.summary, outcome.detail, outcome.ok) == ("h1 h2", "\nstart time: x", False)
    assert outcome.output == "h1 h2\n\nstart time: x"
    assert MonitorOutcome.from_output(0, "").ok
    timeout = MonitorOutcome.timeout(2.5, "partial\n")
    assert timeout.timed_out and not timeout.ok and timeout.detail == "partial"


def test_host_report_names_the_failing_hosts() -> None:
    results = [HostResult("b", False, note="refused"), HostResult("a", True, 1.5)]
    report = host_report(results, what="TCP connect")
    assert (report.retval, report.summary) == (1, "b")
    assert report.detail.splitlines()[0] == "TCP connect failed:"
    assert host_report([HostResult("a", True)], what="x").retval == 0


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30.0), ("5m", 300.0), ("1.5h", 5400.0),
                                               ("1d", 86400.0), (".5s", 0.5)])  # fmt: skip
def test_timevals(text: str, seconds: float) -> None:
    assert values.timeval(text) == seconds


@pytest.mark.parametrize("text", ["30", "s", "5 m", "-1s", "1w", "0s", ""])
def test_bad_timevals(text: str) -> None:
    with pytest.raises(values.BadValue):
        values.timeval(text)


def test_other_converters() -> None:
    assert values.timeval("0s", allow_zero=True) == 0.0
    assert values.format_timeval(3600.0) == "1h" and values.format_timeval(90.0) == "90s"
    assert values.format_timeval(1.5) == "1.5s" and values.format_timeval(120.0) == "2m"
    assert values.exit_range("exit=3") == (3, 3) and values.exit_range("mail") is None
    assert values.yes_no("Yes") and not values.yes_no("off")
    assert values.split_words("a 'b c' d") == ["a", "b c", "d"]
    with pytest.raises(values.BadValue):
        values.hostname("-rf")
    with pytest.raises(values.BadValue):
        values.count("1.5")
