"""What a reload changes: the difference between two :class:`ClusterConfig` values.

Role: pure. :func:`diff_configs` compares the running configuration with the one
just read from disk and returns a :class:`ConfigDiff`; ``cluster-mcp --check
--diff`` prints its :meth:`ConfigDiff.lines` as a preview, the master control
process answers ``cluster-mcp reload`` with the same lines, and each daemon's
``reload`` asks it only about its own part (hbcomm: timings, media, keys; crmd:
groups; the MCP: respawn lines).  One module owns "what changed", so the preview
and what the daemons do can never disagree.

Identity: a medium, ping node or respawn line is the same when everything but its
line number is equal (moving a line in ha.cf changes nothing).  A resource group is
identified by its key (its first resource, Heartbeat's rule); it *changed* when its
preferred node or any resource differs.  ha.cf directives that no daemon applies
live are listed in ``restart``: the preview says a stack restart is needed for them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from cluster.config import values
from cluster.config.confdir import ClusterConfig
from cluster.config.hacf import Medium, PingNode, RespawnSpec
from cluster.config.haresources import ResourceGroup

__all__ = ["TIMINGS", "ConfigDiff", "diff_configs", "unlined"]

#: The ha.cf timers hbcomm applies live.
TIMINGS = ("keepalive", "deadtime", "warntime", "initdead", "deadping")

# ha.cf directives some daemon applies live (everything else needs a restart).
_LIVE = frozenset({
    *TIMINGS, "node", "udpport", "baud", "bcast", "udp", "mcast", "mcast6", "ucast",
    "ucast6", "serial", "ping", "ping_group", "respawn", "failfast", "stonith",
    "stonith_host", "auto_failback", "nice_failback", "failure_timeout",
})  # fmt: skip

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ConfigDiff:
    """Everything that differs; empty tuples mean "no change" for that part."""

    timings: tuple[tuple[str, float, float], ...] = ()
    media_added: tuple[Medium, ...] = ()
    media_removed: tuple[Medium, ...] = ()
    nodes_added: tuple[str, ...] = ()
    nodes_removed: tuple[str, ...] = ()
    ping_added: tuple[PingNode, ...] = ()
    ping_removed: tuple[PingNode, ...] = ()
    respawns_added: tuple[RespawnSpec, ...] = ()
    respawns_removed: tuple[RespawnSpec, ...] = ()
    stonith_changed: bool = False
    keys_added: tuple[int, ...] = ()
    keys_removed: tuple[int, ...] = ()
    keys_changed: tuple[int, ...] = ()
    signing: tuple[int, int] | None = None
    groups_added: tuple[ResourceGroup, ...] = ()
    groups_removed: tuple[ResourceGroup, ...] = ()
    groups_changed: tuple[tuple[ResourceGroup, ResourceGroup], ...] = ()
    groups_unchanged: tuple[str, ...] = ()
    failure_timeout: tuple[float | None, float | None] | None = None
    restart: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not any(getattr(self, f.name) for f in dataclasses.fields(self)
                       if f.name != "groups_unchanged")

    @property
    def media_changed(self) -> bool:
        return bool(self.media_added or self.media_removed)

    @property
    def keys_differ(self) -> bool:
        return bool(self.keys_added or self.keys_removed or self.keys_changed or self.signing)

    def lines(self, *daemons: str) -> list[str]:
        """One line per change, in the words an admin reads in a preview or a log.

        ``daemons`` (``hbcomm``, ``mcp``, ``stonithd``, ``crmd``, ``restart``) picks the
        parts one daemon applies; none means all of them.
        """
        parts = self._parts()
        return [line for name, part in parts.items() if not daemons or name in daemons
                for line in part]

    def _parts(self) -> dict[str, list[str]]:
        fmt = values.format_duration
        hbcomm = [f"{name} {fmt(old)} -> {fmt(new)}" for name, old, new in self.timings]
        hbcomm += [f"heartbeat medium added: {m.kind} {m.name} ({m.describe()})"
                   for m in self.media_added]
        hbcomm += [f"heartbeat medium removed: {m.kind} {m.name}" for m in self.media_removed]
        hbcomm += [f"node added: {n}" for n in self.nodes_added]
        hbcomm += [f"node removed: {n}" for n in self.nodes_removed]
        hbcomm += [f"ping node added: {p.name} ({', '.join(p.addresses)})"
                   for p in self.ping_added]
        hbcomm += [f"ping node removed: {p.name}" for p in self.ping_removed]
        hbcomm += [f"authentication key {i} added (accepted from now on)"
                   for i in self.keys_added]
        hbcomm += [f"authentication key {i} removed (no longer accepted)"
                   for i in self.keys_removed]
        hbcomm += [f"authentication key {i} changed" for i in self.keys_changed]
        if self.signing is not None:
            hbcomm.append(f"signing key {self.signing[0]} -> {self.signing[1]}")
        mcp = [f"respawn added: {s.user} {s.command}" for s in self.respawns_added]
        mcp += [f"respawn removed: {s.user} {s.command}" for s in self.respawns_removed]
        stonithd = (["stonith devices changed: stonithd re-reads them"]
                    if self.stonith_changed else [])
        crmd = [f"group {g.key} added on {g.node}: it starts" for g in self.groups_added]
        crmd += [f"group {g.key} removed: it stops" for g in self.groups_removed]
        crmd += [f"group {new.key} changed: it restarts ({_describe_group(old)} -> "
                 f"{_describe_group(new)})" for old, new in self.groups_changed]
        if self.failure_timeout is not None:
            old_timeout, new_timeout = (values.format_duration(t) if t is not None else "off"
                                        for t in self.failure_timeout)
            crmd.append(f"failure_timeout {old_timeout} -> {new_timeout}")
        restart = [f"{name} changed: applies when the stack restarts" for name in self.restart]
        return {"hbcomm": hbcomm, "mcp": mcp, "stonithd": stonithd, "crmd": crmd,
                "restart": restart}


def diff_configs(old: ClusterConfig, new: ClusterConfig) -> ConfigDiff:
    """What changes when ``new`` replaces ``old`` on this node."""
    ha_old, ha_new = old.ha, new.ha
    timings = tuple((name, getattr(ha_old, name), getattr(ha_new, name)) for name in TIMINGS
                    if getattr(ha_old, name) != getattr(ha_new, name))
    media_added, media_removed = _added_removed(ha_old.media, ha_new.media)
    ping_added, ping_removed = _added_removed(ha_old.ping_nodes, ha_new.ping_nodes)
    respawns_added, respawns_removed = _added_removed(ha_old.respawns, ha_new.respawns)
    stonith_changed = (_unlined(ha_old.stonith_hosts) != _unlined(ha_new.stonith_hosts)
                       or ha_old.stonith != ha_new.stonith)
    keys_old, keys_new = old.authkeys.keys, new.authkeys.keys
    groups_old = {g.key: g for g in old.groups}
    groups_new = {g.key: g for g in new.groups}
    changed = tuple((groups_old[k], g) for k, g in groups_new.items()
                    if k in groups_old and not _same_group(groups_old[k], g))
    restart = tuple(name for name in sorted(set(ha_old.raw) | set(ha_new.raw))
                    if name not in _LIVE and ha_old.raw.get(name) != ha_new.raw.get(name))
    return ConfigDiff(
        timings=timings, media_added=media_added, media_removed=media_removed,
        nodes_added=tuple(n for n in ha_new.nodes if n not in ha_old.nodes),
        nodes_removed=tuple(n for n in ha_old.nodes if n not in ha_new.nodes),
        ping_added=ping_added, ping_removed=ping_removed,
        respawns_added=respawns_added, respawns_removed=respawns_removed,
        stonith_changed=stonith_changed,
        keys_added=tuple(sorted(set(keys_new) - set(keys_old))),
        keys_removed=tuple(sorted(set(keys_old) - set(keys_new))),
        keys_changed=tuple(sorted(i for i in set(keys_old) & set(keys_new)
                                  if keys_old[i] != keys_new[i])),
        signing=(None if old.authkeys.active == new.authkeys.active
                 else (old.authkeys.active, new.authkeys.active)),
        groups_added=tuple(g for k, g in groups_new.items() if k not in groups_old),
        groups_removed=tuple(g for k, g in groups_old.items() if k not in groups_new),
        groups_changed=changed,
        groups_unchanged=tuple(k for k, g in groups_new.items()
                               if k in groups_old and _same_group(groups_old[k], g)),
        failure_timeout=(None if ha_old.failure_timeout == ha_new.failure_timeout
                         else (ha_old.failure_timeout, ha_new.failure_timeout)),
        restart=restart,
    )  # fmt: skip


def unlined(item: _T) -> _T:
    """``item`` (a medium, ping node, respawn or stonith line) without its line number:
    a line moved in ha.cf is the same line."""
    return dataclasses.replace(item, line=0)  # type: ignore[type-var]


def _unlined(items: Iterable[_T]) -> list[_T]:
    return [unlined(item) for item in items]


def _added_removed(old: Sequence[_T], new: Sequence[_T]) -> tuple[tuple[_T, ...], tuple[_T, ...]]:
    old_bare, new_bare = _unlined(old), _unlined(new)
    added = tuple(item for item, bare in zip(new, new_bare, strict=True) if bare not in old_bare)
    removed = tuple(item for item, bare in zip(old, old_bare, strict=True)
                    if bare not in new_bare)
    return added, removed


def _same_group(old: ResourceGroup, new: ResourceGroup) -> bool:
    return old.node == new.node and old.resources == new.resources


def _describe_group(group: ResourceGroup) -> str:
    return f"{group.node} " + " ".join(r.token for r in group.resources)
