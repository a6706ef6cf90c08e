"""The ``mon.cf`` model: frozen dataclasses for services, periods, monitors, alerts.

Role: the shape every other module of the monitor works with. ``config.py``
builds a :class:`MonConfig` from a file; the scheduler, the alert logic and
the daemon only read it. A service is one ``watch``/``service`` pair with its
hosts already expanded from the hostgroup (minus ``exclude_hosts``). Times
are seconds (floats). No I/O here except the path arithmetic of
:attr:`MonConfig.downtime_log`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cluster.mon.builtins import BuiltinMonitor, MailOptions
from cluster.mon.periods import Period

__all__ = [
    "AlertAfter",
    "AlertSpec",
    "MonConfig",
    "MonitorSpec",
    "PeriodSpec",
    "ServiceSpec",
    "SmtpSettings",
]

DEFAULT_BASEDIR = "/usr/lib/mon"
DEFAULT_ALERTDIR = ("/usr/local/lib/mon/alert.d", "/usr/lib/mon/alert.d")
DEFAULT_MONDIR = ("/usr/local/lib/mon/mon.d", "/usr/lib/mon/mon.d")
DEFAULT_HISTLENGTH = 100


@dataclass(frozen=True, slots=True)
class MonitorSpec:
    """A ``monitor`` line: a built-in (``builtin`` set) or a Mon script (``path``)."""

    name: str
    args: tuple[str, ...]
    append_hosts: bool
    line: int
    builtin: BuiltinMonitor | None = None
    path: str | None = None  # filled in by resolve_programs for scripts


@dataclass(frozen=True, slots=True)
class AlertSpec:
    """An ``alert`` / ``upalert`` / ``startupalert`` line."""

    name: str
    args: tuple[str, ...]
    line: int
    exit_range: tuple[int, int] | None = None
    builtin: MailOptions | None = None
    path: str | None = None

    def wants(self, retval: int) -> bool:
        """Mon's ``exit=N-M``: only for monitor exit values in that range."""
        return self.exit_range is None or self.exit_range[0] <= retval <= self.exit_range[1]


@dataclass(frozen=True, slots=True)
class AlertAfter:
    """``alertafter N`` (count), ``N timeval`` (count within), ``timeval`` (within)."""

    count: int | None
    within: float | None


@dataclass(frozen=True, slots=True)
class PeriodSpec:
    label: str
    period: Period
    line: int
    alerts: tuple[AlertSpec, ...] = ()
    upalerts: tuple[AlertSpec, ...] = ()
    startupalerts: tuple[AlertSpec, ...] = ()
    alertevery: float | None = None
    alertevery_mode: str = ""  # "" | "observe_detail" | "ignore_summary" | "strict"
    alertafter: AlertAfter | None = None
    numalerts: int | None = None
    no_comp_alerts: bool = False
    upalertafter: float | None = None


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    watch: str
    name: str
    line: int
    hosts: tuple[str, ...]
    interval: float
    timeout: float
    monitor: MonitorSpec
    periods: tuple[PeriodSpec, ...]
    description: str = ""
    failure_interval: float | None = None
    env: tuple[tuple[str, str], ...] = ()
    allow_empty_group: bool = False

    @property
    def key(self) -> str:
        """``watch/service``, how people and the bus name a service."""
        return f"{self.watch}/{self.name}"


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Where the built-in mail alert delivers (``smtpserver``/``smtpport``/``mailfrom``)."""

    server: str = "localhost"
    port: int = 25
    sender: str | None = None  # default: mon@<this host's name>
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class MonConfig:
    path: str
    services: tuple[ServiceSpec, ...]
    hostgroups: tuple[tuple[str, tuple[str, ...]], ...] = ()
    alertdir: tuple[str, ...] = DEFAULT_ALERTDIR
    mondir: tuple[str, ...] = DEFAULT_MONDIR
    basedir: str = DEFAULT_BASEDIR
    cfbasedir: str = ""
    statedir: str = ""
    logdir: str = ""
    dtlogging: bool = False
    dtlogfile: str | None = None
    histlength: int = DEFAULT_HISTLENGTH
    maxprocs: int = 0  # 0: no limit on concurrent monitor and alert processes
    randstart: float = 0.0
    smtp: SmtpSettings = SmtpSettings()
    notes: tuple[str, ...] = ()  # accepted but ignored lines, as "path:line: text"

    def service(self, key: str) -> ServiceSpec | None:
        return next((s for s in self.services if s.key == key), None)

    @property
    def downtime_log(self) -> str | None:
        """The downtime log file when ``dtlogging`` is on; a relative name is
        under ``logdir``, or beside ``mon.cf`` when there is no logdir."""
        if not self.dtlogging or not self.dtlogfile:
            return None
        if os.path.isabs(self.dtlogfile):
            return self.dtlogfile
        base = self.logdir or os.path.dirname(os.path.abspath(self.path))
        return os.path.join(base, self.dtlogfile)
