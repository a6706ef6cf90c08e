"""Messages of stonithd, the fencing daemon (``stonithd.ctl``, ``stonithd.pub``).

crmd asks FenceNode before starting a dead node's groups and must not start
them unless the reply is FenceResult(ok=True).  Every outcome, success or
not, is also published on topic ``fence`` as NodeFenced so every local
daemon and tool sees the history.

Clients: crmd (``cluster.crmd.fencing``) over an ``AsyncClient``;
``stonith --fence`` and ``meatclient`` with the blocking ``request``.
ConfirmManualFence is meatclient's: the operator has power-cycled a node
that a ``meatware`` device is waiting for.
"""

from __future__ import annotations

from dataclasses import dataclass

from cluster.bus.catalogue import message

#: How long stonithd may take for a request by default, retries included.
DEFAULT_FENCE_TIMEOUT = 60.0
#: The reply travels after stonithd's own deadline: wait this much longer.
REPLY_MARGIN = 2.0


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
    timeout: float = DEFAULT_FENCE_TIMEOUT
    requested_by: str = ""     # "crmd", "stonith CLI"...: copied into NodeFenced


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


@message
@dataclass(frozen=True, slots=True)
class ConfirmManualFence:
    """meatclient -c NODE: the operator has power-cycled `node` (meatware devices).

    Answered OkResult when a meatware request for `node` was waiting (it then
    completes with ok=True), ErrorResult("not_pending") otherwise.
    """

    node: str

