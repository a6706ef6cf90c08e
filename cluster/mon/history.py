"""What happened to each service: a bounded history and the downtime log.

Role: :class:`ServiceLog` keeps, per service, the last ``histlength``
events (status changes, alerts sent, alerts that failed or were given up)
and the last ``histlength`` finished downtimes, plus counters for the status
query. :func:`dtlog_line` formats a downtime the way Mon's ``dtlogfile``
holds it, one record a line::

    timenoticed group service firstfail downtime interval summary

(times are time(2) values, durations whole seconds). Pure: the daemon
appends the lines to the file.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from cluster.mon.alerts import Downtime

__all__ = ["DTLOG_HEADER", "Event", "ServiceLog", "dtlog_line"]

DTLOG_HEADER = "# timenoticed group service firstfail downtime interval summary\n"


@dataclass(frozen=True, slots=True)
class Event:
    """One history entry. ``kind``: failure, ok, alert, upalert, startupalert,
    alert-retry, alert-lost."""

    when: float  # wall time
    kind: str
    summary: str


@dataclass
class ServiceLog:
    histlength: int
    runs: int = 0
    failures: int = 0
    alerts_sent: int = 0
    alerts_failed: int = 0
    alerts_lost: int = 0
    last_check: float | None = None
    events: deque[Event] = field(init=False)
    downtimes: deque[Downtime] = field(init=False)

    def __post_init__(self) -> None:
        self.events = deque(maxlen=self.histlength)
        self.downtimes = deque(maxlen=self.histlength)

    def checked(self, when: float, *, ok: bool) -> None:
        self.runs += 1
        self.last_check = when
        if not ok:
            self.failures += 1

    def add(self, when: float, kind: str, summary: str) -> None:
        self.events.append(Event(when, kind, summary))

    def alert_sent(self, when: float, kind: str, summary: str) -> None:
        self.alerts_sent += 1
        self.add(when, kind, summary)

    def alert_failed(self, when: float, summary: str, *, lost: bool) -> None:
        if lost:
            self.alerts_lost += 1
            self.add(when, "alert-lost", summary)
        else:
            self.alerts_failed += 1
            self.add(when, "alert-retry", summary)

    def ended(self, downtime: Downtime) -> None:
        self.downtimes.append(downtime)


def dtlog_line(watch: str, service: str, downtime: Downtime) -> str:
    """One record of Mon's downtime log, newline included."""
    summary = " ".join(downtime.summary.split())  # one line, whatever the monitor printed
    return (f"{int(downtime.noticed)} {watch} {service} {int(downtime.first_failure)} "
            f"{round(downtime.downtime)} {round(downtime.interval)} {summary}\n")
