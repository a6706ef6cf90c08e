"""The DC's way to fence: FenceNode requests to the local stonithd.

Role: part of crmd's shell.  The policy emits a :class:`~cluster.crmd.policy.Fence`
action for a departed node that may still hold a group when STONITH is
configured; the service hands it to a :class:`Fencer`, which calls back
``done(node, ok)``.  Only ``ok=True`` lets the policy start that node's
groups elsewhere (the tracker records the node as fenced).

:class:`StonithdFencer` sends :class:`~cluster.bus.messages.stonithd.FenceNode`
to ``stonithd.ctl`` — one request per node at a time; the coordinator asks
again every couple of seconds while the plan still wants it, which is
Heartbeat's ``STONITH of X failed.  Retrying...``.  When stonithd is not
running (no control socket) the request fails at once with a clear reason
instead of waiting out the timeout.  :meth:`StonithdFencer.notices` feeds
``crm_status``: why a node could not be fenced.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from cluster.bus.messages.stonithd import FenceNode, FenceResult

__all__ = ["FENCE_TIMEOUT", "Done", "Fencer", "StonithdFencer"]

log = logging.getLogger(__name__)

#: Seconds stonithd may take for one request, retries included (FenceNode.timeout).
FENCE_TIMEOUT = 60.0
_REPLY_MARGIN = 5.0

Done = Callable[[str, bool], None]


class Fencer(Protocol):
    def fence(self, node: str, reason: str, done: Done) -> None: ...

    def notices(self) -> list[str]: ...

    def forget(self, node: str) -> None: ...


class _Client(Protocol):
    def call(self, msg: object, timeout: float, callback: Callable[[object], None]) -> None: ...


class StonithdFencer:
    def __init__(self, connect: Callable[[], _Client], available: Callable[[], bool],
                 timeout: float = FENCE_TIMEOUT) -> None:
        # Connected on the first fencing, not at start: where stonithd does not run
        # (no stonith configured), an idle connection would retry ten times a second.
        self._connect = connect
        self._client: _Client | None = None
        self._available = available
        self._timeout = timeout
        self._pending: set[str] = set()
        self._failures: dict[str, str] = {}

    def fence(self, node: str, reason: str, done: Done) -> None:
        if node in self._pending:
            return
        if not self._available():
            self._failed(node, "fencing is unavailable: stonithd is not running", done)
            return
        self._pending.add(node)
        log.warning("Resetting node %s (%s)", node, reason)
        if self._client is None:
            self._client = self._connect()
        self._client.call(FenceNode(node, "reset", reason, self._timeout),
                          self._timeout + _REPLY_MARGIN,
                          lambda reply: self._result(node, reply, done))

    def _result(self, node: str, reply: object, done: Done) -> None:
        self._pending.discard(node)
        if isinstance(reply, FenceResult) and reply.ok:
            self._failures.pop(node, None)
            log.info("node %s fenced (%s %s): %s", node, reply.action, reply.device or "-",
                     reply.detail)
            done(node, True)
            return
        text = reply.detail if isinstance(reply, FenceResult) else str(reply)
        self._failed(node, text, done)

    def _failed(self, node: str, text: str, done: Done) -> None:
        if self._failures.get(node) != text:
            log.error("STONITH of %s failed: %s.  Retrying...", node, text)
        self._failures[node] = text
        done(node, False)

    def forget(self, node: str) -> None:
        """``node`` is back: its old fencing troubles are history."""
        self._failures.pop(node, None)

    def notices(self) -> list[str]:
        return [f"STONITH of {node} failed: {text}"
                for node, text in sorted(self._failures.items())]
