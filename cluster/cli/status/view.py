"""What every rendering of the status shares: the answer, the extras, the options.

:class:`StatusView` wraps crmd's :class:`StatusResult` with what other daemons
add (:class:`Extras`), the sections asked for (:class:`Sections`) and the
time of the snapshot, and answers the questions every renderer asks (which
resources a group has, how many run on a node, the newest failure of a group
on a node), so text, XML and JSON cannot disagree.  Times are printed the way
``crm_mon`` and ``ctime(3)`` print them (Go's ``time.ANSIC``, which
``ha_cluster_exporter`` parses).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from cluster.bus.client import BusError, request
from cluster.bus.messages.crmd import Constraint, FailedAction, ResourceState, StatusResult
from cluster.bus.messages.hbcomm import GetNodes, NodeInfo, NodesResult
from cluster.bus.messages.mon import MonServiceStatus, get_mon_status

__all__ = ["Extras", "Sections", "StatusView", "ctime", "gather_extras", "is_active"]

_EXTRA_TIMEOUT = 0.5   # ping nodes and monitors are extras: never hold the answer up


def ctime(when: float) -> str:
    """``Thu Dec  3 13:23:29 2026``: crm_mon's time format, local time."""
    return time.ctime(when)


@dataclass(frozen=True, slots=True)
class Extras:
    """What other daemons add to the picture: ping nodes (hbcomm), service monitors (mon)."""

    ping_nodes: tuple[NodeInfo, ...] = ()
    monitors: tuple[MonServiceStatus, ...] = ()


def gather_extras(run_dir: Path) -> Extras:
    """Ping nodes and Mon services, when those daemons run here; never fails the tool."""
    ping: tuple[NodeInfo, ...] = ()
    monitors: tuple[MonServiceStatus, ...] = ()
    try:
        nodes = request(run_dir, "hbcomm", GetNodes(), timeout=_EXTRA_TIMEOUT)
        if isinstance(nodes, NodesResult):
            ping = tuple(n for n in nodes.nodes if n.type == "ping")
    except BusError:
        pass
    with contextlib.suppress(BusError):
        monitors = get_mon_status(run_dir, timeout=_EXTRA_TIMEOUT).services
    return Extras(ping, monitors)


@dataclass(frozen=True, slots=True)
class Sections:
    """crm_mon's optional sections: ``-f`` fail counts, ``-r`` inactive resources, ``-L`` bans."""

    fail_counts: bool = False
    inactive: bool = False
    bans: bool = False


@dataclass(frozen=True, slots=True)
class StatusView:
    status: StatusResult
    extras: Extras = field(default_factory=Extras)
    sections: Sections = field(default_factory=Sections)
    now: float = field(default_factory=time.time)

    def members(self, group: str) -> list[ResourceState]:
        return [r for r in self.status.resources if r.group == group]

    def running_on(self, node: str) -> int:
        return sum(1 for r in self.status.resources if r.node == node)

    def last_failure(self, node: str, group: str) -> FailedAction | None:
        return max((f for f in self.status.failed_actions
                    if f.node == node and f.group == group),
                   key=lambda f: f.when, default=None)

    def bans(self) -> list[Constraint]:
        """crm_resource --ban (and failures' bans are fail counts, not these)."""
        return [c for c in self.status.constraints if c.kind == "ban"]

    def managed(self, group: str) -> bool:
        """crmd starts, stops and monitors it (not in maintenance, not --unmanage'd)."""
        return not self.status.maintenance and group not in self.status.unmanaged

    def fail_count_nodes(self) -> list[str]:
        """Nodes with a fail count, in node-list order (the Migration Summary's)."""
        names = {c.node for c in self.status.fail_counts}
        return [n.name for n in self.status.nodes if n.name in names]


def is_active(res: ResourceState) -> bool:
    return res.node is not None
