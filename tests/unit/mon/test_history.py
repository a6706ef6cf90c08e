"""Per-service history and the downtime log's line format."""

from __future__ import annotations

from cluster.mon.alerts import Downtime
from cluster.mon.history import ServiceLog, dtlog_line


def test_history_is_bounded_and_counts_what_happened() -> None:
    log = ServiceLog(histlength=3)
    for when in range(5):
        log.add(float(when), "failure", f"run {when}")
    assert [e.summary for e in log.events] == ["run 2", "run 3", "run 4"]
    log.checked(10.0, ok=False)
    log.checked(11.0, ok=True)
    log.alert_sent(12.0, "alert", "down")
    log.alert_failed(13.0, "mail: refused", lost=False)
    log.alert_failed(14.0, "mail: gave up", lost=True)
    assert (log.runs, log.failures, log.last_check) == (2, 1, 11.0)
    assert (log.alerts_sent, log.alerts_failed, log.alerts_lost) == (1, 1, 1)
    assert [e.kind for e in log.events] == ["alert", "alert-retry", "alert-lost"]


def test_downtimes_are_bounded_and_logged_in_mons_format() -> None:
    log = ServiceLog(histlength=2)
    downs = [Downtime("g/s", 100.0 + i, 90.0, 10.4 + i, 30.0, "a\n b") for i in range(3)]
    for down in downs:
        log.ended(down)
    assert list(log.downtimes) == downs[1:]
    assert dtlog_line("g", "s", downs[0]) == "100 g s 90 10 30 a b\n"
