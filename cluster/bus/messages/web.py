"""Messages of cluster-web, the dashboard (``web.ctl``; cluster messages of type ``web``).

Every node's cluster-web broadcasts a :class:`HostSample` of its own host
every few seconds as a cluster message of type :data:`MTYPE` (through
hbcomm), so the dashboard on any node shows every node's figures.  Rates
(CPU, disk and network) are computed by the sending node between two of its
own samples, so a lost sample loses nothing but one point.  Node-local
actions asked on another node's dashboard travel the same way
(:class:`RemoteAction`, answered by :class:`ActionDone`).  The timeline is
shared (:class:`TimelineShare`, asked with :class:`TimelineAsk`), and a page
watching another node's logs has them fetched from that node's cluster-web
(:class:`LogAsk`, answered by :class:`LogLines`).
"""

from __future__ import annotations

from dataclasses import dataclass

from cluster.bus.catalogue import message

#: hbcomm cluster-message type of the host samples.
MTYPE = "web"


@message
@dataclass(frozen=True, slots=True)
class DiskUsage:
    mount: str
    total: int          # bytes
    used: int


@message
@dataclass(frozen=True, slots=True)
class NetRate:
    interface: str
    rx: float           # bytes per second since the previous sample
    tx: float


@message
@dataclass(frozen=True, slots=True)
class TopProcess:
    pid: int
    name: str
    cpu: float          # percent of one core since the previous sample
    rss: int            # bytes


@message
@dataclass(frozen=True, slots=True)
class HostSample:
    """One node's host figures at wall-clock time ``when``."""

    node: str
    when: float
    uptime: float
    cpus: int
    cpu: float                          # percent busy over all cores
    load: tuple[float, float, float]
    mem_total: int                      # bytes
    mem_used: int
    swap_total: int
    swap_used: int
    disks: tuple[DiskUsage, ...]
    net: tuple[NetRate, ...]
    top: tuple[TopProcess, ...]


@message
@dataclass(frozen=True, slots=True)
class RemoteAction:
    """A dashboard asks the cluster-web of node ``dest`` to pass ``request`` (an encoded
    Standby, ClearStandby or Takeover) to that node's crmd; answered by ActionDone."""

    id: str
    request: bytes


@message
@dataclass(frozen=True, slots=True)
class ActionDone:
    """The outcome of a RemoteAction, sent back to the asking node."""

    id: str
    ok: bool
    detail: str


@message
@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One event of the dashboard's timeline; ``id`` is given once, by the node that saw it."""

    id: str
    when: float
    kind: str
    text: str
    node: str | None
    group: str | None
    duration: float | None


@message
@dataclass(frozen=True, slots=True)
class TimelineShare:
    """Timeline entries for every dashboard (dest empty) or the one that asked."""

    entries: tuple[TimelineEntry, ...]


@message
@dataclass(frozen=True, slots=True)
class TimelineAsk:
    """A dashboard that starts (or sees a peer come) asks for the peers' recent timeline."""


@message
@dataclass(frozen=True, slots=True)
class LogAsk:
    """A page watches the asked node's logs: send what its log files gained since the last
    ask of the same node (the first answer: their last lines)."""


@message
@dataclass(frozen=True, slots=True)
class LogLines:
    """An answer to LogAsk: new lines per daemon, the newest kept within a byte budget."""

    daemons: tuple[str, ...]
    lines: tuple[tuple[str, ...], ...]
