"""The table of every ``ha.cf`` directive Heartbeat 3.0.6 knows.

Role: one declarative list (Pacemaker's child table, applied to ha.cf) saying, for
each directive, how its line is split, whether this stack acts on it, the raw
default Heartbeat serves through ``cl_status hbparameter`` when it is not set, and
how to validate the values of directives we accept only for compatibility.
:mod:`cluster.config.hacf` consults it; nothing else should.

* ``whole_line``: the rest of the line is one value (``stonith``, ``stonith_host``,
  ``apiauth``, ``respawn``, ``failfast``); every other directive's rest is split on
  space, tab and comma.
* ``supported``: ``hacf`` has a handler for it and fills an ``HaConfig`` field.
  Unsupported directives are validated with ``check`` (so a typo in a value is
  still an error, as in Heartbeat) and then produce a warning with ``note``.
* ``default``: the text Heartbeat records when the directive is absent (from its
  own directive table: ``keepalive`` -> ``1000ms``); ``None`` means "unset".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from cluster.config import values

__all__ = ["DIRECTIVES", "Directive"]


@dataclass(frozen=True, slots=True)
class Directive:
    """How ``hacf`` treats one directive; see the module docstring."""

    name: str
    whole_line: bool = False
    supported: bool = True
    default: str | None = None
    check: Callable[[str], object] = str
    note: str = ""


def _choice(*options: str) -> Callable[[str], object]:
    def check(text: str) -> str:
        if text.lower() not in options:
            raise values.BadValue("value", text, "use " + " or ".join(options))
        return text.lower()

    return check


def _int(low: int, high: int) -> Callable[[str], object]:
    return lambda text: values.integer(text, low, high)


def _env(text: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", text, re.ASCII) is None:
        raise values.BadValue("env setting", text, "write NAME=value")
    return text


def _plain(text: str) -> str:
    return text


_BOOL = values.boolean
_PACEMAKER = "Pacemaker-only setting"
_NO_LOGD = "this stack has no ha_logd or apphbd"
_NO_COMPRESSION = "messages are never compressed"
_FIXED = "fixed by this stack"

# Supported directives first (handled by hacf), then compatibility-only ones.
_TABLE = (
    Directive("node"),
    Directive("keepalive", default="1000ms"),
    Directive("deadtime", default="30000ms"),
    Directive("warntime"),
    Directive("initdead"),
    Directive("deadping"),
    Directive("hopfudge", default="1"),
    Directive("udpport", default="694"),
    Directive("baud", default="19200"),
    Directive("bcast"),
    Directive("udp"),
    Directive("mcast"),
    Directive("mcast6"),
    Directive("ucast"),
    Directive("ucast6"),
    Directive("serial"),
    Directive("ping"),
    Directive("ping_group"),
    Directive("auto_failback", default="legacy"),
    Directive("nice_failback"),
    Directive("watchdog"),
    Directive("web"),
    Directive("stonith", whole_line=True),
    Directive("stonith_host", whole_line=True),
    Directive("respawn", whole_line=True),
    Directive("failfast", whole_line=True),
    Directive("logfile"),
    Directive("debugfile"),
    Directive("logfacility"),
    Directive("use_logd"),
    Directive("debug"),
    Directive("realtime", default="true"),
    Directive("autojoin", default="none"),
    Directive("crm", default="false"),
    Directive("pacemaker"),
    Directive("failure_timeout"),
    # --- accepted for compatibility; each use gives a warning -------------------------
    Directive("apiauth", True, False, None, _plain, "clients use this stack's bus, not the API"),
    Directive("ping6", False, False, None, values.ipv6, "IPv6 ping nodes are not implemented"),
    Directive("hbaping", False, False, None, _plain, "Fibre Channel ping is not implemented"),
    Directive("conn_logd_time", False, False, "60", values.duration, _NO_LOGD),
    Directive("use_apphbd", False, False, None, _BOOL, _NO_LOGD),
    Directive("rtprio", False, False, None, _int(1, 99), "priorities are " + _FIXED),
    Directive("memreserve", False, False, "6500", _int(0, 10**9), "nothing is preallocated"),
    Directive("hbgenmethod", False, False, "file", _choice("file", "time"), _FIXED),
    Directive("msgfmt", False, False, "classic", _choice("classic", "netstring"), _FIXED),
    Directive("compression", False, False, "zlib", _choice("zlib", "bz2"), _NO_COMPRESSION),
    Directive("compression_threshold", False, False, "2", _int(1, 10**6), _NO_COMPRESSION),
    Directive("traditional_compression", False, False, "no", _BOOL, _NO_COMPRESSION),
    Directive("coredumps", False, False, "true", _BOOL, "core dumps follow the system settings"),
    Directive("coreroot", False, False, None, values.absolute_path, "core dumps follow the system"),
    Directive("crm_daemon_dir", False, False, None, values.absolute_path, _PACEMAKER),
    Directive("crmd_spawns_pengine", False, False, None, _BOOL, _PACEMAKER),
    Directive("record_config_changes", False, False, "on", _BOOL, _PACEMAKER),
    Directive("record_pengine_inputs", False, False, "on", _BOOL, _PACEMAKER),
    Directive("enable_config_writes", False, False, "on", _BOOL, _PACEMAKER),
    Directive("uuidfrom", False, False, "file", _choice("file", "nodename"), "no node UUIDs"),
    Directive("env", False, False, None, _env, "respawned children get no HA_ variables"),
    Directive("max_rexmit_delay", False, False, "250", _int(0, 10**6), _FIXED),
    Directive("cluster", False, False, "linux-ha", _plain, "quorum is " + _FIXED),
    Directive("quorum_server", False, False, None, values.host, "quorum is " + _FIXED),
    Directive("log_badpack", False, False, "true", _BOOL, "logging is " + _FIXED),
    Directive("syslogmsgfmt", False, False, "true", _BOOL, "logging is " + _FIXED),
    Directive("normalpoll", False, False, "true", _BOOL, _FIXED),
)

#: Every directive by name; the key set is exactly what ``ha.cf`` may contain.
DIRECTIVES: values.FrozenDict[str, Directive] = values.FrozenDict(
    (directive.name, directive) for directive in _TABLE
)

#: Values accepted by ``crm``/``pacemaker``; the first five mean "off".
CRM_VALUES = (
    "off", "no", "false", "n", "0",
    "on", "yes", "true", "y", "1", "respawn", "minimal", "manual", "ccm-only", "valgrind",
)  # fmt: skip
