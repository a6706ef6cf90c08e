"""The blocks of ``mon.cf`` being read: watch, service and period drafts.

Role: the parser (``config.py``) feeds every line inside a ``watch`` block to
the open :class:`ServiceDraft`, which hands period keywords to its open
:class:`PeriodDraft`. A draft collects lines and, once its block ends,
checks itself and becomes a frozen spec (``specs.py``). Problems are
``BadValue`` for the line being read, or ``ConfigError`` naming the
service's own line for what is missing at the end (no ``monitor``...).
Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cluster.config.errors import ConfigError
from cluster.mon import builtins, values
from cluster.mon.periods import PeriodError, parse_period
from cluster.mon.specs import AlertAfter, AlertSpec, MonitorSpec, PeriodSpec, ServiceSpec
from cluster.mon.values import BadValue

__all__ = ["PeriodDraft", "ServiceDraft", "WatchDraft"]

_LABEL_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):(.*)$")
# A hung monitor is killed after its timeout; without one in mon.cf it is the
# interval, but never less than 30 s (slow scripts) nor more than 5 min.
_MIN_TIMEOUT, _MAX_TIMEOUT = 30.0, 300.0
# Mon's alertevery options; "summary" is its old spelling of the default.
_ALERTEVERY_MODES = {"": "", "summary": "", "observe_detail": "observe_detail",
                     "ignore_summary": "ignore_summary", "strict": "strict"}  # fmt: skip
_MODES_TEXT = "observe_detail, ignore_summary, strict or summary"


@dataclass
class PeriodDraft:
    KEYWORDS = frozenset({
        "alert", "upalert", "startupalert", "alertevery", "alertafter", "numalerts",
        "no_comp_alerts", "upalertafter",
    })  # fmt: skip

    label: str
    spec: str
    line: int
    alerts: list[AlertSpec] = field(default_factory=list)
    upalerts: list[AlertSpec] = field(default_factory=list)
    startupalerts: list[AlertSpec] = field(default_factory=list)
    alertevery: float | None = None
    alertevery_mode: str = ""
    alertafter: AlertAfter | None = None
    alertafter_line: int = 0
    numalerts: int | None = None
    no_comp_alerts: bool = False
    upalertafter: float | None = None

    def keyword(self, number: int, keyword: str, rest: str) -> None:
        words = rest.split()
        if keyword in ("alert", "upalert", "startupalert"):
            target = {"alert": self.alerts, "upalert": self.upalerts,
                      "startupalert": self.startupalerts}[keyword]  # fmt: skip
            target.append(_alert_line(number, keyword, rest))
        elif keyword == "alertevery":
            if not 1 <= len(words) <= 2:
                raise BadValue(f"alertevery takes a time value and maybe one of {_MODES_TEXT}")
            self.alertevery = values.timeval(words[0])
            mode = words[1] if len(words) == 2 else ""
            if mode not in _ALERTEVERY_MODES:
                raise BadValue(f"alertevery: unknown option {mode!r} ({_MODES_TEXT})")
            self.alertevery_mode = _ALERTEVERY_MODES[mode]
        elif keyword == "alertafter":
            self.alertafter = _alertafter(words)
            self.alertafter_line = number
        elif keyword == "numalerts":
            self.numalerts = values.count(_one(keyword, words))
        elif keyword == "no_comp_alerts":
            if words:
                raise BadValue("no_comp_alerts takes no value")
            self.no_comp_alerts = True
        else:  # upalertafter
            self.upalertafter = values.timeval(_one(keyword, words))

    def build(self) -> PeriodSpec:
        try:
            period = parse_period(self.spec)
        except PeriodError as err:  # checked when the line was read; cannot happen here
            raise BadValue(str(err)) from None
        return PeriodSpec(
            label=self.label, period=period, line=self.line, alerts=tuple(self.alerts),
            upalerts=tuple(self.upalerts), startupalerts=tuple(self.startupalerts),
            alertevery=self.alertevery, alertevery_mode=self.alertevery_mode,
            alertafter=self.alertafter, numalerts=self.numalerts,
            no_comp_alerts=self.no_comp_alerts, upalertafter=self.upalertafter,
        )  # fmt: skip


@dataclass
class ServiceDraft:
    KEYWORDS = frozenset({
        "interval", "failure_interval", "timeout", "monitor", "description",
        "exclude_hosts", "allow_empty_group", "period",
    })  # fmt: skip
    # Mon features cluster-mon does not have: refused by name, not "unknown".
    UNSUPPORTED = frozenset({
        "depend", "alertdepend", "monitordepend", "hostdepend", "dep_behavior", "dep_memory",
        "traptimeout", "trapduration", "randskew", "redistribute", "unack_summary",
        "exclude_period",
    })  # fmt: skip

    watch: str
    name: str
    line: int
    hosts: tuple[str, ...]
    interval: float | None = None
    failure_interval: float | None = None
    timeout: float | None = None
    monitor: MonitorSpec | None = None
    description: str = ""
    excluded: set[str] = field(default_factory=set)
    allow_empty_group: bool = False
    env: list[tuple[str, str]] = field(default_factory=list)
    periods: list[PeriodDraft] = field(default_factory=list)

    def keyword(self, number: int, keyword: str, rest: str) -> None:
        if keyword in PeriodDraft.KEYWORDS:
            if not self.periods:
                raise BadValue(f"{keyword} must follow a period line")
            self.periods[-1].keyword(number, keyword, rest)
        elif keyword in self.UNSUPPORTED:
            raise BadValue(f"Mon keyword {keyword!r} is not supported by cluster-mon")
        elif keyword in ("interval", "failure_interval", "timeout"):
            setattr(self, keyword, values.timeval(_one(keyword, rest.split())))
        elif keyword == "monitor":
            if self.monitor is not None:
                raise BadValue(f"service {self.name!r} has a second monitor line")
            self.monitor = _monitor_line(number, rest)
        elif keyword == "description":
            self.description = rest
        elif keyword == "exclude_hosts":
            self.excluded.update(values.hostname(word) for word in rest.split())
        elif keyword == "allow_empty_group":
            self.allow_empty_group = True
        elif keyword == "period":
            self._period(number, rest)
        else:
            raise BadValue(f"unknown keyword {keyword!r} in service {self.name!r}")

    def _period(self, number: int, rest: str) -> None:
        label, spec = "", rest
        match = _LABEL_RE.match(rest)
        if match is not None:
            label, spec = match.group(1), match.group(2).strip()
        try:
            period = parse_period(spec)
        except PeriodError as err:
            raise BadValue(f"bad period {spec!r}: {err}") from None
        name = label or period.text
        if any((p.label or parse_period(p.spec).text) == name for p in self.periods):
            raise BadValue(f"period {name!r} appears twice in service {self.name!r} (label one)")
        self.periods.append(PeriodDraft(label=label, spec=spec, line=number))

    def build(self, path: str) -> ServiceSpec:
        def missing(what: str) -> ConfigError:
            return ConfigError(path, self.line, f"service {self.watch}/{self.name}: {what}")

        if self.monitor is None:
            raise missing("no monitor line (traps are not supported)")
        if self.interval is None:
            raise missing("no interval line")
        hosts = tuple(host for host in self.hosts if host not in self.excluded)
        if not hosts and self.monitor.append_hosts and not self.allow_empty_group:
            raise missing("every host of the group is excluded (see allow_empty_group)")
        timeout = self.timeout
        if timeout is None:
            timeout = min(max(self.interval, _MIN_TIMEOUT), _MAX_TIMEOUT)
        for draft in self.periods:
            _check_alertafter(path, draft, self.failure_interval or self.interval)
        return ServiceSpec(
            watch=self.watch, name=self.name, line=self.line, hosts=hosts,
            interval=self.interval, timeout=timeout, monitor=self.monitor,
            periods=tuple(p.build() for p in self.periods), description=self.description,
            failure_interval=self.failure_interval, env=tuple(self.env),
            allow_empty_group=self.allow_empty_group,
        )  # fmt: skip


@dataclass
class WatchDraft:
    group: str
    hosts: tuple[str, ...]
    names: set[str] = field(default_factory=set)
    service: ServiceDraft | None = None

    def close_service(self, path: str, out: list[ServiceSpec]) -> None:
        if self.service is not None:
            service, self.service = self.service, None
            out.append(service.build(path))


def _one(keyword: str, words: list[str]) -> str:
    if len(words) != 1:
        raise BadValue(f"{keyword} takes exactly one value")
    return words[0]


def _alertafter(words: list[str]) -> AlertAfter:
    if len(words) == 2:
        return AlertAfter(count=values.count(words[0]), within=values.timeval(words[1]))
    if len(words) == 1:
        if words[0].isdigit():
            return AlertAfter(count=values.count(words[0]), within=None)
        return AlertAfter(count=None, within=values.timeval(words[0]))
    raise BadValue("alertafter takes N, N timeval, or timeval")


def _check_alertafter(path: str, draft: PeriodDraft, interval: float) -> None:
    """Mon refuses ``alertafter N T`` that N runs can never fit into."""
    after = draft.alertafter
    if after is None or after.count is None or after.within is None:
        return
    if (after.count - 1) * interval >= after.within:
        raise ConfigError(path, draft.alertafter_line,
                          f"alertafter {after.count} {after.within:g}s can never alert: "
                          f"{after.count} runs {interval:g} s apart take longer than "
                          f"{after.within:g} s")  # fmt: skip


def _monitor_line(number: int, rest: str) -> MonitorSpec:
    words = values.split_words(rest)
    append_hosts = True
    if words and words[-1] == ";;":
        append_hosts, words = False, words[:-1]
    if not words:
        raise BadValue("monitor needs a name (a built-in or a script in mondir)")
    name, args = words[0], tuple(words[1:])
    parsed = builtins.parse_monitor(name, args)
    if parsed is None:
        return MonitorSpec(name=name, args=args, append_hosts=append_hosts, line=number)
    options, extra = parsed
    if extra:
        raise BadValue(f"monitor {name}: unexpected argument(s) {' '.join(extra)!r} "
                       "(hosts come from the watch)")  # fmt: skip
    return MonitorSpec(name=name, args=args, append_hosts=append_hosts, line=number,
                       builtin=options)  # fmt: skip


def _alert_line(number: int, keyword: str, rest: str) -> AlertSpec:
    words = values.split_words(rest)
    exit_range = values.exit_range(words[0]) if words else None
    if exit_range is not None:
        if keyword != "alert":
            raise BadValue(f"exit= only applies to alert, not {keyword}")
        words = words[1:]
    if not words:
        raise BadValue(f"{keyword} needs a name (mail, or a script in alertdir)")
    name, args = words[0], tuple(words[1:])
    return AlertSpec(name=name, args=args, line=number, exit_range=exit_range,
                     builtin=builtins.parse_alert(name, args))  # fmt: skip
