"""Node and link liveness: the only place that knows the ha.cf timers.

Role: turn "heard node X on link L at time t" into node and link status
changes, late-heartbeat warnings and Heartbeat's "comm up" (reference 4.8).
Sans-I/O: :meth:`Liveness.heard` and :meth:`Liveness.tick` take ``now`` (a
monotonic clock, seconds) and return events; nothing here sleeps, logs or
sends. The shell feeds every packet :class:`~cluster.hbcomm.peers.Receipt`
calls *heard* (including duplicates: a copy on a second medium proves that
medium works), publishes the events, and sleeps until :meth:`next_deadline`
rather than polling: death is then reported exactly at the deadline, not up
to one tick late. (Heartbeat scans every 250 ms; a shell that prefers a
fixed tick of keepalive/4 is still correct, just up to one tick late.)

Theory of operation. Thresholds: before comm up every node is judged
against ``initdead``; afterwards against ``deadtime``, or the deadtime the
node itself advertises in its status (``dt``) when ``use_peer_deadtime`` is
set (Heartbeat's rule: the peer knows how long it may stall); ping nodes use
``deadping``. A node never heard counts from construction time.

Node status (one table, ``_NODE_EDGES``)::

    init   -> up|active|ping  first packet (a status's st decides up/active)
    init   -> dead            silent for initdead since start
    up     -> active          its status now says active (it reached comm up)
    active -> up              its status says up again (it restarted)
    up|active|ping -> dead    silent on every link for the threshold, or its
                              status says st=dead, or left() (shutdown)
    dead   -> up|active|ping  a heartbeat again (other packets, e.g. stray
                              duplicates after a goodbye, do not resurrect)

Links: each (node, link) is ``up`` from its first packet until silent for the
node's threshold (``LinkDead``); configured links start ``dead`` without an
event. The local node is always ``up`` (``active`` after comm up); its links
are tracked from our own packets looping back, if the shell feeds them. When
one of our media fails, :meth:`Liveness.link_lost` marks its link dead for
every node at once.

Late heartbeat: for each heartbeat the interval since the previous one is
measured; above ``warntime`` a :class:`NodeLate` carries it. When a packet
arrives after its node's deadline (the shell stalled, or the heartbeat was
that late), expiry is applied first: ``NodeDead``, ``NodeLate``, ``NodeUp``,
so every consumer sees the gap as a membership change (reference 4.8: "late
heartbeat > deadtime ... marked dead"). Comm up: once every configured node
is past ``init``, :class:`CommUp` is emitted once.

Pauses of our own. Silence is only evidence while we were running to hear
it.  When the shell finds that it was not scheduled for a while (its timer
fired late: an overloaded box, a paused or migrated VM), it calls
:meth:`Liveness.paused` before it reads what queued up meanwhile.  Every pause
since a node was last heard moves its deadline later by the pause's length,
and to no earlier than ``now + min(pause, threshold)``: a peer stalled with us
(two VMs on one busy host) resumes in its own time, possibly after us, and
its heartbeat still has to travel.  The extension is capped at ``threshold +
the longest of those pauses`` past the original deadline, so a loop that is
always a little late cannot postpone a real death forever.  (Corosync does
the same: "Process pause detected ... flushing membership messages".)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

__all__ = [
    "CommUp",
    "LinkDead",
    "LinkUp",
    "Liveness",
    "LivenessConfig",
    "LivenessEvent",
    "NodeActive",
    "NodeDead",
    "NodeLate",
    "NodeStatus",
    "NodeUp",
]


class _Timers(Protocol):
    """The ha.cf timers, as ``cluster.config.hacf.HaConfig`` carries them (seconds)."""

    @property
    def keepalive(self) -> float: ...
    @property
    def deadtime(self) -> float: ...
    @property
    def warntime(self) -> float: ...
    @property
    def initdead(self) -> float: ...
    @property
    def deadping(self) -> float: ...


@dataclass(frozen=True, slots=True)
class LivenessConfig:
    """ha.cf timers in seconds; defaults are Heartbeat's."""

    keepalive: float = 2.0
    deadtime: float = 30.0
    warntime: float = 10.0
    initdead: float = 60.0
    deadping: float = 30.0
    use_peer_deadtime: bool = True  # judge a peer by the dt it advertises (Heartbeat does)

    def __post_init__(self) -> None:
        for name in ("keepalive", "deadtime", "warntime", "initdead", "deadping"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")

    @classmethod
    def from_haconfig(cls, config: _Timers, use_peer_deadtime: bool = True) -> LivenessConfig:
        return cls(config.keepalive, config.deadtime, config.warntime, config.initdead,
                   config.deadping, use_peer_deadtime)


class NodeStatus(Enum):
    INIT = "init"
    UP = "up"
    ACTIVE = "active"
    PING = "ping"  # an alive ping node (cl_status shows "ping")
    DEAD = "dead"


_I, _U, _A, _P, _D = (NodeStatus.INIT, NodeStatus.UP, NodeStatus.ACTIVE, NodeStatus.PING,
                      NodeStatus.DEAD)
_NODE_EDGES = frozenset({
    (_I, _U), (_I, _A), (_I, _P),  # INIT -> UP/ACTIVE/PING: first packet
    (_I, _D),  # INIT -> DEAD: never heard within initdead, or its first status says dead
    (_U, _A),  # UP -> ACTIVE: its status says it reached comm up
    (_A, _U),  # ACTIVE -> UP: its status says up (it restarted quickly)
    (_U, _D), (_A, _D), (_P, _D),  # -> DEAD: silent too long, st=dead, or shutdown
    (_D, _U), (_D, _A), (_D, _P),  # DEAD -> alive: a heartbeat again
})
_ST = {"up": _U, "active": _A, "dead": _D}


@dataclass(frozen=True, slots=True)
class NodeUp:
    node: str


@dataclass(frozen=True, slots=True)
class NodeActive:
    """The peer says it reached comm up (its ``st`` went to ``active``)."""

    node: str


@dataclass(frozen=True, slots=True)
class NodeLate:
    node: str
    interval: float  # seconds between this heartbeat and the previous one


@dataclass(frozen=True, slots=True)
class NodeDead:
    node: str
    silent_for: float  # 0.0 when the node said goodbye (st=dead or shutdown)


@dataclass(frozen=True, slots=True)
class LinkUp:
    node: str
    link: str


@dataclass(frozen=True, slots=True)
class LinkDead:
    node: str
    link: str


@dataclass(frozen=True, slots=True)
class CommUp:
    pass


LivenessEvent = NodeUp | NodeActive | NodeLate | NodeDead | LinkUp | LinkDead | CommUp


@dataclass(slots=True)
class _Link:
    up: bool = False
    last_heard: float = -math.inf


@dataclass(slots=True)
class _Node:
    status: NodeStatus
    since: float  # when we began to wait for it (start, or the reload that added it)
    ping: bool = False
    local: bool = False
    last_heard: float | None = None
    last_heartbeat: float | None = None
    deadtime: float | None = None  # advertised by the node itself
    links: dict[str, _Link] = field(default_factory=dict)
    grace_until: float = -math.inf  # deadlines not before this (after a pause of ours)
    paused_for: float = 0.0  # our pauses since it was last heard, in total
    longest_pause: float = 0.0  # and the longest of them


class Liveness:
    """Status of every configured node and of each of its links."""

    def __init__(self, config: LivenessConfig, local_node: str, nodes: Iterable[str],
                 now: float, *, links: Iterable[str] = (), ping_nodes: Iterable[str] = ()
                 ) -> None:
        self._config = config
        self._local = local_node
        self._start = now
        self._comm_up = False
        self._due: float | None = None  # see due(); None: to be recomputed
        self._nodes: dict[str, _Node] = {}
        link_names = tuple(links)
        for name in (*nodes, local_node):
            self._nodes.setdefault(name, _Node(NodeStatus.INIT, now))
        for name in ping_nodes:
            self._nodes[name] = _Node(NodeStatus.INIT, now, ping=True)
        for name, node in self._nodes.items():
            if name == local_node:
                node.status, node.local = NodeStatus.UP, True
            if not node.ping:
                node.links = {link: _Link() for link in link_names}

    def reconfigure(self, config: LivenessConfig, nodes: Iterable[str], now: float, *,
                    links: Iterable[str], ping_nodes: Iterable[str]) -> None:
        """A reload: new timers; nodes, ping nodes and links as listed now.

        Nodes and links already known keep their state; a new node waits from
        ``now`` (deadtime, not initdead, once comm is up); a removed one is
        forgotten without an event, as if it had never been configured.
        """
        self._config = config
        wanted = {name: False for name in (*nodes, self._local)}
        wanted.update({name: True for name in ping_nodes})
        link_names = tuple(links)
        for name in [n for n, node in self._nodes.items()
                     if n not in wanted or node.ping != wanted[n]]:
            del self._nodes[name]
        for name, ping in wanted.items():
            node = self._nodes.setdefault(name, _Node(NodeStatus.INIT, now, ping=ping))
            if ping:
                continue
            node.links = {link: node.links.get(link, _Link()) for link in link_names}

    # -- queries --------------------------------------------------------------------

    @property
    def comm_up(self) -> bool:
        return self._comm_up

    def nodes(self) -> tuple[str, ...]:
        return tuple(self._nodes)

    def links(self, node: str) -> tuple[str, ...]:
        return tuple(self._nodes[node].links)

    def node_status(self, node: str) -> str:
        """``init``, ``up``, ``active``, ``ping`` (ping nodes) or ``dead``; KeyError if unknown."""
        return self._nodes[node].status.value

    def link_status(self, node: str, link: str) -> str:
        """``up`` or ``dead`` (also for a link never heard)."""
        found = self._nodes[node].links.get(link)
        return "up" if found is not None and found.up else "dead"

    def threshold(self, node: str) -> float:
        """The silence after which ``node`` is declared dead now; KeyError if unknown."""
        return self._threshold(self._nodes[node])

    def next_deadline(self) -> float:
        """The earliest time :meth:`tick` can change anything (``math.inf``: never)."""
        if not self._comm_up and self._settled():
            return self._start
        deadline = math.inf
        for node in self._nodes.values():
            threshold = self._threshold(node)
            for link in node.links.values():
                if link.up:
                    deadline = min(deadline, max(link.last_heard + threshold,
                                                 node.grace_until))
            if not node.local and node.status is not NodeStatus.DEAD:
                deadline = min(deadline, max(self._reference(node) + threshold,
                                             node.grace_until))
        return deadline

    def due(self) -> float:
        """A time no later than :meth:`next_deadline`, cheap enough for every packet.

        It is recomputed only once it has passed or after something that could
        bring a deadline forward (a node or link coming up, a new deadtime, comm
        up); a routine heartbeat only moves deadlines later, so it keeps the old
        bound.  A shell waking at ``due()`` may find :meth:`tick` has nothing to do.
        """
        if self._due is None:
            self._due = self.next_deadline()
        return self._due

    def refresh_due(self) -> None:
        """Let :meth:`due` catch up with the heartbeats heard since it was computed.

        A stale bound costs the shell a wake-up that finds nothing to do (at
        10 ms / 30 ms, one in four); the walk costs less.  For a caller about to
        sleep until ``due()``."""
        self._due = None

    # -- inputs ---------------------------------------------------------------------

    def heard(self, node: str, link: str, now: float, is_heartbeat: bool, *,
              status: str | None = None, deadtime: float | None = None) -> list[LivenessEvent]:
        """A packet from ``node`` arrived on ``link``.

        ``is_heartbeat``: a fresh status (``Receipt.heartbeat``) or a ping reply;
        ``status`` its ``st`` and ``deadtime`` its ``dt`` in seconds. Packets from
        nodes not in the configuration are ignored.
        """
        found = self._nodes.get(node)
        if found is None:
            return []
        events: list[LivenessEvent] = []
        interval = None
        if is_heartbeat and found.last_heartbeat is not None:
            interval = now - found.last_heartbeat
        self._expire(now, events)  # whatever was overdue happened before this packet
        channel = found.links.setdefault(link, _Link())
        channel.last_heard = now
        if not channel.up:
            channel.up = True
            self._due = None
            events.append(LinkUp(node, link))
        found.paused_for = found.longest_pause = 0.0
        if not found.local:
            found.last_heard = now
            if is_heartbeat:
                found.last_heartbeat = now
                if deadtime is not None and deadtime != found.deadtime:
                    found.deadtime = deadtime
                    self._due = None
                if interval is not None and interval > self._config.warntime:
                    events.append(NodeLate(node, interval))
                target = _P if found.ping else _ST.get(status or "up", _U)
                self._become(node, found, target, 0.0, events)
            elif found.status is NodeStatus.INIT:
                self._become(node, found, _U, 0.0, events)
        self._check_comm_up(events)
        return events

    def left(self, node: str, now: float) -> list[LivenessEvent]:
        """``node`` said goodbye (its ``shutdown`` was delivered): dead now."""
        events: list[LivenessEvent] = []
        self._expire(now, events)
        found = self._nodes.get(node)
        if found is not None and not found.local:
            self._become(node, found, _D, 0.0, events)
        self._check_comm_up(events)
        return events

    def paused(self, now: float, duration: float) -> None:
        """We were not running for ``duration`` seconds up to ``now``: that time
        is not held against any node (see "Pauses of our own" above)."""
        self._due = None
        for node in self._nodes.values():
            threshold = self._threshold(node)
            deadline = self._reference(node) + threshold
            node.paused_for += duration
            node.longest_pause = max(node.longest_pause, duration)
            grace = max(deadline + node.paused_for, now + min(duration, threshold))
            cap = deadline + threshold + node.longest_pause
            node.grace_until = max(node.grace_until, min(grace, cap))

    def link_lost(self, link: str) -> list[LivenessEvent]:
        """Our own medium ``link`` failed and was closed: nothing can be heard on
        it, so it is dead for every node now rather than at its deadline."""
        events: list[LivenessEvent] = []
        self._due = None
        for name, node in self._nodes.items():
            found = node.links.get(link)
            if found is not None and found.up:
                found.up = False
                events.append(LinkDead(name, link))
        return events

    def tick(self, now: float) -> list[LivenessEvent]:
        """Apply every expiry due at ``now`` (deadlines are inclusive)."""
        events: list[LivenessEvent] = []
        self._expire(now, events)
        return events

    # -- internals --------------------------------------------------------------------

    def _threshold(self, node: _Node) -> float:
        cfg = self._config
        if not self._comm_up:
            return cfg.initdead
        if node.ping:
            return cfg.deadping
        if cfg.use_peer_deadtime and node.deadtime is not None and not node.local:
            return node.deadtime
        return cfg.deadtime

    def _reference(self, node: _Node) -> float:
        return node.since if node.last_heard is None else node.last_heard

    def _settled(self) -> bool:
        return all(n.local or n.status is not NodeStatus.INIT for n in self._nodes.values())

    def _expire(self, now: float, events: list[LivenessEvent]) -> None:
        if self._due is not None and now < self._due:
            return  # nothing can be due yet: the routine heartbeat skips the walk
        self._due = None
        for name, node in self._nodes.items():
            threshold = self._threshold(node)
            if now < node.grace_until:
                continue
            for link_name, link in node.links.items():
                if link.up and now >= link.last_heard + threshold:
                    link.up = False
                    events.append(LinkDead(name, link_name))
            if node.local or node.status is NodeStatus.DEAD:
                continue
            reference = self._reference(node)
            if now >= reference + threshold:
                self._become(name, node, _D, now - reference, events)
        if self._check_comm_up(events):
            self._expire(now, events)  # thresholds just changed from initdead

    def _check_comm_up(self, events: list[LivenessEvent]) -> bool:
        if self._comm_up or not self._settled():
            return False
        self._comm_up = True
        self._due = None
        self._nodes[self._local].status = NodeStatus.ACTIVE
        events.append(CommUp())
        return True

    def _become(self, name: str, node: _Node, target: NodeStatus, silent_for: float,
                events: list[LivenessEvent]) -> None:
        previous = node.status
        if target is previous:
            return
        if (previous, target) not in _NODE_EDGES:
            raise AssertionError(f"node {name}: impossible edge {previous.value} -> {target.value}")
        node.status = target
        self._due = None
        if target is NodeStatus.DEAD:
            node.last_heartbeat = None  # the next heartbeat starts a new series, not "late"
            events.append(NodeDead(name, silent_for))
            return
        if previous in (NodeStatus.INIT, NodeStatus.DEAD):
            events.append(NodeUp(name))
        if target is NodeStatus.ACTIVE:
            events.append(NodeActive(name))
