"""Messages of the master control process (``mcp.ctl``, ``mcp.pub``)."""

from __future__ import annotations

from dataclasses import dataclass

from cluster.bus.catalogue import message


@message
@dataclass(frozen=True, slots=True)
class ChildInfo:
    name: str
    state: str          # STOPPED | STARTING | RUNNING | BACKOFF | EXITED | FATAL
    pid: int | None
    command: str
    restarts: int
    user: str


@message
@dataclass(frozen=True, slots=True)
class GetChildren:
    """List the processes the master control process manages."""


@message
@dataclass(frozen=True, slots=True)
class ChildrenResult:
    node: str
    mcp_pid: int
    uptime: float
    children: tuple[ChildInfo, ...]


@message
@dataclass(frozen=True, slots=True)
class ChildStateChanged:
    """Published on topic ``child`` whenever a child changes state."""

    name: str
    state: str
    pid: int | None
    reason: str
