"""Messages of hbcomm, the heartbeat transport (``hbcomm.ctl``, ``hbcomm.pub``).

Topics on ``hbcomm.pub``: ``node`` (NodeStatusChanged), ``link``
(LinkStatusChanged), ``late`` (HeartbeatLate) and ``msg.<mtype>``
(ClusterMessage) for cluster messages addressed to local daemons.  A
subscriber asks GetNodes once it is subscribed to learn the current state,
then follows the deltas.
"""

from __future__ import annotations

from dataclasses import dataclass

from cluster.bus.catalogue import message


@message
@dataclass(frozen=True, slots=True)
class LinkInfo:
    name: str           # medium name as in ha.cf: "eth0", "/dev/ttyS0"
    status: str         # "up" | "dead"


@message
@dataclass(frozen=True, slots=True)
class NodeInfo:
    name: str
    status: str         # "init" | "up" | "active" | "dead" | "ping"
    type: str           # "normal" | "ping"
    links: tuple[LinkInfo, ...]
    generation: int | None = None


@message
@dataclass(frozen=True, slots=True)
class GetNodes:
    """Snapshot of every node and link as this node's hbcomm sees them."""


@message
@dataclass(frozen=True, slots=True)
class NodesResult:
    local: str
    generation: int
    uptime: float
    comm_up: bool
    nodes: tuple[NodeInfo, ...]
    node_seq: int = 0           # seq of the last NodeStatusChanged published before this


@message
@dataclass(frozen=True, slots=True)
class NodeStatusChanged:
    node: str
    status: str
    previous: str
    reason: str = ""
    silent_for: float = 0.0     # for "dead": seconds since the node was last heard
    generation: int = 0         # of the publishing hbcomm; with seq, orders events
    seq: int = 0                # against NodesResult.node_seq (see SnapshotOrder)


@message
@dataclass(frozen=True, slots=True)
class LinkStatusChanged:
    node: str
    link: str
    status: str


@message
@dataclass(frozen=True, slots=True)
class HeartbeatLate:
    node: str
    interval: float


@message
@dataclass(frozen=True, slots=True)
class SendToCluster:
    """Send `body` to `dest` (None = every node, this one included) as type `mtype`.

    Delivery is at most once and in order per sender; the reply is OkResult
    once the message is queued, or ErrorResult("too_large", ...).
    """

    mtype: str
    body: bytes
    dest: str | None = None


@message
@dataclass(frozen=True, slots=True)
class ClusterMessage:
    """A cluster message delivered to local subscribers on topic ``msg.<mtype>``."""

    src: str
    mtype: str
    body: bytes
    dest: str | None = None


@message
@dataclass(frozen=True, slots=True)
class GetParameter:
    """An ha.cf value as Heartbeat serves it to ``cl_status hbparameter``."""

    name: str


@message
@dataclass(frozen=True, slots=True)
class ParameterResult:
    name: str
    value: str | None      # None: not set


@message
@dataclass(frozen=True, slots=True)
class GetCounters:
    """Traffic and hostile-input counters, for operators and tests."""


@message
@dataclass(frozen=True, slots=True)
class CountersResult:
    counters: dict[str, int]
