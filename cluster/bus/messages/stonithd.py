"""Messages of stonithd, the fencing daemon (``stonithd.ctl``, ``stonithd.pub``).

crmd asks FenceNode before starting a dead node's groups and must not start
them unless the reply is FenceResult(ok=True).  Every outcome, success or
not, is also published on topic ``fence`` as NodeFenced so every local
daemon and tool sees the history.
"""

from __future__ import annotations

from dataclasses import dataclass

from cluster.bus.catalogue import message


@message
@dataclass(frozen=True, slots=True)
class FenceNode:
    """Power `node` off (action "reset", "off" or "on").

    `timeout` bounds the whole request including retries; stonithd replies
    before it expires.
    """

    node: str
    action: str = "reset"
    reason: str = ""
    timeout: float = 60.0


@message
@dataclass(frozen=True, slots=True)
class FenceResult:
    node: str
    ok: bool
    action: str
    device: str            # "rps10 /dev/ttyS1", "external/ssh", "" when none could act
    detail: str            # what happened, for people: "Plug 0 Off ... Complete", an error
    attempts: int = 1


@message
@dataclass(frozen=True, slots=True)
class NodeFenced:
    """Published on topic ``fence`` for every completed request, good or bad."""

    node: str
    ok: bool
    action: str
    device: str
    detail: str
    requested_by: str


@message
@dataclass(frozen=True, slots=True)
class ListFenceDevices:
    """Which devices this node's stonithd has, and which nodes each can fence."""


@message
@dataclass(frozen=True, slots=True)
class FenceDeviceInfo:
    device: str
    type: str
    hosts: tuple[str, ...]
    status: str            # "ok" | "unreachable: ..." from the last status check


@message
@dataclass(frozen=True, slots=True)
class FenceDevicesResult:
    devices: tuple[FenceDeviceInfo, ...]
