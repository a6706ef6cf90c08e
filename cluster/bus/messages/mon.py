"""Messages of cluster-mon, the Mon-style service monitor (``mon.ctl``, ``mon.pub``).

Query: :class:`GetMonStatus` on ``mon.ctl`` is answered at once with
:class:`MonStatusResult`: one :class:`MonServiceStatus` per watched service
(``watch/service``), with its current status, last check, last failure,
summary and counters, and, when asked with ``history=True``, its bounded
history and downtime log. ``service`` selects one service ("" = all).
Use :func:`get_mon_status` rather than building the request by hand; for
example ``crm_status`` can show the monitor's view with::

    from cluster.bus.messages.mon import get_mon_status
    result = get_mon_status(run_dir, timeout=2.0)   # NotRunning if no monitor
    for svc in result.services:
        print(svc.watch, svc.service, svc.status, svc.summary)

Events on ``mon.pub``, topic ``service``: :class:`MonServiceChanged` whenever a
service's status changes (untested -> ok/failed, ok <-> failed).

Times are wall-clock time(2) values; None where nothing happened yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cluster.bus.catalogue import message

#: The daemon name on the bus: ``<run-dir>/mon.ctl`` and ``mon.pub``.
DAEMON = "mon"

#: Values of ``MonServiceStatus.status``.
STATUSES = ("untested", "ok", "failed")


@message
@dataclass(frozen=True, slots=True)
class GetMonStatus:
    """Ask for every service's status (or one: ``service="watch/service"``)."""

    service: str = ""
    history: bool = False


@message
@dataclass(frozen=True, slots=True)
class MonEvent:
    """One history entry. ``kind``: failure | ok | alert | upalert | startupalert |
    alert-retry (an alert failed and will be retried) | alert-lost (given up)."""

    when: float
    kind: str
    summary: str


@message
@dataclass(frozen=True, slots=True)
class MonDowntime:
    """A failure that ended (Mon's downtime log)."""

    noticed: float        # when the service came back
    first_failure: float  # when it began to fail
    downtime: float       # seconds
    summary: str          # the failing run's summary


@message
@dataclass(frozen=True, slots=True)
class MonServiceStatus:
    watch: str
    service: str
    description: str
    monitor: str                  # the monitor line's name and arguments
    hosts: tuple[str, ...]
    status: str                   # untested | ok | failed
    running: bool                 # a monitor run is in progress
    interval: float
    last_check: float | None
    next_check: float | None
    last_success: float | None
    last_failure: float | None
    first_failure: float | None   # start of the current failure, if failing
    summary: str                  # of the last run
    detail: str
    retval: int | None
    consecutive_failures: int
    runs: int
    failures: int
    alerts_sent: int
    alerts_pending: int           # waiting for a (re)try
    alerts_lost: int              # given up after retries: see history
    history: tuple[MonEvent, ...] = ()
    downtimes: tuple[MonDowntime, ...] = ()


@message
@dataclass(frozen=True, slots=True)
class MonStatusResult:
    node: str
    pid: int
    config: str                   # the mon.cf in use
    started: float
    services: tuple[MonServiceStatus, ...]


@message
@dataclass(frozen=True, slots=True)
class MonServiceChanged:
    """A service's status changed (topic ``service`` on ``mon.pub``)."""

    watch: str
    service: str
    status: str
    previous: str
    summary: str
    when: float


def get_mon_status(run_dir: Path | str, service: str = "", history: bool = False,
                   timeout: float = 5.0) -> MonStatusResult:  # fmt: skip
    """Ask the monitor on this node; raises ``cluster.bus.client.NotRunning`` when
    there is none, ``RemoteError`` for an unknown service."""
    from cluster.bus.client import request  # the catalogue must not import zmq at load

    reply: Any = request(run_dir, DAEMON, GetMonStatus(service=service, history=history),
                         timeout=timeout)  # fmt: skip
    if not isinstance(reply, MonStatusResult):
        raise TypeError(f"mon answered {type(reply).__name__}, not MonStatusResult")
    return reply
