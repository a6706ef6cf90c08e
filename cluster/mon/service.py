"""The cluster-mon daemon: scheduler, monitors, alerts and the bus, on one loop.

Flow: a loop timer wakes :meth:`MonService._tick` at the next moment
anything is due. It kills overdue monitors (reported as failed runs),
starts due ones through the :class:`~cluster.mon.runs.Launcher` (child
processes count against ``maxprocs``), and hands due alert deliveries to
alert scripts (child processes) or to the built-in mailer (worker threads,
``mailer.py``). A finished run goes to :meth:`_finished`: the scheduler
learns when to run next, :class:`~cluster.mon.alerts.ServiceAlerts` decides
which alerts it calls for, they enter the :class:`~cluster.mon.outbox.Outbox`
and are run, retried with backoff when they fail, and given up loudly
after the last attempt. Status changes are logged, kept in each service's
history, published on ``mon.pub`` (topic ``service``) and, for finished
downtimes, appended to the ``dtlogfile``. ``GetMonStatus`` on ``mon.ctl``
answers from the same state (``status.py`` builds the reply).

Nothing here blocks: processes, pipes, the ICMP socket, crmd requests,
finished mails and SIGCHLD all arrive through the loop, and results only
:meth:`_kick` the next tick, so no decision is taken inside another.
SIGTERM ends the daemon: running monitors and alerts are killed and alerts
still queued are logged as lost.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import zmq

from cluster.bus import endpoints
from cluster.bus.loop import Loop, Timer
from cluster.bus.messages.common import ErrorResult
from cluster.bus.messages.mon import DAEMON, GetMonStatus, MonServiceChanged, MonStatusResult
from cluster.bus.server import ControlServer, Handler, Publisher
from cluster.mon import status
from cluster.mon.alerts import AlertKind, Moment, ServiceAlerts, Verdict
from cluster.mon.history import DTLOG_HEADER, ServiceLog, dtlog_line
from cluster.mon.mailer import Mailer
from cluster.mon.outbox import Delivery, GaveUp, Outbox
from cluster.mon.outcome import MonitorOutcome
from cluster.mon.processes import ProcessResult, Runner
from cluster.mon.runs import Launcher, MonitorRun
from cluster.mon.schedule import Scheduler
from cluster.mon.specs import MonConfig, ServiceSpec

__all__ = ["MonService", "ServiceOptions"]

log = logging.getLogger(__name__)

# An alert program (mail.alert, our mail) that has not finished within this
# is killed and retried; the built-in mail gives its SMTP exchange less.
ALERT_TIMEOUT = 60.0
# Exits are noticed on SIGCHLD; while children run we also look this often,
# so a lost signal can never leave a service "running" forever.
_CHILD_POLL = 1.0
_KIND_WORD = {AlertKind.FAILURE: "alert", AlertKind.UP: "upalert",
              AlertKind.STARTUP: "startupalert"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ServiceOptions:
    node: str
    run_dir: Path | None  # None: no control socket (status queries unavailable)


class MonService:
    """One cluster-mon daemon over `config`."""

    def __init__(self, config: MonConfig, options: ServiceOptions, loop: Loop,
                 ctx: zmq.Context[Any] | None) -> None:  # fmt: skip
        self.config = config
        self.options = options
        self.loop = loop
        self.started_wall = time.time()
        self.runner = Runner(loop)
        self.launcher = Launcher(loop, self.runner, options.run_dir or Path("."), ctx)
        self.outbox = Outbox()
        self.mailer = Mailer(loop, config.smtp, ALERT_TIMEOUT)
        self.alerts = {s.key: ServiceAlerts(s) for s in config.services}
        self.logs = {s.key: ServiceLog(config.histlength) for s in config.services}
        self.runs: dict[str, MonitorRun] = {}
        self.scheduler = self._scheduler(config)
        self._timer: Timer | None = None
        self._server: ControlServer | None = None
        self._publisher: Publisher | None = None
        if ctx is not None and options.run_dir is not None:
            handlers: dict[type, Handler] = {GetMonStatus: self._get_status}
            self._server = ControlServer(ctx, loop, options.run_dir, DAEMON, handlers,
                                         loop.clock())  # fmt: skip
            self._publisher = Publisher(ctx, loop, options.run_dir, DAEMON)
        moment = self._moment()
        for tracker in self.alerts.values():
            self._submit(tracker.startup(moment), moment)
        self._tick()

    def reload(self, config: MonConfig) -> None:
        """SIGHUP with a mon.cf that loaded cleanly: run `config` from now on.
        A service whose definition did not change keeps its status, alert
        bookkeeping and history; new and changed ones start untested. Running
        monitors are stopped and every service runs again one interval (or
        ``randstart``) from now, as after a start; queued alerts still go out."""
        for key, run in list(self.runs.items()):
            run.cancel()
            log.info("monitor of %s stopped (reloading the configuration)", key)
        self.runs.clear()
        old_alerts, old_logs = self.alerts, self.logs
        self.alerts, self.logs = {}, {}
        for spec in config.services:
            kept = old_alerts.get(spec.key)
            same = kept is not None and kept.spec == spec
            self.alerts[spec.key] = kept if kept is not None and same else ServiceAlerts(spec)
            record = old_logs.get(spec.key)
            self.logs[spec.key] = record if record is not None and same else \
                ServiceLog(config.histlength)  # fmt: skip
            if kept is None:
                log.info("service %s added", spec.key)
            elif not same:
                log.info("service %s changed: starts again untested", spec.key)
        queued = {delivery.call.service for delivery in self.outbox.pending()}
        for key in old_alerts.keys() - self.alerts.keys():
            log.info("service %s removed", key)
            if key in queued:  # its alerts still go out and are recorded
                self.alerts[key], self.logs[key] = old_alerts[key], old_logs[key]
        self.config = config
        self.mailer.configure(config.smtp)
        self.scheduler = self._scheduler(config)
        self._kick()

    def _scheduler(self, config: MonConfig) -> Scheduler:
        rng = random.Random()
        first = (lambda _s: rng.uniform(0, config.randstart)) if config.randstart else None
        return Scheduler(config.services, self.loop.clock(), first)

    # -- scheduling -----------------------------------------------------------------

    def _tick(self) -> None:
        """Kill overdue monitors, start due ones, hand out due alerts, re-arm.
        Runs from the loop's timer (and once at start-up); results call
        :meth:`_kick`, never this."""
        self._timer = None
        try:
            now = self.loop.clock()
            self.runner.reap()  # cheap insurance against a coalesced SIGCHLD
            for key in self.scheduler.overdue(now):
                self._timed_out(key)
            for key in self.scheduler.due(now):
                spec = self.alerts[key].spec
                if not Launcher.in_process(spec) and not self._has_room():
                    continue  # maxprocs: waits for a process to finish
                self._start(spec)
            self._pump()
        finally:
            self._rearm()

    def _kick(self) -> None:
        """Something changed: tick on the loop's next pass."""
        now = self.loop.clock()
        if self._timer is not None and self._timer.when <= now:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_at(now, self._tick)

    def _rearm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        # Services waiting for a free process slot are woken by a finishing process.
        waiting = [] if self._has_room() else [
            key for key in self.scheduler.due(self.loop.clock())
            if not Launcher.in_process(self.alerts[key].spec)
        ]  # fmt: skip
        wake = min(self.scheduler.next_deadline(skip=waiting),
                   self.outbox.next_deadline() if self._has_room() else math.inf)  # fmt: skip
        if len(self.runner):
            wake = min(wake, self.loop.clock() + _CHILD_POLL)
        if wake < math.inf:
            self._timer = self.loop.call_at(wake, self._tick)

    def _has_room(self) -> bool:
        return not self.config.maxprocs or len(self.runner) < self.config.maxprocs

    def _start(self, spec: ServiceSpec) -> None:
        key = spec.key
        self.scheduler.start(key, self.loop.clock())
        env = {**os.environ, **self.alerts[key].monitor_env(), **self._dirs_env(), **dict(spec.env)}
        try:
            self.runs[key] = self.launcher.start(spec, env, lambda o: self._finished(key, o))
        except (OSError, ValueError) as err:
            log.error("monitor of %s could not start: %s", key, err)
            failed = MonitorOutcome.error(f"monitor could not start: {err}")
            # Reported from the loop like every other outcome, never from inside _tick.
            self.loop.call_later(0, lambda: self._finished(key, failed))
            return
        log.debug("monitor of %s started", key)

    def _timed_out(self, key: str) -> None:
        run = self.runs.pop(key, None)
        partial = run.cancel() if run is not None else ""
        spec = self.alerts[key].spec
        log.error("monitor of %s did not finish within %.1f s; killed", key, spec.timeout)
        self._finished(key, MonitorOutcome.timeout(spec.timeout, partial))

    # -- results --------------------------------------------------------------------

    def _finished(self, key: str, outcome: MonitorOutcome) -> None:
        self.runs.pop(key, None)
        moment = self._moment()
        self.scheduler.finish(key, moment.mono, failed=not outcome.ok)
        tracker, record = self.alerts[key], self.logs[key]
        verdict = tracker.record(outcome, moment)
        record.checked(moment.wall, ok=outcome.ok)
        self._report(key, outcome, verdict, moment)
        self._submit(verdict, moment)
        self._kick()

    def _report(self, key: str, outcome: MonitorOutcome, verdict: Verdict, moment: Moment) -> None:
        record, spec = self.logs[key], self.alerts[key].spec
        for reason in verdict.suppressed:
            log.debug("service %s: no alert from period %s", key, reason)
        if verdict.changed is not None:
            old, new = verdict.changed
            level = logging.WARNING if not outcome.ok else logging.INFO
            log.log(level, "service %s: %s -> %s (exit %d): %s", key, old.value, new.value,
                    outcome.retval, outcome.summary or "-")  # fmt: skip
            record.add(moment.wall, "ok" if outcome.ok else "failure", outcome.summary)
            if self._publisher is not None:
                self._publisher.publish("service", MonServiceChanged(
                    watch=spec.watch, service=spec.name, status=new.value,
                    previous=old.value, summary=outcome.summary, when=moment.wall))  # fmt: skip
        if verdict.downtime is not None:
            record.ended(verdict.downtime)
            self._write_dtlog(spec, verdict)

    def _write_dtlog(self, spec: ServiceSpec, verdict: Verdict) -> None:
        path = self.config.downtime_log
        if path is None or verdict.downtime is None:
            return
        try:
            new = not os.path.exists(path)
            with open(path, "a", encoding="utf-8") as handle:
                handle.write((DTLOG_HEADER if new else "") +
                             dtlog_line(spec.watch, spec.name, verdict.downtime))  # fmt: skip
        except OSError as err:
            log.error("cannot write the downtime log %s: %s", path, err)

    # -- alerts ---------------------------------------------------------------------

    def _submit(self, verdict: Verdict, moment: Moment) -> None:
        for call in verdict.calls:
            log.info("service %s: %s %s (%s)", call.service, _KIND_WORD[call.kind],
                     call.alert.name, call.summary or "-")  # fmt: skip
            for dropped in self.outbox.submit(call, moment.mono):
                self._lost(dropped)

    def _pump(self) -> None:
        room = None
        if self.config.maxprocs:
            room = self.config.maxprocs - len(self.runner)
        for delivery in self.outbox.take(self.loop.clock(), room):
            self._deliver(delivery)

    def _deliver(self, delivery: Delivery) -> None:
        call = delivery.call
        if call.alert.builtin is not None:
            self.mailer.send(call, lambda result: self._sent(delivery, result.error))
            return
        assert call.alert.path is not None, "resolve_programs() was not called"
        env = {**os.environ, **self._dirs_env(), **dict(self.alerts[call.service].spec.env),
               **call.env}  # fmt: skip
        label = f"{_KIND_WORD[call.kind]} {call.alert.name} for {call.service}"
        try:
            self.runner.start(label, call.argv(call.alert.path), timeout=ALERT_TIMEOUT,
                              env=env, stdin=call.stdin.encode(),
                              done=lambda r: self._sent(delivery, _script_error(r)))  # fmt: skip
        except OSError as err:
            self._alert_failed(delivery, f"cannot start: {err}")

    def _sent(self, delivery: Delivery, error: str | None) -> None:
        call = delivery.call
        if error is None:
            self.outbox.delivered(delivery.id)
            log.info("%s %s for %s delivered", _KIND_WORD[call.kind], call.alert.name, call.service)
            self.logs[call.service].alert_sent(time.time(), _KIND_WORD[call.kind], call.summary)
        else:
            self._alert_failed(delivery, error)
        self._kick()

    def _alert_failed(self, delivery: Delivery, error: str) -> None:
        call = delivery.call
        outcome = self.outbox.failed(delivery.id, self.loop.clock(), error)
        if isinstance(outcome, GaveUp):
            self._lost(outcome)
            return
        log.warning("%s %s for %s failed (attempt %d): %s; retrying in %.0f s",
                    _KIND_WORD[call.kind], call.alert.name, call.service, delivery.attempts,
                    error, outcome.at - self.loop.clock())  # fmt: skip
        self.logs[call.service].alert_failed(time.time(), f"{call.alert.name}: {error}",
                                             lost=False)  # fmt: skip

    def _lost(self, gave_up: GaveUp) -> None:
        call = gave_up.delivery.call
        log.error("%s %s for %s NOT delivered, giving up: %s (summary: %s)",
                  _KIND_WORD[call.kind], call.alert.name, call.service, gave_up.reason,
                  call.summary or "-")  # fmt: skip
        self.logs[call.service].alert_failed(time.time(), f"{call.alert.name}: {gave_up.reason}",
                                             lost=True)  # fmt: skip

    # -- queries and lifetime -----------------------------------------------------------

    def _get_status(self, request: GetMonStatus) -> MonStatusResult | ErrorResult:
        return status.snapshot(self, request)

    def reap(self) -> None:
        """SIGCHLD: collect exited monitor and alert programs."""
        self.runner.reap()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for key, run in list(self.runs.items()):
            run.cancel()
            log.info("monitor of %s stopped (shutting down)", key)
        self.runs.clear()
        self.runner.kill_all()
        for delivery in self.outbox.pending():
            self._lost(GaveUp(delivery, "cluster-mon is shutting down"))
        self.launcher.close()
        self.mailer.close()
        for closer in (self._server, self._publisher):
            if closer is not None:
                closer.close()
        if self.options.run_dir is not None and self._server is not None:
            # Run alone there is no master control process to sweep our sockets.
            for path in (endpoints.control_path(self.options.run_dir, DAEMON),
                         endpoints.events_path(self.options.run_dir, DAEMON)):  # fmt: skip
                with contextlib.suppress(OSError):
                    path.unlink()

    def _moment(self) -> Moment:
        return Moment(mono=self.loop.clock(), wall=time.time(), local=datetime.now())

    def _dirs_env(self) -> dict[str, str]:
        config = self.config
        return {"MON_LOGDIR": config.logdir, "MON_STATEDIR": config.statedir,
                "MON_CFBASEDIR": config.cfbasedir or os.path.dirname(config.path)}  # fmt: skip


def _script_error(result: ProcessResult) -> str | None:
    """None when an alert script succeeded, else why it did not."""
    if result.status == 0 and not result.timed_out:
        return None
    why = "timed out" if result.timed_out else f"exit status {result.status}"
    text = (result.stderr or result.stdout).strip().splitlines()
    return f"{why}: {text[-1]}" if text else why
