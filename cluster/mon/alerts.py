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
range holds the exit value) unless

1. the moment is outside the period;
2. ``alertafter`` is not yet met: ``N`` consecutive failures; ``N T``: N
   failures within the last T; ``T``: failing for at least T;
3. ``numalerts`` alerts were already sent during this failure;
4. an alert went out less than ``alertevery`` ago and the summary equals
   the previous run's (``observe_detail``: summary and detail); with
   ``strict`` the output does not matter at all.

On a success after a failure, a period sends its ``upalert`` lines if it
sent a down alert during the failure (or has ``no_comp_alerts``) and the
downtime lasted at least ``upalertafter``. Then the period's failure state
resets; the ``alertevery`` clock survives only with ``strict``.

Pure: the caller passes a :class:`Moment` (monotonic time for intervals, wall
time for reports, local time for periods) and runs the returned calls.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

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
class _PeriodState:
    last_alert: float | None = None  # monotonic time of the last down alert
    sent: int = 0                    # down alerts during this failure (numalerts)
    down_sent: bool = False          # an upalert needs a down alert first


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
    _periods: list[_PeriodState] = field(default_factory=list)
    _failures: deque[float] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self._periods = [_PeriodState() for _ in self.spec.periods]
        counts = [p.alertafter.count or 1 for p in self.spec.periods if p.alertafter]
        self._failures = deque(maxlen=max(counts, default=1))

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
        previous, old = self.last, self.status
        verdict = self._failure(outcome, previous, moment) if not outcome.ok else \
            self._success(outcome, moment)
        self.last = outcome
        if self.status is not old:
            return Verdict(verdict.calls, (old, self.status), verdict.downtime, verdict.suppressed)
        return verdict

    # -- failure ------------------------------------------------------------------

    def _failure(self, outcome: MonitorOutcome, previous: MonitorOutcome | None,
                 moment: Moment) -> Verdict:  # fmt: skip
        # OK/UNTESTED -> FAILED on the first failing run; FAILED stays FAILED.
        if self.status is not Status.FAILED:
            self.first_failure = moment
            self.consecutive = 0
        self.status = Status.FAILED
        self.consecutive += 1
        self.last_failure = moment.wall
        self._failures.append(moment.mono)
        calls: list[AlertCall] = []
        quiet: list[str] = []
        for period, state in zip(self.spec.periods, self._periods, strict=True):
            reason = self._hold_back(period, state, outcome, previous, moment)
            if reason:
                quiet.append(f"{_name(period)}: {reason}")
                continue
            chosen = [a for a in period.alerts if a.wants(outcome.retval)]
            if not chosen:
                quiet.append(f"{_name(period)}: no alert for exit value {outcome.retval}")
                continue
            state.last_alert, state.sent, state.down_sent = moment.mono, state.sent + 1, True
            calls += [self._call(a, period, AlertKind.FAILURE, outcome, moment) for a in chosen]
        return Verdict(calls=tuple(calls), suppressed=tuple(quiet))

    def _hold_back(self, period: PeriodSpec, state: _PeriodState, outcome: MonitorOutcome,
                   previous: MonitorOutcome | None, moment: Moment) -> str:  # fmt: skip
        """Why `period` sends nothing for this failure ("" when it alerts)."""
        if not period.period.matches(moment.local):
            return "outside the period"
        after = period.alertafter
        assert self.first_failure is not None
        if after is not None:
            if after.count is not None and after.within is not None:
                recent = sum(1 for t in self._failures if moment.mono - t <= after.within)
                if recent < after.count:
                    return f"alertafter: {recent} of {after.count} within {after.within:g} s"
            elif after.count is not None and self.consecutive < after.count:
                return f"alertafter: {self.consecutive} of {after.count} failures"
            elif after.within is not None and moment.mono - self.first_failure.mono < after.within:
                return f"alertafter: failing for less than {after.within:g} s"
        if period.numalerts is not None and state.sent >= period.numalerts:
            return f"numalerts: {state.sent} alerts already sent"
        last = state.last_alert
        if (period.alertevery is not None and last is not None
                and moment.mono - last < period.alertevery
                and (period.alertevery_mode == "strict" or not _changed(period, outcome, previous))
                ):  # fmt: skip
            return f"alertevery: last alert {moment.mono - last:.1f} s ago"
        return ""

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
        for period, state in zip(self.spec.periods, self._periods, strict=True):
            wanted = state.down_sent or period.no_comp_alerts
            long_enough = period.upalertafter is None or downtime >= period.upalertafter
            if wanted and long_enough and period.period.matches(moment.local):
                calls += [self._call(a, period, AlertKind.UP, outcome, moment)
                          for a in period.upalerts]  # fmt: skip
            state.sent, state.down_sent = 0, False
            if period.alertevery_mode != "strict":
                state.last_alert = None
        self.first_failure = None
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


def _changed(period: PeriodSpec, outcome: MonitorOutcome, previous: MonitorOutcome | None) -> bool:
    if previous is None:
        return True
    if outcome.summary != previous.summary:
        return True
    return period.alertevery_mode == "observe_detail" and outcome.detail != previous.detail


def _name(period: PeriodSpec) -> str:
    return period.label or period.period.text or "(always)"


def _epoch(wall: float | None) -> str:
    return "" if wall is None else str(int(wall))
