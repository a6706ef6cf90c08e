"""The cluster-wide status table every crmd keeps, and how events fold into it.

Role: a sans-I/O core.  :class:`StateTracker` is fed membership views
(:meth:`~StateTracker.on_view`), nodes' resource reports
(:meth:`~StateTracker.on_report`, our own included) and fencing results
(:meth:`~StateTracker.on_fenced`); :meth:`~StateTracker.snapshot` freezes it
into a :class:`ClusterState`, the only input of :func:`cluster.crmd.policy.decide`.
No sockets, no clock, no logging: the service logs the events returned.

Theory of operation.  For every node we keep its *latest report* — for a
member, what it holds now; for a departed node, the last thing it told us —
and the membership facts around it:

* ``member_since``: the view instance in which the node (re)joined.  A
  report sent in an older instance is *stale*: the node may have acted on a
  command since, so a departed node whose report is stale "may hold
  anything", exactly like a node we never heard from.
* ``fenced``: STONITH confirmed the node is off; it holds nothing.  Cleared
  when it rejoins.
* ``abandoned``: groups a departed node (one we had seen) may have held but
  which a member has since reported started.  We took them over (after fencing, or with
  Heartbeat's warning when no STONITH is configured), so they no longer
  block later starts.  Cleared when the node rejoins.

:meth:`NodeInfo.may_hold` combines these into the one question the policy
asks before starting a group anywhere.

``failed_at`` notes, per group the node reports failed, when (on this crmd's
clock: reports carry no comparable time) that failure was first seen — a
failed state with a fail count not seen before.  The policy spaces restarts in
place from it (the restart backoff).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from cluster.crmd.intent import NO_INTENTS, Intents

__all__ = [
    "ClusterState",
    "GroupState",
    "GroupStatus",
    "NodeInfo",
    "NodeReport",
    "StateTracker",
    "View",
    "ViewEvent",
    "standby_covers",
    "standby_remove",
    "standby_union",
]


class GroupState(enum.Enum):
    """A group on one node.  UNKNOWN only exists locally, before the first probe."""

    UNKNOWN = "unknown"
    STOPPED = "stopped"
    STARTING = "starting"
    STARTED = "started"
    STOPPING = "stopping"
    FAILED = "failed"

    @property
    def active(self) -> bool:
        """Something of the group may be running (anything but stopped)."""
        return self is not GroupState.STOPPED


def standby_union(current: str, which: str) -> str:
    """Standby classes add up: local + foreign = all."""
    which = "foreign" if which == "failback" else which
    if current == which or which == "":
        return current
    if current == "":
        return which
    return "all"


def standby_remove(current: str, which: str) -> str:
    """What remains of ``current`` after taking over ``which`` (all/local/foreign)."""
    if which == "all" or current == which or current == "":
        return ""
    if current == "all":
        return "foreign" if which == "local" else "local"
    return current


def standby_covers(which: str, node: str, preferred: str) -> bool:
    """Does the class ``which`` (from ``node``'s point of view) include a group
    whose preferred node is ``preferred``?  local = groups whose home is
    ``node``, foreign = the others, failback = foreign (Heartbeat)."""
    if which == "all":
        return True
    if which == "local":
        return preferred == node
    if which in ("foreign", "failback"):
        return preferred != node
    return False


@dataclass(frozen=True, slots=True)
class GroupStatus:
    state: GroupState = GroupState.STOPPED
    fail_count: int = 0
    since: int = 0
    resources: tuple[str, ...] = ()   # per resource: started | stopped | failed | unknown


_STOPPED = GroupStatus()


@dataclass(frozen=True, slots=True)
class NodeReport:
    """What a node last said about itself (NodeResources, minus the wire)."""

    instance: int
    joined: int = 0
    groups: Mapping[str, GroupStatus] = field(default_factory=dict)
    leaving: bool = False
    standby: str = ""
    wants: frozenset[str] = frozenset()
    standby_seq: int = 0
    boot: str = ""

    def group(self, key: str) -> GroupStatus:
        return self.groups.get(key, _STOPPED)

    @property
    def holds_nothing(self) -> bool:
        return not any(status.state.active for status in self.groups.values())


@dataclass(frozen=True, slots=True)
class View:
    instance: int
    members: frozenset[str]
    quorate: bool = True


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """Everything known about one node."""

    name: str
    member: bool = False
    report: NodeReport | None = None
    member_since: int | None = None
    fenced: bool = False
    abandoned: frozenset[str] = frozenset()
    failed_at: Mapping[str, float] = field(default_factory=dict)

    @property
    def trusted_report(self) -> NodeReport | None:
        """The report, unless it predates the node's latest (re)join."""
        report = self.report
        if report is None:
            return None
        if self.member_since is not None and report.instance < self.member_since:
            return None
        return report

    def current(self, instance: int) -> bool:
        """A member's report was sent in ``instance`` (the barrier before starts)."""
        return self.report is not None and self.report.instance >= instance

    def may_hold(self, key: str, in_flight: bool = False) -> bool:
        """Could this departed node still run (part of) group ``key``?"""
        if self.fenced or key in self.abandoned:
            return False
        if in_flight:
            return True
        report = self.trusted_report
        return report is None or report.group(key).state.active

    @property
    def leaving(self) -> bool:
        report = self.trusted_report
        return report is not None and report.leaving

    @property
    def standby(self) -> str:
        report = self.trusted_report
        return report.standby if report is not None else ""

    @property
    def standby_seq(self) -> int:
        report = self.trusted_report
        return report.standby_seq if report is not None else 0

    @property
    def wants(self) -> frozenset[str]:
        report = self.trusted_report
        return report.wants if report is not None else frozenset()

    def state_of(self, key: str) -> GroupState | None:
        """The group's state in the trusted report (None: no trusted report)."""
        report = self.trusted_report
        return report.group(key).state if report is not None else None


@dataclass(frozen=True, slots=True)
class ClusterState:
    """The frozen input of the policy.

    ``in_flight`` holds (group, node) pairs the DC told to start (or restart)
    and whose reports do not show it yet: they count as holders.
    """

    local: str
    now: float
    view: View | None
    nodes: Mapping[str, NodeInfo]
    in_flight: frozenset[tuple[str, str]] = frozenset()
    started: float = float("-inf")    # when this crmd started (same clock as ``now``)
    intents: Intents = NO_INTENTS     # the operator's, as they hold now (cluster.crmd.intent)

    def node(self, name: str) -> NodeInfo:
        return self.nodes.get(name, NodeInfo(name))

    @property
    def members(self) -> tuple[str, ...]:
        return tuple(sorted(self.view.members)) if self.view is not None else ()


@dataclass(frozen=True, slots=True)
class ViewEvent:
    """What a new view changed, for the service's log: joined and departed nodes."""

    instance: int
    joined: tuple[str, ...]
    departed: tuple[str, ...]


def _failed_at(info: NodeInfo, report: NodeReport, now: float) -> dict[str, float]:
    before = info.report
    out: dict[str, float] = {}
    for key, status in report.groups.items():
        if status.state is not GroupState.FAILED:
            continue
        old = before.group(key) if before is not None else None
        seen = (old is not None and old.state is GroupState.FAILED
                and old.fail_count == status.fail_count and key in info.failed_at)
        out[key] = info.failed_at[key] if seen else now
    return out


class StateTracker:
    """The mutable status table; every method is a pure fold of one input."""

    def __init__(self, local: str, nodes: Iterable[str],
                 started: float = float("-inf")) -> None:
        self.local = local
        self.started = started
        self.view: View | None = None
        self._nodes: dict[str, NodeInfo] = {name: NodeInfo(name) for name in nodes}
        self._nodes.setdefault(local, NodeInfo(local))

    def node(self, name: str) -> NodeInfo:
        return self._nodes.get(name, NodeInfo(name))

    def on_view(self, view: View) -> ViewEvent | None:
        """Fold a formed view; None when it is not newer than the one we have."""
        if self.view is not None and view.instance <= self.view.instance:
            return None
        previous = self.view.members if self.view is not None else frozenset()
        self.view = view
        for name in view.members:
            self._nodes.setdefault(name, NodeInfo(name))
        joined, departed = [], []
        for name, info in self._nodes.items():
            if name in view.members and not info.member:
                joined.append(name)
                self._nodes[name] = replace(info, member=True, member_since=view.instance,
                                            fenced=False, abandoned=frozenset())
            elif name not in view.members and info.member:
                departed.append(name)
                self._nodes[name] = replace(info, member=False)
        if not previous:
            joined = sorted(view.members)
        return ViewEvent(view.instance, tuple(sorted(joined)), tuple(sorted(departed)))

    def on_report(self, node: str, report: NodeReport, now: float = float("-inf")) -> None:
        """Fold ``node``'s report, received at ``now`` (see ``failed_at``)."""
        info = self._nodes.get(node, NodeInfo(node))
        self._nodes[node] = replace(info, report=report,
                                    failed_at=_failed_at(info, report, now))
        if not info.member:
            return
        started = {key for key, status in report.groups.items()
                   if status.state is GroupState.STARTED}
        if not started:
            return
        for name, other in self._nodes.items():
            seen = other.member_since is not None
            if seen and not other.member and not other.fenced and started - other.abandoned:
                self._nodes[name] = replace(other, abandoned=other.abandoned | started)

    def on_fenced(self, node: str) -> bool:
        """STONITH confirmed ``node`` is off; False if it is a member again."""
        info = self._nodes.get(node, NodeInfo(node))
        if info.member:
            return False
        self._nodes[node] = replace(info, fenced=True)
        return True

    def snapshot(self, now: float, in_flight: frozenset[tuple[str, str]] = frozenset(),
                 intents: Intents = NO_INTENTS) -> ClusterState:
        return ClusterState(self.local, now, self.view, dict(self._nodes), in_flight,
                            self.started, intents)

    def boots(self) -> dict[str, str]:
        """Each node's boot id, as its latest report says (reboot-lifetime standby)."""
        return {name: info.report.boot for name, info in self._nodes.items()
                if info.report is not None and info.report.boot}
