"""Answering ``GetMonStatus``, and showing the answer to people.

Role: :func:`snapshot` reads the daemon's state (scheduler, per-service
alert state, history, outbox) into the bus reply ``MonStatusResult``;
:func:`render` and :func:`to_json` turn such a reply into what
``cluster-mon status`` prints. Reads only; changes nothing.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from cluster.bus.messages.common import ErrorResult
from cluster.bus.messages.mon import (
    GetMonStatus,
    MonDowntime,
    MonEvent,
    MonServiceStatus,
    MonStatusResult,
)
from cluster.mon.schedule import Phase
from cluster.mon.values import format_timeval

if TYPE_CHECKING:
    from cluster.mon.service import MonService

__all__ = ["render", "snapshot", "to_json"]


def snapshot(daemon: MonService, request: GetMonStatus) -> MonStatusResult | ErrorResult:
    """The reply to `request`; ErrorResult("unknown_service") for a service not configured."""
    wanted = request.service
    services = [s for s in daemon.config.services if not wanted or s.key == wanted]
    if wanted and not services:
        return ErrorResult("unknown_service", f"no service {wanted!r} (name it watch/service)")
    mono, wall = daemon.loop.clock(), time.time()
    entries = []
    for spec in services:
        tracker, record = daemon.alerts[spec.key], daemon.logs[spec.key]
        last = tracker.last
        running = daemon.scheduler.phase(spec.key) is Phase.RUNNING
        monitor = " ".join([spec.monitor.name, *spec.monitor.args])
        history: tuple[MonEvent, ...] = ()
        downtimes: tuple[MonDowntime, ...] = ()
        if request.history:
            history = tuple(MonEvent(e.when, e.kind, e.summary) for e in record.events)
            downtimes = tuple(MonDowntime(d.noticed, d.first_failure, d.downtime, d.summary)
                              for d in record.downtimes)  # fmt: skip
        entries.append(MonServiceStatus(
            watch=spec.watch, service=spec.name, description=spec.description,
            monitor=monitor, hosts=spec.hosts, status=tracker.status.value, running=running,
            interval=spec.interval, last_check=record.last_check,
            next_check=wall + max(0.0, daemon.scheduler.next_run(spec.key) - mono),
            last_success=tracker.last_success, last_failure=tracker.last_failure,
            first_failure=tracker.first_failure.wall if tracker.first_failure else None,
            summary=last.summary if last else "", detail=last.detail if last else "",
            retval=last.retval if last else None, consecutive_failures=tracker.consecutive,
            runs=record.runs, failures=record.failures, alerts_sent=record.alerts_sent,
            alerts_pending=len(daemon.outbox.pending(spec.key)),
            alerts_lost=record.alerts_lost, history=history, downtimes=downtimes,
        ))  # fmt: skip
    return MonStatusResult(node=daemon.options.node, pid=os.getpid(), config=daemon.config.path,
                           started=daemon.started_wall, services=tuple(entries))  # fmt: skip


def to_json(result: MonStatusResult) -> dict[str, Any]:
    return asdict(result)


def render(result: MonStatusResult, *, history: bool = False) -> str:
    """The text of ``cluster-mon status``: one block per service."""
    lines = [f"cluster-mon on {result.node} (pid {result.pid}), config {result.config}, "
             f"up since {_when(result.started)}"]  # fmt: skip
    for svc in result.services:
        state = svc.status.upper() + (" (running)" if svc.running else "")
        lines += ["", f"{svc.watch}/{svc.service}: {state}"]
        if svc.description:
            lines.append(f"  description   {svc.description}")
        lines += [
            f"  monitor       {svc.monitor} every {format_timeval(svc.interval)}",
            f"  hosts         {' '.join(svc.hosts) or '-'}",
            f"  last check    {_when(svc.last_check)}   next {_when(svc.next_check)}",
            f"  last failure  {_when(svc.last_failure)}   last success {_when(svc.last_success)}",
        ]
        if svc.status == "failed":
            lines.append(f"  failing since {_when(svc.first_failure)} "
                         f"({svc.consecutive_failures} runs in a row)")  # fmt: skip
        if svc.summary:
            lines.append(f"  summary       {svc.summary}")
        lines.append(f"  counters      {svc.runs} runs, {svc.failures} failed, "
                     f"{svc.alerts_sent} alerts sent, {svc.alerts_pending} pending, "
                     f"{svc.alerts_lost} lost")  # fmt: skip
        if history:
            lines += ["  history:"] + [f"    {_when(e.when)}  {e.kind:<13} {e.summary}"
                                       for e in svc.history]  # fmt: skip
            lines += ["  downtimes:"] + [
                f"    {_when(d.first_failure)} .. {_when(d.noticed)}  {d.downtime:.0f} s  "
                f"{d.summary}" for d in svc.downtimes
            ]  # fmt: skip
    return "\n".join(lines)


def _when(wall: float | None) -> str:
    if wall is None:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall))
