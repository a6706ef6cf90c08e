"""What happened, for people: node deaths and joins, failovers with their outage, standby,
resource failures and fencing, derived from successive cluster pictures.

Pure: :class:`Timeline` compares each new picture (see :mod:`cluster.web.picture`)
with the previous one and returns new entries.  A failover's duration runs from
the first moment the group was seen not serving (its node offline, or the group
not started anywhere) to the moment it is started again, as this node saw it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cluster.web.picture import Picture

Entry = dict[str, Any]


@dataclass
class _GroupTrack:
    node: str | None = None            # where it last ran
    away_since: float | None = None    # when it stopped serving, if it has


@dataclass
class Timeline:
    """Feed pictures with :meth:`observe`; it returns the new entries, each with an id
    made of `origin` (this node), the kind and the time."""

    origin: str = ""
    _nodes: dict[str, str] = field(default_factory=dict)
    _groups: dict[str, _GroupTrack] = field(default_factory=dict)
    _failures: set[tuple[str, str, str, float]] = field(default_factory=set)
    _primed: bool = False

    def observe(self, picture: Picture, now: float) -> list[Entry]:
        entries: list[Entry] = []
        states = {n["name"]: n["state"] for n in picture["nodes"]}
        if self._primed:
            entries += self._node_changes(states, now)
        self._nodes = states
        entries += self._group_changes(picture, states, now)
        entries += self._new_failures(picture, now)
        self._primed = True
        return entries

    def fenced(self, node: str, ok: bool, device: str, detail: str, now: float) -> Entry:
        if ok:
            return self._entry(now, "fence", f"{node} was fenced by {device}", node=node)
        return self._entry(now, "fence-failed", f"fencing {node} failed: {detail}", node=node)

    def _node_changes(self, states: dict[str, str], now: float) -> list[Entry]:
        out: list[Entry] = []
        for name, state in states.items():
            before = self._nodes.get(name)
            if before is None or before == state:
                continue
            if state == "offline":
                out.append(self._entry(now, "node-dead", f"{name} left the cluster", node=name))
            elif state == "standby":
                out.append(self._entry(now, "standby", f"{name} went standby", node=name))
            elif before == "offline":
                out.append(self._entry(now, "node-join", f"{name} joined the cluster", node=name))
            else:
                out.append(self._entry(now, "online", f"{name} is online again (standby lifted)",
                                  node=name))
        return out

    def _group_changes(self, picture: Picture, states: dict[str, str],
                       now: float) -> list[Entry]:
        out: list[Entry] = []
        for group in picture["groups"]:
            key = group["key"]
            track = self._groups.setdefault(key, _GroupTrack())
            holder = group["node"]
            serving = holder is not None and states.get(holder) != "offline"
            if not serving:
                if track.away_since is None and track.node is not None:
                    track.away_since = now
                continue
            if track.node is not None and holder != track.node and self._primed:
                away = now - (track.away_since if track.away_since is not None else now)
                out.append(self._entry(now, "failover",
                                  f"{key} moved from {track.node} to {holder}",
                                  node=holder, group=key, duration=round(away, 3)))
            elif track.away_since is not None and self._primed:
                away = now - track.away_since
                out.append(self._entry(now, "restart", f"{key} running again on {holder}",
                                  node=holder, group=key, duration=round(away, 3)))
            track.node = holder
            track.away_since = None
        return out

    def _new_failures(self, picture: Picture, now: float) -> list[Entry]:
        out: list[Entry] = []
        seen: set[tuple[str, str, str, float]] = set()
        for f in picture["failed_actions"]:
            key = (f["node"], f["resource"], f["action"], f["when"])
            seen.add(key)
            if key not in self._failures and self._primed:
                out.append(self._entry(f["when"], "failure",
                                  f"{f['resource']} {f['action']} failed on {f['node']}: "
                                  f"{f['outcome']}", node=f["node"], group=f["group"]))
        self._failures = seen
        return out

    def _entry(self, when: float, kind: str, text: str, *, node: str | None = None,
               group: str | None = None, duration: float | None = None) -> Entry:
        return {"id": f"{self.origin}:{kind}:{when:.3f}", "when": when, "kind": kind,
                "text": text, "node": node, "group": group, "duration": duration}
