"""``ha.cf`` -> :class:`HaConfig`: the cluster's main configuration file.

Role: a pure parser. :func:`parse_hacf` takes the file's text and the name to use in
messages and returns a frozen :class:`HaConfig`, or raises ``ConfigError`` with
``path:line``. It reads no files (``confdir.load_config`` does), opens no sockets,
resolves no names, and checks nothing about the running system (users, executables,
interfaces): only what the text itself says.

Grammar (Heartbeat 3.0.6, reference section 1): line based; ``#`` starts a comment
anywhere; the first token is the directive, matched case-sensitively against
:data:`cluster.config.directives.DIRECTIVES` (anything else is an error). The rest of
the line is split on space/tab/comma, except for the whole-line directives
``stonith stonith_host apiauth respawn failfast``. Directives are applied in file
order, so ``udpport`` and ``baud`` affect only the media lines after them.

Defaults are Heartbeat's: keepalive 1 s, deadtime 30 s, warntime deadtime/2,
initdead = deadtime if deadtime > 10 s, 12 s if deadtime < 6 s, else 2 x deadtime;
deadping = deadtime; udpport 694; baud 19200; auto_failback legacy; realtime on;
autojoin none; hopfudge 1; debug 0. Directives this stack does not act on are
validated and then reported in ``HaConfig.warnings``, never refused.

``failure_timeout`` is this stack's own (Pacemaker's ``failure-timeout``): how
long after a group's last failure on a node its fail count there is forgotten;
a Heartbeat time, or with ``s``/``min`` as Pacemaker writes it; ``0`` or
absent = never, Pacemaker's default.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cluster.config import commands, media, values
from cluster.config.commands import RespawnSpec, StonithHost
from cluster.config.directives import CRM_VALUES, DIRECTIVES
from cluster.config.errors import ConfigError, located
from cluster.config.media import Medium, PingNode
from cluster.config.web import WebListen, parse_web

__all__ = ["HaConfig", "Medium", "PingNode", "RespawnSpec", "StonithHost", "WebListen",
           "parse_hacf"]

_TIMES = ("keepalive", "deadtime", "warntime", "initdead", "deadping")
_UNITS = ("ms", "msec", "us", "usec")
_FIRST = re.compile(r"([^ \t]+)[ \t]*(.*)", re.DOTALL)


# One-value settings: validated when read, kept as text, converted again by finish().
_SCALARS: values.FrozenDict[str, Callable[[str], object]] = values.FrozenDict({
    "hopfudge": values.hopfudge, "auto_failback": values.failback_mode,
    "logfile": values.log_path, "debugfile": values.log_path,
    "logfacility": values.syslog_facility, "use_logd": values.boolean,
    "debug": values.debug_level, "realtime": values.boolean, "autojoin": values.autojoin,
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class HaConfig:
    """Everything ``ha.cf`` says, with Heartbeat's defaults filled in.

    Times are seconds (floats holding whole milliseconds). ``auto_failback`` is
    ``on``, ``off`` or ``legacy`` (``nice_failback on`` is mapped to ``off``,
    ``nice_failback off`` to ``legacy``). ``logfacility`` is a syslog facility name,
    ``none`` (no syslog) or ``None`` (unset). ``use_logd`` is the explicit value or,
    as in Heartbeat, true when none of logfile/debugfile/logfacility is set; this
    stack has no ha_logd, so it means "log to syslog". ``raw`` holds, per directive,
    every value as written in file order (whole-line directives: the rest of the
    line), plus Heartbeat's default text for unset directives that have one
    (``keepalive`` -> ``("1000ms",)``): what ``cl_status hbparameter`` serves, using
    the last element. ``warnings`` are ready-to-print ``path[:line]: text`` strings,
    in line order, whole-file ones last.
    """

    path: str
    nodes: tuple[str, ...]
    keepalive: float
    deadtime: float
    warntime: float
    initdead: float
    deadping: float
    udpport: int
    baud: int
    media: tuple[Medium, ...]
    ping_nodes: tuple[PingNode, ...]
    auto_failback: str
    respawns: tuple[RespawnSpec, ...]
    stonith_hosts: tuple[StonithHost, ...]
    stonith: tuple[str, str] | None
    watchdog: str | None
    logfile: str | None
    debugfile: str | None
    logfacility: str | None
    use_logd: bool
    debug: int
    realtime: bool
    autojoin: str
    hopfudge: int
    raw: Mapping[str, tuple[str, ...]]
    warnings: tuple[str, ...]
    failure_timeout: float | None = None
    web: WebListen | None = None

    def stonith_hosts_for(self, node: str) -> tuple[StonithHost, ...]:
        """The ``stonith_host`` lines ``node`` uses: its own and the ``*`` ones, in order."""
        wanted = node.lower()
        return tuple(h for h in self.stonith_hosts if h.from_node in ("*", wanted))


def parse_hacf(text: str, source: str) -> HaConfig:
    """Parse the text of an ``ha.cf`` file; ``source`` names it in errors and warnings."""
    parser = _Parser(source)
    # split("\n"), not splitlines(): a form feed must not shift the line numbers.
    for number, line in enumerate(text.split("\n"), start=1):
        parser.feed(number, line)
    return parser.finish()


class _Parser:
    """Accumulates directives in file order; :meth:`finish` validates and freezes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.nodes: list[str] = []
        self.millis: dict[str, int] = {}
        self.lines: dict[str, int] = {}
        self.udpport = 694
        self.baud = 19200
        self.media: list[Medium] = []
        self.ping_nodes: list[PingNode] = []
        self.respawns: list[RespawnSpec] = []
        self.stonith_hosts: list[StonithHost] = []
        self.stonith: tuple[str, str] | None = None
        self.watchdog: str | None = None
        self.web: WebListen | None = None
        self.scalars: dict[str, str] = {}
        self.raw: dict[str, list[str]] = {}
        self.warnings: list[tuple[int | None, str]] = []
        handlers: dict[str, Callable[[list[str], str, int], None]] = {
            "node": self._node, "udpport": self._udpport, "baud": self._baud,
            "bcast": self._bcast, "udp": self._bcast, "mcast": self._medium,
            "mcast6": self._medium, "ucast": self._medium, "ucast6": self._medium,
            "serial": self._medium, "ping": self._ping, "ping_group": self._ping,
            "nice_failback": self._nice_failback, "watchdog": self._watchdog,
            "web": self._web,
            "stonith": self._stonith, "stonith_host": self._stonith_host,
            "respawn": self._respawn, "failfast": self._respawn,
            "crm": self._crm, "pacemaker": self._crm,
            "failure_timeout": self._failure_timeout,
        }  # fmt: skip
        for name in _TIMES:
            handlers[name] = self._time
        for name in _SCALARS:
            handlers[name] = self._scalar
        self.handlers = handlers
        self.directive = ""

    # --- driving -------------------------------------------------------------------

    def warn(self, line: int | None, text: str) -> None:
        self.warnings.append((line, text))

    def fail(self, line: int | None, text: str) -> ConfigError:
        return ConfigError(self.path, line, text)

    def feed(self, number: int, line: str) -> None:
        content = line.split("#", 1)[0].strip(" \t\r")
        if not content:
            return
        match = _FIRST.fullmatch(content)
        assert match is not None  # content is non-empty and starts with a non-blank
        name, rest = match.group(1), match.group(2).strip(" \t")
        spec = DIRECTIVES.get(name)
        if spec is None:
            import difflib  # only for a typo: every daemon parses ha.cf at start

            close = difflib.get_close_matches(name, list(DIRECTIVES), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise self.fail(number, f"unknown directive {name!r}{hint}")
        args = [rest] if spec.whole_line else [t for t in re.split(r"[ \t,]+", rest) if t]
        if not args or not args[0]:
            raise self.fail(number, f"{name} needs a value")
        self.raw.setdefault(name, []).extend(args)
        self.directive = name
        try:
            if spec.supported:
                self.handlers[name](args, rest, number)
            else:
                for arg in args:
                    spec.check(arg)
                self.warn(number, f"{name} has no effect in this stack ({spec.note})")
        except values.BadValue as err:
            raise self.fail(number, err.describe(name)) from None
        except ValueError as err:
            raise self.fail(number, str(err)) from None
        self.lines[name] = number

    def one(self, args: list[str]) -> str:
        if len(args) != 1:
            joined = " ".join(args)
            if self.directive in _TIMES and len(args) == 2 and args[1].lower() in _UNITS:
                raise ValueError(
                    f"{self.directive} takes one value, got {joined!r}; "
                    f"write {''.join(args)!r} without the space"
                )
            raise ValueError(f"{self.directive} takes one value, got {len(args)}: {joined!r}")
        return args[0]

    # --- nodes and timing -----------------------------------------------------------

    def _node(self, args: list[str], rest: str, line: int) -> None:
        for arg in args:
            name = values.node_name(arg)
            if name in self.nodes:
                self.warn(line, f"node {name!r} is listed twice")
            else:
                self.nodes.append(name)

    def _time(self, args: list[str], rest: str, line: int) -> None:
        millis = values.duration_ms(self.one(args))
        if millis == 0 and self.directive in ("keepalive", "deadtime"):
            raise ValueError(f"{self.directive} must be more than 0")
        self.millis[self.directive] = millis

    def _failure_timeout(self, args: list[str], rest: str, line: int) -> None:
        self.millis[self.directive] = values.duration_ms(self.one(args), units=True)

    def _scalar(self, args: list[str], rest: str, line: int) -> None:
        _SCALARS[self.directive](self.one(args))
        self.scalars[self.directive] = args[0]

    # --- media -----------------------------------------------------------------------

    def _udpport(self, args: list[str], rest: str, line: int) -> None:
        self.udpport = values.port(self.one(args))
        for medium in self.media:
            if medium.kind in ("bcast", "ucast", "ucast6") and medium.port != self.udpport:
                self.warn(
                    line,
                    f"udpport {self.udpport} comes after the {medium.kind} line at line "
                    f"{medium.line}, which keeps port {medium.port} (Heartbeat reads udpport "
                    "once, for its first medium: put udpport above all media lines)",
                )
                break

    def _baud(self, args: list[str], rest: str, line: int) -> None:
        if "baud" in self.lines:
            first = self.lines["baud"]
            raise ValueError(f"baud may be given only once (already set at line {first})")
        self.baud = values.baud(self.one(args))
        if any(medium.kind == "serial" for medium in self.media):
            self.warn(line, "baud comes after a serial line, which keeps 19200 baud; move it up")

    def add_media(self, new: list[Medium], line: int) -> None:
        for medium in new:
            for old in self.media:
                if old.kind == medium.kind and old.device == medium.device and (
                    old.group, old.peer, old.port) == (medium.group, medium.peer, medium.port):
                    self.warn(line, f"{medium.kind} {medium.device} repeats line {old.line}")
            self.media.append(medium)

    def _bcast(self, args: list[str], rest: str, line: int) -> None:
        if self.directive == "udp":
            self.warn(line, f"'udp' is an old name for 'bcast'; write 'bcast {rest}'")
        self.add_media(media.bcast_media(args, self.udpport, line, self.directive), line)

    def _medium(self, args: list[str], rest: str, line: int) -> None:
        if self.directive == "mcast":
            medium, warning = media.mcast_medium(args, line)
            self.warnings.extend([(line, warning)] if warning else [])
            new = [medium]
        elif self.directive == "mcast6":
            new = [media.mcast6_medium(args, line)]
        elif self.directive == "ucast":
            new = [media.ucast_medium(args, self.udpport, line)]
        elif self.directive == "ucast6":
            new = [media.ucast6_medium(args, self.udpport, line)]
        else:
            new = media.serial_media(args, self.baud, line)
        self.add_media(new, line)

    def add_pings(self, new: list[PingNode]) -> None:
        for node in new:
            for old in self.ping_nodes:
                if old.name == node.name:
                    raise ValueError(f"ping node {node.name!r} is already defined at line "
                                     f"{old.line}")
            self.ping_nodes.append(node)

    def _ping(self, args: list[str], rest: str, line: int) -> None:
        single = self.directive == "ping"
        self.add_pings(media.ping_nodes(args, line) if single else [media.ping_group(args, line)])

    # --- resources, children, fencing ----------------------------------------------

    def _nice_failback(self, args: list[str], rest: str, line: int) -> None:
        mode = "off" if values.boolean(self.one(args)) else "legacy"
        self.scalars["auto_failback"] = mode
        self.raw["auto_failback"] = [mode]  # what hbparameter must report
        self.warn(line, f"nice_failback is obsolete; write 'auto_failback {mode}' instead")

    def _respawn(self, args: list[str], rest: str, line: int) -> None:
        failfast = self.directive == "failfast"
        self.respawns.append(commands.parse_respawn(rest, failfast, line))

    def _stonith(self, args: list[str], rest: str, line: int) -> None:
        self.stonith = commands.parse_stonith(rest)

    def _stonith_host(self, args: list[str], rest: str, line: int) -> None:
        self.stonith_hosts.append(commands.parse_stonith_host(rest, line))

    def _watchdog(self, args: list[str], rest: str, line: int) -> None:
        if self.watchdog is not None:
            raise ValueError(f"watchdog may be given only once (already {self.watchdog})")
        self.watchdog = values.absolute_path(self.one(args), "watchdog device")

    def _web(self, args: list[str], rest: str, line: int) -> None:
        if self.web is not None:
            raise ValueError("web may be given only once")
        self.web = parse_web(args)

    # --- compatibility ---------------------------------------------------------------

    def _crm(self, args: list[str], rest: str, line: int) -> None:
        value = self.one(args).lower()
        if value not in CRM_VALUES:
            raise values.BadValue("value", args[0], "use off, or one of on respawn minimal manual")
        if CRM_VALUES.index(value) >= 5:
            self.warn(line, f"{self.directive} {value}: Pacemaker mode is not available; "
                      "this stack runs the haresources groups itself")

    # --- whole-file checks ----------------------------------------------------------

    def finish(self) -> HaConfig:
        if not self.media:
            raise self.fail(
                None, "no heartbeat media defined (add a bcast, mcast, ucast or serial line)"
            )
        if not self.nodes and self.scalars.get("autojoin", "").lower() != "any":
            raise self.fail(None, "no node lines (list every cluster member, e.g. node alice bob)")
        keepalive, deadtime, warntime, initdead, deadping = self.timing()
        for ping in self.ping_nodes:
            if ping.name in self.nodes:
                raise self.fail(ping.line, f"ping node {ping.name!r} has a cluster node's name")
        for host in self.stonith_hosts:
            if self.nodes and host.from_node != "*" and host.from_node not in self.nodes:
                self.warn(host.line, f"stonith_host names {host.from_node!r}, which is not a node "
                          "of this cluster; no node will use this line")
        get = self.scalars.get
        logging_set = any(name in self.scalars for name in ("logfile", "debugfile", "logfacility"))
        use_logd = values.boolean(get("use_logd", "no" if logging_set else "yes"))
        if not use_logd and not logging_set:
            raise self.fail(self.lines["use_logd"], "use_logd is off but there is no logfile, "
                            "debugfile or logfacility: nothing would be logged")
        if "auto_failback" not in self.scalars:
            self.warn(None, "auto_failback is not set; using 'legacy' as Heartbeat does "
                      "(for active/passive pairs, 'off' avoids moving services twice)")
        # Warnings in line order (stable), whole-file ones last.
        warnings = sorted(self.warnings, key=lambda item: 10**9 if item[0] is None else item[0])
        raw = {name: tuple(found) for name, found in self.raw.items()}
        for name, spec in DIRECTIVES.items():
            if spec.default is not None and name not in raw:
                raw[name] = (spec.default,)
        return HaConfig(
            path=self.path, nodes=tuple(self.nodes), keepalive=keepalive, deadtime=deadtime,
            warntime=warntime, initdead=initdead, deadping=deadping, udpport=self.udpport,
            baud=self.baud, media=tuple(self.media), ping_nodes=tuple(self.ping_nodes),
            auto_failback=values.failback_mode(get("auto_failback", "legacy")),
            respawns=tuple(self.respawns), stonith_hosts=tuple(self.stonith_hosts),
            stonith=self.stonith, watchdog=self.watchdog, logfile=get("logfile"),
            debugfile=get("debugfile"),
            logfacility=_opt(values.syslog_facility, get("logfacility")),
            use_logd=use_logd, debug=values.debug_level(get("debug", "0")),
            realtime=values.boolean(get("realtime", "true")),
            autojoin=values.autojoin(get("autojoin", "none")),
            hopfudge=values.hopfudge(get("hopfudge", "1")), raw=values.FrozenDict(raw),
            warnings=tuple(located(self.path, line, text) for line, text in warnings),
            failure_timeout=self.millis.get("failure_timeout", 0) / 1000 or None,
            web=self.web,
        )  # fmt: skip

    def timing(self) -> tuple[float, float, float, float, float]:
        """Apply Heartbeat's defaults and cross-checks; returns seconds in ``_TIMES`` order."""
        fmt = values.format_duration
        keepalive = self.millis.get("keepalive", 1000)
        deadtime = self.millis.get("deadtime", 30000)
        if deadtime <= 2 * keepalive:
            line = self.lines.get("deadtime", self.lines.get("keepalive"))
            raise self.fail(line, f"deadtime {fmt(deadtime / 1000)} must be more than twice "
                            f"keepalive ({fmt(keepalive / 1000)}); raise deadtime or lower "
                            "keepalive")
        warntime = self.millis.get("warntime", deadtime // 2)
        if warntime >= deadtime:
            self.warn(self.lines.get("warntime"), f"warntime {fmt(warntime / 1000)} is not less "
                      f"than deadtime {fmt(deadtime / 1000)}, so no late heartbeat is reported")
        if deadtime > 10000:
            default_initdead = deadtime
        elif deadtime < 6000:
            default_initdead = 12000
        else:
            default_initdead = 2 * deadtime
        initdead = self.millis.get("initdead", default_initdead)
        if initdead < deadtime:
            raise self.fail(self.lines.get("initdead"), f"initdead {fmt(initdead / 1000)} must "
                            f"be at least deadtime ({fmt(deadtime / 1000)})")
        if initdead < 10000:
            self.warn(self.lines.get("initdead"), f"initdead {fmt(initdead / 1000)} is under 10s: "
                      "after a reboot slow links can make this node think its peer is dead")
        deadping = self.millis.get("deadping", deadtime)
        if deadping <= 2 * keepalive:
            raise self.fail(self.lines.get("deadping", self.lines.get("keepalive")),
                            f"deadping {fmt(deadping / 1000)} must be more than twice "
                            f"keepalive ({fmt(keepalive / 1000)})")
        ordered = (keepalive, deadtime, warntime, initdead, deadping)
        seconds = tuple(millis / 1000 for millis in ordered)
        return seconds[0], seconds[1], seconds[2], seconds[3], seconds[4]


def _opt(convert: Callable[[str], str], text: str | None) -> str | None:
    return None if text is None else convert(text)
