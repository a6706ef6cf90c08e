"""What ``ha.cf`` makes a node run: ``respawn``/``failfast`` children and STONITH devices.

Role: the parsers for ``ha.cf``'s whole-line directives that name programs and
fencing devices: ``respawn``, ``failfast``, ``stonith`` and ``stonith_host``. Each
takes the rest of the line verbatim (after the directive, comment removed) and returns
a frozen value, or raises ``ValueError`` (``BadValue`` for a single bad token); the
caller, :mod:`cluster.config.hacf`, adds ``path:line``.

Only syntax is checked here. Whether the user exists and the program is executable
is the loader's business (:func:`cluster.config.confdir.load_config`), and which
device fences which node is ``stonithd``'s.

``RespawnSpec`` and ``StonithHost`` are re-exported by :mod:`cluster.config.hacf`;
import them from there.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from cluster.config import values

__all__ = ["RespawnSpec", "StonithHost", "parse_respawn", "parse_stonith", "parse_stonith_host"]

_USER = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?", re.ASCII)
_STONITH_TYPE = re.compile(r"[A-Za-z0-9_.+-]+(/[A-Za-z0-9_.+-]+)?", re.ASCII)
_USER_AND_COMMAND = re.compile(r"([^ \t]+)[ \t]+(.*[^ \t].*)", re.DOTALL)
_STONITH_HOST = re.compile(r"([^ \t]+)[ \t]+([^ \t]+)(?:[ \t]+(.*))?", re.DOTALL)


@dataclass(frozen=True, slots=True)
class RespawnSpec:
    """A ``respawn`` or ``failfast`` line: run ``command`` as ``user``, restart it on exit.

    ``command`` is the whole command line after the user, verbatim (Heartbeat runs it
    with ``/bin/sh -c "exec <command>"``); its first word is an absolute path.
    ``failfast`` children reboot the node when they die abnormally.
    """

    user: str
    command: str
    failfast: bool = False
    line: int = 0

    @property
    def argv(self) -> tuple[str, ...]:
        """The command split as a POSIX shell would (``shlex.split``); never empty."""
        return tuple(shlex.split(self.command))

    @property
    def directive(self) -> str:
        """``respawn`` or ``failfast``, as written."""
        return "failfast" if self.failfast else "respawn"


@dataclass(frozen=True, slots=True)
class StonithHost:
    """A ``stonith_host <node|*> <type> <params...>`` line.

    ``from_node`` is the node that may use this device (lower-cased) or ``*`` for
    all nodes; ``type`` the plugin (``rps10``, ``external/ssh``, ``meatware``...).
    ``params`` are the whitespace-separated tokens after the type, and
    ``raw_params`` the same text verbatim: Heartbeat gives the plugin's last
    parameter the rest of the line, spaces included, so positional mapping onto
    the plugin's config names must use ``raw_params`` for the last one.
    """

    from_node: str
    type: str
    params: tuple[str, ...]
    raw_params: str
    line: int = 0


def parse_respawn(rest: str, failfast: bool, line: int) -> RespawnSpec:
    """``respawn hacluster /usr/lib/heartbeat/ipfail``: the part after the directive."""
    kind = "failfast" if failfast else "respawn"
    match = _USER_AND_COMMAND.fullmatch(rest.strip(" \t"))
    if match is None:
        raise ValueError(
            f"{kind} takes a user and a command, e.g. {kind} hacluster /usr/lib/heartbeat/ipfail"
        )
    user, command = match.group(1), match.group(2).strip(" \t")
    if _USER.fullmatch(user) is None:
        raise values.BadValue("user name", user, "e.g. hacluster or root")
    try:
        argv = shlex.split(command)
    except ValueError as err:
        raise ValueError(f"cannot split the {kind} command line: {err}") from None
    if not argv or not argv[0].startswith("/"):
        first = argv[0] if argv else command
        raise ValueError(
            f"{kind} command must start with an absolute path, got {first!r} "
            "(e.g. /usr/lib/heartbeat/ipfail)"
        )
    return RespawnSpec(user, command, failfast, line)


def stonith_type(text: str) -> str:
    """A STONITH plugin name: ``rps10``, ``external/ssh``, ``fence_xyz``..."""
    if _STONITH_TYPE.fullmatch(text) is None:
        raise values.BadValue("STONITH device type", text, "e.g. rps10, external/ssh, meatware")
    return text


def parse_stonith(rest: str) -> tuple[str, str]:
    """``stonith <type> <cfgfile>``: Heartbeat R1's single device; returns (type, cfgfile)."""
    words = rest.split()
    if len(words) != 2:
        raise ValueError(
            "stonith takes a device type and its config file, "
            "e.g. stonith baytech /etc/ha.d/conf/stonith.baytech"
        )
    return stonith_type(words[0]), words[1]


def parse_stonith_host(rest: str, line: int) -> StonithHost:
    """``stonith_host * rps10 /dev/ttyS1 alice 0``: the part after the directive."""
    match = _STONITH_HOST.fullmatch(rest.strip(" \t"))
    if match is None:
        raise ValueError(
            "stonith_host takes a node (or *), a device type and its parameters, "
            "e.g. stonith_host * external/ssh alice bob"
        )
    host = match.group(1)
    node = "*" if host == "*" else values.node_name(host)
    device_type = stonith_type(match.group(2))
    raw_params = (match.group(3) or "").strip(" \t")
    params = tuple(p for p in re.split(r"[ \t]+", raw_params) if p)
    return StonithHost(node, device_type, params, raw_params, line)
