"""Reading ``mon.cf``: the parser, and finding Mon scripts in ``mondir``/``alertdir``.

Role: :func:`parse` turns the text of a Mon configuration into a frozen
:class:`~cluster.mon.specs.MonConfig` (pure: text and a source name in);
:func:`load` also reads the file and looks every external monitor and alert
up the way Mon does at start-up. Every problem is a
:class:`~cluster.config.errors.ConfigError` with ``path:line`` (the first
line of a continued line); ``cluster-mon`` prints it and exits 2.

Layout as ``man mon`` describes it: global ``name = value`` lines,
``hostgroup`` lines (more hosts on the following non-blank lines), and
``watch`` blocks holding ``service`` blocks holding ``period`` blocks. A
blank line ends a hostgroup and a watch; ``#`` starts a comment line; a
trailing backslash continues a line. Indentation means nothing.

Understood: globals ``alertdir``, ``mondir``, ``basedir``, ``cfbasedir``,
``statedir``, ``logdir``, ``dtlogging``, ``dtlogfile``, ``histlength``,
``maxprocs``, ``randstart``, and ours ``smtpserver``, ``smtpport``,
``mailfrom``. Service keywords ``interval``, ``failure_interval``,
``monitor``, ``description``, ``exclude_hosts``, ``allow_empty_group``,
``VAR=value``, ``period``, and ours ``timeout`` (a monitor running longer is
killed and counts as failed; default: the interval, at least 30 s, at most
5 min). Period keywords ``alert``, ``upalert``, ``startupalert``,
``alertevery`` (with ``summary``, ``observe_detail``, ``ignore_summary`` or
``strict``), ``alertafter``, ``numalerts``, ``no_comp_alerts``,
``upalertafter``. Mon globals that mean nothing here (``authfile``,
``serverport`` ...) are accepted and listed in ``MonConfig.notes``; Mon
features we do not have (traps, ``depend``) and anything unknown are errors.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from cluster.config.errors import ConfigError
from cluster.mon import values
from cluster.mon.cfblocks import PeriodDraft, ServiceDraft, WatchDraft
from cluster.mon.specs import AlertSpec, MonConfig, ServiceSpec
from cluster.mon.values import BadValue

__all__ = ["ConfigError", "load", "parse", "resolve_programs"]

_GLOBAL_RE = re.compile(r"^([a-z_][a-z0-9_]*)\s*=\s*(.*)$")
_ENV_RE = re.compile(r"^([A-Z_][A-Z0-9_]*)=(.*)$")
_IGNORED_GLOBALS = frozenset({
    "authfile", "authtype", "userfile", "pamservice", "serverbind", "trapbind",
    "clientallow", "serverport", "trapport", "pidfile", "historicfile", "historictime",
    "monerrfile", "cltimeout", "syslog_facility", "startupalerts_on_reset",
    "dep_recur_limit", "dep_behavior", "dep_memory", "monremote", "snmpport",
})  # fmt: skip
_TOP_KEYWORDS = frozenset({"hostgroup", "watch"})

Executable = Callable[[str], bool]


def parse(text: str, path: str) -> MonConfig:
    """Parse the text of a ``mon.cf`` read from `path` (used in messages only)."""
    return _Parser(path).run(text)


def load(path: str | Path, *, executable: Executable | None = None) -> MonConfig:
    """Read, parse and resolve a ``mon.cf``; ConfigError with path:line on any problem."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(name, None, "no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(name, None, f"cannot read: {err}") from None
    return resolve_programs(parse(text, name), executable or _is_executable)


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, text) with continuations joined as ``man mon`` says:
    the backslash, blanks after it and the next line's leading blanks go."""
    pending: str | None = None
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if pending is None:
            start = number
            if line.lstrip().startswith("#"):
                yield number, line
                continue
        else:
            line = pending + line.lstrip()
        if line.endswith("\\"):
            pending = line[:-1]
            continue
        pending = None
        yield start, line
    if pending is not None:
        yield start, pending


class _Parser:
    def __init__(self, path: str) -> None:
        self.path = path
        self.globals = MonConfig(path=path, services=())
        self.hostgroups: dict[str, list[str]] = {}
        self.open_hostgroup: str | None = None
        self.watch: WatchDraft | None = None
        self.watches: set[str] = set()
        self.services: list[ServiceSpec] = []
        self.notes: list[str] = []

    def run(self, text: str) -> MonConfig:
        for number, line in _logical_lines(text):
            try:
                self._line(number, line)
            except BadValue as err:
                raise ConfigError(self.path, number, str(err)) from None
        self._end_block()
        return self._build()

    # -- dispatch -------------------------------------------------------------

    def _line(self, number: int, line: str) -> None:
        stripped = line.strip()
        if stripped.startswith("#"):
            return
        if not stripped:
            self._end_block()
            return
        keyword, _, rest = stripped.partition(" ")
        rest = rest.strip()
        starts_definition = keyword in _TOP_KEYWORDS or _GLOBAL_RE.match(stripped) is not None
        if self.open_hostgroup is not None and not starts_definition:
            self._add_hosts(self.open_hostgroup, stripped.split())
            return
        if self.watch is not None and not starts_definition:
            self._in_watch(number, keyword, rest, stripped)
            return
        self._end_block()
        self._top(number, keyword, rest, stripped)

    def _top(self, number: int, keyword: str, rest: str, stripped: str) -> None:
        match = _GLOBAL_RE.match(stripped)
        if match is not None:
            self._global(number, match.group(1), match.group(2).strip())
        elif keyword == "hostgroup":
            words = rest.split()
            if not words:
                raise BadValue("hostgroup needs a tag and hosts")
            group = values.tag(words[0], "hostgroup tag")
            if group in self.hostgroups:
                raise BadValue(f"hostgroup {group!r} is defined twice")
            self.hostgroups[group] = []
            self.open_hostgroup = group
            self._add_hosts(group, words[1:])
        elif keyword == "watch":
            words = rest.split()
            if len(words) != 1:
                raise BadValue("watch takes exactly one word: a hostgroup tag (or a host)")
            group = values.tag(words[0], "watch tag")
            if group in self.watches:
                raise BadValue(f"watch {group!r} is defined twice")
            if group not in self.hostgroups:
                # Mon: a watch on an unknown tag watches the host of that name.
                self.hostgroups[group] = [values.hostname(group)]
            self.watches.add(group)
            self.watch = WatchDraft(group, tuple(self.hostgroups[group]))
        elif keyword == "service" or keyword in ServiceDraft.KEYWORDS:
            raise BadValue(f"{keyword} outside a watch (a blank line ends a watch block)")
        elif keyword in PeriodDraft.KEYWORDS:
            raise BadValue(f"{keyword} outside a period")
        else:
            raise BadValue(f"unknown keyword {keyword!r}")

    def _in_watch(self, number: int, keyword: str, rest: str, stripped: str) -> None:
        assert self.watch is not None
        watch = self.watch
        if keyword == "service":
            watch.close_service(self.path, self.services)
            words = rest.split()
            if len(words) != 1:
                raise BadValue("service takes exactly one word: its tag")
            name = values.tag(words[0], "service tag")
            if name in watch.names:
                raise BadValue(f"service {name!r} is defined twice in watch {watch.group!r}")
            watch.names.add(name)
            watch.service = ServiceDraft(watch.group, name, number, watch.hosts)
            return
        if watch.service is None:
            raise BadValue(f"{keyword} before the first service of watch {watch.group!r}")
        env = _ENV_RE.match(stripped)
        if env is not None:
            watch.service.env.append((env.group(1), env.group(2)))
        else:
            watch.service.keyword(number, keyword, rest)

    def _end_block(self) -> None:
        self.open_hostgroup = None
        if self.watch is not None:
            watch, self.watch = self.watch, None
            watch.close_service(self.path, self.services)

    # -- globals and hostgroups ---------------------------------------------------

    def _global(self, number: int, name: str, value: str) -> None:
        if name in _IGNORED_GLOBALS:
            self.notes.append(f"{self.path}:{number}: Mon setting {name!r} has no effect here")
            return
        g, replace = self.globals, dataclasses.replace
        match name:
            case "alertdir":
                g = replace(g, alertdir=_dirs(value))
            case "mondir":
                g = replace(g, mondir=_dirs(value))
            case "basedir":
                g = replace(g, basedir=_path(value))
            case "cfbasedir":
                g = replace(g, cfbasedir=_path(value))
            case "statedir":
                g = replace(g, statedir=_path(value))
            case "logdir":
                g = replace(g, logdir=_path(value))
            case "dtlogfile":
                g = replace(g, dtlogfile=_path(value))
            case "dtlogging":
                g = replace(g, dtlogging=values.yes_no(value))
            case "histlength":
                g = replace(g, histlength=values.count(value))
            case "maxprocs":
                g = replace(g, maxprocs=values.count(value))
            case "randstart":
                g = replace(g, randstart=values.timeval(value, allow_zero=True))
            case "smtpserver":
                g = replace(g, smtp=replace(g.smtp, server=values.hostname(value)))
            case "smtpport":
                g = replace(g, smtp=replace(g.smtp, port=_port(value)))
            case "mailfrom":
                g = replace(g, smtp=replace(g.smtp, sender=_address(value)))
            case _:
                raise BadValue(f"unknown global setting {name!r}")
        self.globals = g

    def _add_hosts(self, group: str, words: Sequence[str]) -> None:
        for word in words:
            host = values.hostname(word)
            if host not in self.hostgroups[group]:
                self.hostgroups[group].append(host)

    def _build(self) -> MonConfig:
        return dataclasses.replace(
            self.globals,
            services=tuple(self.services),
            hostgroups=tuple((group, tuple(hosts)) for group, hosts in self.hostgroups.items()),
            notes=tuple(self.notes),
        )


def _dirs(text: str) -> tuple[str, ...]:
    parts = tuple(part for part in text.split(":") if part)
    if not parts:
        raise BadValue("a directory list is expected (dir[:dir...])")
    return parts


def _path(text: str) -> str:
    if not text or any(ch.isspace() for ch in text):
        raise BadValue(f"bad path {text!r}")
    return text


def _port(text: str) -> int:
    port = values.count(text)
    if port > 65535:
        raise BadValue(f"bad port {text!r} (1-65535)")
    return port


def _address(text: str) -> str:
    if not text or any(ch.isspace() or ch in "<>,;" for ch in text):
        raise BadValue(f"bad mail address {text!r}")
    return text


# -- finding Mon scripts ---------------------------------------------------------------


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def resolve_programs(config: MonConfig, executable: Executable = _is_executable) -> MonConfig:
    """Find each external monitor in ``mondir`` and alert in ``alertdir`` (first hit wins)."""
    services = []
    for service in config.services:
        monitor = service.monitor
        if monitor.builtin is None:
            found = _find(config, monitor.name, monitor.line, config.mondir, "monitor", executable)
            monitor = dataclasses.replace(monitor, path=found)
        periods = tuple(
            dataclasses.replace(
                period,
                alerts=_resolve_alerts(config, period.alerts, executable),
                upalerts=_resolve_alerts(config, period.upalerts, executable),
                startupalerts=_resolve_alerts(config, period.startupalerts, executable),
            )
            for period in service.periods
        )
        services.append(dataclasses.replace(service, monitor=monitor, periods=periods))
    return dataclasses.replace(config, services=tuple(services))


def _resolve_alerts(
    config: MonConfig, alerts: Sequence[AlertSpec], executable: Executable
) -> tuple[AlertSpec, ...]:
    resolved = []
    for alert in alerts:
        if alert.builtin is None:
            path = _find(config, alert.name, alert.line, config.alertdir, "alert", executable)
            alert = dataclasses.replace(alert, path=path)
        resolved.append(alert)
    return tuple(resolved)


def _find(
    config: MonConfig, name: str, line: int, dirs: Sequence[str], what: str,
    executable: Executable,
) -> str:  # fmt: skip
    if "/" in name:
        candidates = [name if os.path.isabs(name) else os.path.join(config.basedir, name)]
    else:
        candidates = [os.path.join(_under(config.basedir, d), name) for d in dirs]
    for candidate in candidates:
        if executable(candidate):
            return candidate
    where = ":".join(os.path.dirname(c) for c in candidates)
    raise ConfigError(config.path, line, f"{what} {name!r} not found or not executable in {where}")


def _under(basedir: str, directory: str) -> str:
    return directory if os.path.isabs(directory) else os.path.join(basedir, directory)
