"""The configuration directory (``/etc/ha.d``): the one place that reads config files.

Role: :func:`load_config` reads ``ha.cf``, ``haresources`` (optional), ``authkeys``
(required, mode checked with ``fstat``) and ``nodeinfo`` (optional) from one
directory, runs the pure parsers, and adds the checks that need the running system:
which node we are, whether ``respawn``/``failfast`` users exist and their programs
are executable. It returns a frozen :class:`ClusterConfig` or raises ``ConfigError``.
Every daemon and ``cluster-mcp --check`` call it; :func:`describe` renders the
summary that ``--check`` prints.

Files are decoded as UTF-8 with ``surrogateescape``, so odd bytes in comments never
stop a node and an authkeys secret keeps its exact bytes.

Built-in daemons: classic configs say ``respawn hacluster /usr/lib/heartbeat/ipfail``.
:func:`legacy_daemon` recognises such paths and names the daemon of this stack
that replaces the program; those lines are not checked against the file system
(neither the path nor the user), because the MCP runs its own daemon instead.
"""

from __future__ import annotations

import os
import posixpath
import pwd
from dataclasses import dataclass
from pathlib import Path

from cluster.config import values
from cluster.config.authkeys import AuthKeys, parse_authkeys
from cluster.config.errors import ConfigError
from cluster.config.hacf import HaConfig, RespawnSpec, parse_hacf
from cluster.config.haresources import ResourceGroup, parse_haresources

__all__ = ["ClusterConfig", "describe", "legacy_daemon", "load_config"]

#: Program name in a Heartbeat/Pacemaker library directory -> our daemon's name.
_LEGACY_DAEMONS: values.FrozenDict[str, str] = values.FrozenDict(
    {"ipfail": "ipfail", "ccm": "ccm", "stonithd": "stonithd", "crmd": "crmd",
     "watchdog": "watchdog"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """Everything one node needs to know, checked against this machine.

    ``groups`` is empty when there is no ``haresources`` file. ``local_node`` is
    lower-cased and, unless ``autojoin any``, one of ``ha.nodes``.
    """

    directory: Path
    ha: HaConfig
    groups: tuple[ResourceGroup, ...]
    authkeys: AuthKeys
    local_node: str

    @property
    def warnings(self) -> tuple[str, ...]:
        """Every warning of every file, ready to print."""
        return self.ha.warnings + self.authkeys.warnings

    @property
    def peers(self) -> tuple[str, ...]:
        """The configured nodes other than this one."""
        return tuple(node for node in self.ha.nodes if node != self.local_node)


def legacy_daemon(command: str) -> str | None:
    """The built-in daemon that replaces a classic Heartbeat program, or ``None``.

    ``command`` is a program path or a whole command line; its first word counts.
    A program named ipfail, ccm, stonithd, crmd or watchdog in a directory called
    ``heartbeat`` or ``pacemaker`` under ``/usr/lib*`` (``/usr/lib/heartbeat``,
    ``/usr/lib64/heartbeat``, ``/usr/libexec/heartbeat``, ``/usr/lib/pacemaker``,
    Debian's multiarch ``/usr/lib/<triplet>/heartbeat`` ...) maps to the daemon of
    the same name: ``legacy_daemon("/usr/lib/heartbeat/ipfail") == "ipfail"``.
    """
    words = command.split()
    if not words or not words[0].startswith("/usr/lib"):
        return None
    directory, name = posixpath.split(posixpath.normpath(words[0]))
    if posixpath.basename(directory) not in ("heartbeat", "pacemaker"):
        return None
    return _LEGACY_DAEMONS.get(name)


def load_config(directory: Path | str, node_name: str | None = None) -> ClusterConfig:
    """Read and check the configuration in ``directory`` (usually ``/etc/ha.d``).

    ``node_name`` (``--node``) wins; otherwise the first line of ``DIR/nodeinfo``,
    otherwise ``uname -n``; lower-cased either way, as Heartbeat does.
    """
    directory = Path(directory)
    ha_path = directory / "ha.cf"
    ha = parse_hacf(_read(ha_path, "every node needs ha.cf (see ha.cf(5))"), str(ha_path))
    local = _local_node(directory, node_name)
    if ha.autojoin != "any" and local not in ha.nodes:
        raise ConfigError(
            str(ha_path), None, f"this node {local!r} is not in ha.cf's node list "
            f"({', '.join(ha.nodes)}); set --node or fix ha.cf",
        )  # fmt: skip
    keys_path = directory / "authkeys"
    keys_text, mode = _read_with_mode(keys_path)
    authkeys = parse_authkeys(keys_text, str(keys_path), mode)
    groups: tuple[ResourceGroup, ...] = ()
    resources_path = directory / "haresources"
    if resources_path.exists():
        text = _read(resources_path, "")
        groups = parse_haresources(text, str(resources_path), ha.nodes)
    if groups and ha.autojoin != "none":
        raise ConfigError(
            str(ha_path), None, f"autojoin {ha.autojoin} cannot be used with haresources "
            "(resource groups need a fixed node list); set autojoin none",
        )  # fmt: skip
    for spec in ha.respawns:
        _check_respawn(ha.path, spec)
    return ClusterConfig(directory, ha, groups, authkeys, local)


def _read(path: Path, why: str) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(path), None, f"file not found; {why}") from None
    except OSError as err:
        raise ConfigError(str(path), None, f"cannot read: {err.strerror}") from None
    return data.decode("utf-8", "surrogateescape")


def _read_with_mode(path: Path) -> tuple[str, int]:
    """Read a file and its mode from the same open file (no stat/open race)."""
    try:
        with path.open("rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            data = handle.read()
    except FileNotFoundError:
        raise ConfigError(
            str(path), None, "file not found; every node needs the cluster's keys "
            "('auth 1' and '1 sha256 <secret>', mode 600)",
        ) from None  # fmt: skip
    except OSError as err:
        raise ConfigError(str(path), None, f"cannot read: {err.strerror}") from None
    return data.decode("utf-8", "surrogateescape"), mode


def _local_node(directory: Path, node_name: str | None) -> str:
    source = "--node"
    if node_name is None:
        nodeinfo = directory / "nodeinfo"
        if nodeinfo.exists():
            source = str(nodeinfo)
            node_name = _read(nodeinfo, "").split("\n", 1)[0].strip(" \t\r")
        else:
            source, node_name = "uname -n", os.uname().nodename
    try:
        return values.node_name(node_name)
    except values.BadValue as err:
        line = 1 if source.endswith("nodeinfo") else None
        raise ConfigError(source, line, err.describe("this node")) from None


def _check_respawn(path: str, spec: RespawnSpec) -> None:
    if legacy_daemon(spec.command) is not None:
        return
    try:
        pwd.getpwnam(spec.user)
    except KeyError:
        raise ConfigError(
            path, spec.line, f"{spec.directive} user {spec.user!r} does not exist "
            "(create it, or run the program as an existing user)",
        ) from None  # fmt: skip
    program = spec.argv[0]
    if not os.path.exists(program):
        raise ConfigError(path, spec.line, f"{spec.directive} program {program!r} does not exist")
    if not os.path.isfile(program) or not os.access(program, os.X_OK):
        raise ConfigError(
            path, spec.line, f"{spec.directive} program {program!r} is not an executable file"
        )


def describe(config: ClusterConfig) -> str:
    """The human-readable summary printed by ``cluster-mcp --check``; never shows secrets."""
    ha = config.ha
    fmt = values.format_duration
    key = config.authkeys.active_key
    key_list = ", ".join(str(index) for index in sorted(config.authkeys.keys))
    sections: list[tuple[str, list[tuple[str, ...]]]] = [
        (f"Cluster configuration in {config.directory}", [
            ("this node", config.local_node),
            ("nodes", ", ".join(ha.nodes) or "(any: autojoin any)"),
            ("auto_failback", ha.auto_failback),
            ("autojoin", ha.autojoin),
            ("authentication", f"{key.method}, key {key.index} (keys: {key_list})"),
        ]),
        (f"Heartbeat media ({len(ha.media)})",
         [(m.kind, m.name, m.describe()) for m in ha.media]),
        ("Timing", [
            ("keepalive", fmt(ha.keepalive)), ("deadtime", fmt(ha.deadtime)),
            ("warntime", fmt(ha.warntime)), ("initdead", fmt(ha.initdead)),
            ("deadping", fmt(ha.deadping)),
        ]),
        (f"Ping nodes ({len(ha.ping_nodes)})",
         [(p.name, ", ".join(p.addresses)) for p in ha.ping_nodes]),
        (f"Respawned programs ({len(ha.respawns)})", [_respawn_row(s) for s in ha.respawns]),
        ("Fencing", _fencing_rows(config)),
        ("Logging", [
            ("logfile", ha.logfile or "-"), ("debugfile", ha.debugfile or "-"),
            ("logfacility", ha.logfacility or "-"), ("use_logd", "yes" if ha.use_logd else "no"),
            ("debug", str(ha.debug)), ("realtime", "on" if ha.realtime else "off"),
        ]),
        (f"Resource groups ({len(config.groups)}; started left to right, stopped right to left)",
         [(g.node, " -> ".join(r.token for r in g.resources)) for g in config.groups]),
        (f"Warnings ({len(config.warnings)})", [(w,) for w in config.warnings]),
    ]  # fmt: skip
    out: list[str] = []
    for title, rows in sections:
        out.append(title)
        out.extend(_aligned(rows) if rows else ["  (none)"])
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _respawn_row(spec: RespawnSpec) -> tuple[str, ...]:
    builtin = legacy_daemon(spec.command)
    note = f"built-in daemon: {builtin}" if builtin else ""
    if spec.failfast:
        note = f"failfast{', ' if note else ''}{note}"
    return (spec.user, spec.command, f"({note})" if note else "")


def _fencing_rows(config: ClusterConfig) -> list[tuple[str, ...]]:
    ha = config.ha
    used = ha.stonith_hosts_for(config.local_node)
    rows: list[tuple[str, ...]] = []
    if ha.stonith is not None:
        rows.append(("stonith", ha.stonith[0], ha.stonith[1]))
    for host in ha.stonith_hosts:
        where = "used by this node" if host in used else "for another node"
        rows.append((f"stonith_host {host.from_node}", host.type, host.raw_params, f"({where})"))
    rows.append(("watchdog", ha.watchdog or "-"))
    return rows


def _aligned(rows: list[tuple[str, ...]]) -> list[str]:
    """Left-align columns (two spaces apart, indented two); the last column runs free."""
    widths: dict[int, int] = {}
    for row in rows:
        for column, cell in enumerate(row[:-1]):
            widths[column] = max(widths.get(column, 0), len(cell))
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + [row[-1]]
        lines.append(("  " + "  ".join(cells)).rstrip())
    return lines
