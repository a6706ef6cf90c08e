"""Mon's alert decision logic: which alerts a monitor result calls for.

Theory of operation
-------------------
One :class:`ServiceAlerts` per service keeps the service's status
(``untested`` -> ``ok`` / ``failed``) and, per ``period``, what was sent
during the current failure. :meth:`ServiceAlerts.record` takes one monitor
outcome and the moment it ended and returns a :class:`Verdict`: the alerts
to run now, a status change, a finished downtime. Each period is judged on
its own, in file order, as ``man mon`` ("ALERT DECISION LOGIC") describes:

On a failure, a period sends its ``alert`` lines (those whose ``exit=``
range holds the exit value) when the moment is inside the period and
``throttle.hold_back`` (numalerts, alertevery, alertafter: Mon's rule) lets
it. On a success after a failure, a period sends its ``upalert`` lines if it
sent a down alert during the failure (or has ``no_comp_alerts``) and the
downtime lasted at least ``upalertafter``; then ``throttle.recovered``
resets what the period remembers of the failure.

Pure: the caller passes a :class:`Moment` (monotonic time for intervals, wall
time for reports, local time for periods) and runs the returned calls.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from cluster.mon import throttle
from cluster.mon.outcome import MonitorOutcome
from cluster.mon.specs import AlertSpec, PeriodSpec, ServiceSpec

__all__ = ["AlertCall", "AlertKind", "Downtime", "Moment", "ServiceAlerts", "Status", "Verdict"]


class Status(enum.Enum):
    UNTESTED = "untested"
    OK = "ok"
    FAILED = "failed"


class AlertKind(enum.Enum):
    """MON_ALERTTYPE values."""

    FAILURE = "failure"
    UP = "up"
    STARTUP = "startup"


@dataclass(frozen=True, slots=True)
class Moment:
    mono: float        # monotonic seconds: intervals and suppression
    wall: float        # time(2): what alerts and logs report
    local: datetime    # local time: which periods are in effect


@dataclass(frozen=True, slots=True)
class AlertCall:
    """One alert program to run, with everything Mon passes to it."""

    service: str          # watch/service
    watch: str
    name: str
    kind: AlertKind
    alert: AlertSpec
    period: str
    summary: str
    detail: str
    hosts: tuple[str, ...]
    when: float           # wall time of the failure noticed (-t)
    alertevery: float     # seconds until the next alert may go (-l)
    env: Mapping[str, str]  # MON_* variables

    def argv(self, program: str) -> list[str]:
        """Mon's command line: ``-s svc -g group -h hosts -t time -l secs [-u] args``."""
        argv = [program, "-s", self.name, "-g", self.watch, "-h", " ".join(self.hosts),
                "-t", str(int(self.when)), "-l", str(int(self.alertevery))]  # fmt: skip
        if self.kind is AlertKind.UP:
            argv.append("-u")
        return [*argv, *self.alert.args]

    @property
    def stdin(self) -> str:
        """Summary on the first line, detail after, as alert scripts read it."""
        return f"{self.summary}\n{self.detail}\n" if self.detail else f"{self.summary}\n"


@dataclass(frozen=True, slots=True)
class Downtime:
    """A failure that ended: Mon's downtime log record."""

    service: str
    noticed: float        # wall time the service came back
    first_failure: float  # wall time it began to fail
    downtime: float       # seconds
    interval: float
    summary: str


@dataclass(frozen=True, slots=True)
class Verdict:
    calls: tuple[AlertCall, ...] = ()
    changed: tuple[Status, Status] | None = None  # (old, new) when the status changed
    downtime: Downtime | None = None
    suppressed: tuple[str, ...] = ()              # why periods stayed silent, for debug logs


@dataclass
class ServiceAlerts:
    """Status and alert bookkeeping of one service."""

    spec: ServiceSpec
    status: Status = Status.UNTESTED
    consecutive: int = 0
    first_failure: Moment | None = None
    last_failure: float | None = None   # wall times
    last_success: float | None = None
    last: MonitorOutcome | None = None
    _memos: list[throttle.Memo] = field(default_factory=list)
    _failing: MonitorOutcome | None = None  # the previous run, while failing

    def __post_init__(self) -> None:
        self._memos = [throttle.Memo() for _ in self.spec.periods]

    def startup(self, moment: Moment) -> Verdict:
        """The ``startupalert`` lines of every period in effect, once at start-up."""
        calls = [
            self._call(alert, period, AlertKind.STARTUP, MonitorOutcome(0, "mon started"), moment)
            for period in self.spec.periods if period.period.matches(moment.local)
            for alert in period.startupalerts
        ]  # fmt: skip
        return Verdict(calls=tuple(calls))

    def record(self, outcome: MonitorOutcome, moment: Moment) -> Verdict:
        """One monitor run ended with `outcome` at `moment`: what now?"""
        old = self.status
        verdict = self._failure(outcome, moment) if not outcome.ok else \
            self._success(outcome, moment)
        self.last = outcome
        if self.status is not old:
            return Verdict(verdict.calls, (old, self.status), verdict.downtime, verdict.suppressed)
        return verdict

    # -- failure ------------------------------------------------------------------

    def _failure(self, outcome: MonitorOutcome, moment: Moment) -> Verdict:
        # OK/UNTESTED -> FAILED on the first failing run; FAILED stays FAILED.
        if self.status is not Status.FAILED:
            self.first_failure = moment
            self.consecutive = 0
        self.status = Status.FAILED
        self.consecutive += 1
        self.last_failure = moment.wall
        previous, self._failing = self._failing, outcome
        calls: list[AlertCall] = []
        quiet: list[str] = []
        for index, period in enumerate(self.spec.periods):
            if not period.period.matches(moment.local):
                quiet.append(f"{_name(period)}: outside the period")
                continue
            reason, memo = throttle.hold_back(period, self._memos[index], outcome, previous,
                                              self.consecutive, moment.mono)  # fmt: skip
            chosen = [a for a in period.alerts if a.wants(outcome.retval)]
            if not reason and not chosen:
                reason = f"no alert for exit value {outcome.retval}"
            if reason:
                quiet.append(f"{_name(period)}: {reason}")
            else:
                memo = throttle.alerted(memo, moment.mono)
                calls += [self._call(a, period, AlertKind.FAILURE, outcome, moment) for a in chosen]
            self._memos[index] = memo
        return Verdict(calls=tuple(calls), suppressed=tuple(quiet))

    # -- success ------------------------------------------------------------------

    def _success(self, outcome: MonitorOutcome, moment: Moment) -> Verdict:
        was_failing, first = self.status is Status.FAILED, self.first_failure
        # UNTESTED/FAILED -> OK; OK stays OK.
        self.status = Status.OK
        self.consecutive = 0
        self.last_success = moment.wall
        if not was_failing or first is None:
            return Verdict()
        downtime = moment.mono - first.mono
        calls: list[AlertCall] = []
        for index, period in enumerate(self.spec.periods):
            wanted = self._memos[index].sent > 0 or period.no_comp_alerts
            long_enough = period.upalertafter is None or downtime >= period.upalertafter
            if wanted and long_enough and period.period.matches(moment.local):
                calls += [self._call(a, period, AlertKind.UP, outcome, moment)
                          for a in period.upalerts]  # fmt: skip
            self._memos[index] = throttle.recovered(period, self._memos[index])
        self.first_failure = None
        self._failing = None
        failing = self.last.summary if self.last is not None else ""
        record = Downtime(service=self.spec.key, noticed=moment.wall,
                          first_failure=first.wall, downtime=downtime,
                          interval=self.spec.interval, summary=failing)  # fmt: skip
        return Verdict(calls=tuple(calls), downtime=record)

    def monitor_env(self) -> dict[str, str]:
        """The MON_* variables Mon gives a monitor about its service's past."""
        return {
            "MON_LAST_SUMMARY": self.last.summary if self.last is not None else "",
            "MON_LAST_OUTPUT": self.last.output if self.last is not None else "",
            "MON_LAST_FAILURE": _epoch(self.last_failure),
            "MON_FIRST_FAILURE": _epoch(self.first_failure.wall if self.first_failure else None),
            "MON_LAST_SUCCESS": _epoch(self.last_success),
            "MON_DESCRIPTION": self.spec.description,
            "MON_DEPEND_STATUS": "1",  # no dependencies here: never held back by one
        }

    # -- alert calls --------------------------------------------------------------

    def _call(self, alert: AlertSpec, period: PeriodSpec, kind: AlertKind,
              outcome: MonitorOutcome, moment: Moment) -> AlertCall:  # fmt: skip
        spec = self.spec
        env = self.monitor_env()
        del env["MON_DEPEND_STATUS"]
        env.update({
            "MON_GROUP": spec.watch,
            "MON_SERVICE": spec.name,
            "MON_RETVAL": str(outcome.retval),
            "MON_OPSTATUS": "1" if outcome.ok else "0",
            "MON_ALERTTYPE": kind.value,
        })  # fmt: skip
        return AlertCall(
            service=spec.key, watch=spec.watch, name=spec.name, kind=kind, alert=alert,
            period=_name(period), summary=outcome.summary, detail=outcome.detail,
            hosts=spec.hosts, when=moment.wall, alertevery=period.alertevery or 0.0, env=env,
        )  # fmt: skip


def _name(period: PeriodSpec) -> str:
    return period.label or period.period.text or "(always)"


def _epoch(wall: float | None) -> str:
    return "" if wall is None else str(int(wall))
