"""Messages of cluster-web, the dashboard (``web.ctl``; cluster messages of type ``web``).

Every node's cluster-web broadcasts a :class:`HostSample` of its own host
every few seconds as a cluster message of type :data:`MTYPE` (through
hbcomm), so the dashboard on any node shows every node's figures.  Rates
(CPU, disk and network) are computed by the sending node between two of its
own samples, so a lost sample loses nothing but one point.  Node-local
actions asked on another node's dashboard travel the same way
(:class:`RemoteAction`, answered by :class:`ActionDone`).
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
