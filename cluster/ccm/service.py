"""ccm's shell: hbcomm's node events and peer messages in, agreed views out.

Inputs: topics ``node`` (NodeStatusChanged) and ``msg.ccm`` (ClusterMessage
whose body is one encoded message of :mod:`cluster.bus.messages.ccm`) on
``hbcomm.pub``, plus a ``GetNodes`` snapshot each time hbcomm confirms our
subscription (at start and after hbcomm restarts: from then on no event is
missed) and every ``_RECONCILE`` seconds as a safety net.  A snapshot older
than an event already applied is discarded and asked for again
(:class:`~cluster.common.snapshots.SnapshotOrder`).  Everything is fed with
``loop.clock()`` to :class:`cluster.ccm.membership.Membership`; one timer
wakes it at its next deadline.

Outputs: the core's ``Send`` effects become ``SendToCluster("ccm", body,
dest)`` requests to hbcomm; ``ViewPublished`` is published on ``ccm.pub``
topic ``view`` and logged (``membership instance 7: node1 node2 (quorate)``
with how long agreement took); ``GetView`` on ``ccm.ctl`` answers the current
view.  Undecodable or nonsensical peer messages are dropped, counted and
logged at a limited rate.  ``<state-dir>/ccm_instance`` holds a ceiling on
the instances this node may have used: before a view above it is published,
the ceiling is raised to that instance plus ``RESERVE`` (written and synced),
so a restarted ccm, which starts above the ceiling, never goes back, and only
one view in ``RESERVE`` waits for a disk sync (a failover does not).
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

from cluster.bus import codec
from cluster.bus.client import BusError
from cluster.bus.loop import Timer
from cluster.bus.messages.ccm import GetView, ViewChanged
from cluster.bus.messages.hbcomm import (
    ClusterMessage,
    GetNodes,
    NodesResult,
    NodeStatusChanged,
    SendToCluster,
)
from cluster.ccm.interface import Effect, MembershipConfig, MessageDropped, Send, ViewPublished
from cluster.ccm.membership import Membership
from cluster.common import trace
from cluster.common.files import write_atomic
from cluster.common.logs import RateLimiter
from cluster.common.snapshots import SnapshotOrder
from cluster.config.confdir import ClusterConfig
from cluster.runtime.daemon import DaemonContext

log = logging.getLogger(__name__)

MTYPE = "ccm"
STATE_FILE = "ccm_instance"
_RECONCILE = 5.0         # seconds between GetNodes snapshots (hbcomm restarts, lost events)
_REQUEST_TIMEOUT = 2.0   # a local request; hbcomm answers at once or is not there
RESERVE = 64             # instances reserved per write of the state file


def read_instance(path: Path) -> int:
    """The persisted ceiling, or 0 when missing or unreadable (logged)."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return 0
    except OSError as err:
        log.warning("cannot read %s: %s; starting from instance 0", path, err.strerror)
        return 0
    if not text.isdigit():
        log.warning("ignoring %s: %r is not an instance number", path, text[:40])
        return 0
    return int(text)


def write_instance(path: Path, instance: int) -> None:
    write_atomic(path, f"{instance}\n".encode())


def membership_config(config: ClusterConfig) -> MembershipConfig:
    return MembershipConfig(local=config.local_node, nodes=config.ha.nodes,
                            keepalive=config.ha.keepalive)


class CcmService:
    def __init__(self, ctx: DaemonContext) -> None:
        self._ctx = ctx
        self._loop = ctx.loop
        self._state_file = ctx.paths.state_dir / STATE_FILE
        self._persisted = read_instance(self._state_file)
        self.core = Membership(membership_config(ctx.config), self._loop.clock(),
                               max_instance=self._persisted,
                               first_round=random.Random().randrange(1, 1 << 31))
        log.info("membership starting: node %s of %d, instances above %d", ctx.node,
                 self.core.config.total, self._persisted)
        self.dropped = 0
        self._bad_log = RateLimiter(interval=10.0)
        self._send_log = RateLimiter(interval=10.0)
        self._timer: Timer | None = None
        self._hbcomm_generation: int | None = None
        self._order = SnapshotOrder()
        self.publisher = ctx.publisher()
        ctx.control_server({GetView: lambda _msg: self.core.view})
        self._hbcomm = ctx.client("hbcomm")
        ctx.subscribe("hbcomm", ["node", f"msg.{MTYPE}"], self._on_event,
                      on_live=self._snapshot)
        self._reconcile_timer: Timer = self._loop.call_later(_RECONCILE, self._reconcile)

    # -- inputs -----------------------------------------------------------------
    def _on_event(self, _topic: str, msg: Any) -> None:
        now = self._loop.clock()
        if isinstance(msg, NodeStatusChanged):
            trace.mark("ccm.event", f"{msg.node} {msg.status} at {self._ctx.node}")
            self._order.saw_event(msg.generation, msg.seq)
            self._apply(self.core.node_status(msg.node, msg.status, now))
        elif isinstance(msg, ClusterMessage) and msg.mtype == MTYPE:
            try:
                decoded = codec.decode(msg.body)
            except codec.CodecError as err:
                self._apply([MessageDropped(msg.src, str(err))])
                return
            trace.mark("ccm.recv", f"{type(decoded).__name__} {msg.src} at {self._ctx.node}")
            self._apply(self.core.received(msg.src, decoded, now))

    def _reconcile(self) -> None:
        """The safety net: a snapshot every _RECONCILE seconds."""
        self._reconcile_timer = self._loop.call_later(_RECONCILE, self._reconcile)
        self._snapshot()

    def _snapshot(self) -> None:
        self._hbcomm.call(GetNodes(), _REQUEST_TIMEOUT, self._on_nodes)

    def _on_nodes(self, reply: Any) -> None:
        if not isinstance(reply, NodesResult):
            if self._send_log.allow():
                log.warning("hbcomm did not give its node list: %s", reply)
            return
        if self._order.is_stale(reply.generation, reply.node_seq):
            self._snapshot()  # an event overtook it: ask again
            return
        if self._hbcomm_generation not in (None, reply.generation):
            log.info("hbcomm restarted (generation %d -> %d)",
                     self._hbcomm_generation, reply.generation)
        self._hbcomm_generation = reply.generation
        statuses = {n.name: n.status for n in reply.nodes if n.type == "normal"}
        self._apply(self.core.hbcomm_snapshot(statuses, reply.comm_up, self._loop.clock()))

    def _on_timer(self) -> None:
        self._timer = None
        self._apply(self.core.tick(self._loop.clock()))

    # -- outputs ----------------------------------------------------------------
    def _apply(self, effects: list[Effect]) -> None:
        if self.core.max_instance > self._persisted:  # before anyone can see the view
            try:
                write_instance(self._state_file, self.core.max_instance + RESERVE)
                self._persisted = self.core.max_instance + RESERVE
            except OSError as err:
                log.error("cannot save the membership instance in %s: %s",
                          self._state_file, err.strerror)
        for effect in effects:
            if isinstance(effect, Send):
                trace.mark("ccm.send", f"{type(effect.message).__name__} {effect.dest or '*'} "
                                       f"at {self._ctx.node}")
                request = SendToCluster(MTYPE, codec.encode(effect.message), effect.dest)
                self._hbcomm.call(request, _REQUEST_TIMEOUT, self._on_sent)
            elif isinstance(effect, ViewPublished):
                trace.mark("ccm.view", f"{effect.view.instance} at {self._ctx.node}")
                self.publisher.publish("view", effect.view)
                self._log_view(effect)
            else:
                self.dropped += 1
                if self._bad_log.allow():
                    log.warning("dropped a bad ccm message from %s: %.200s (%d so far)",
                                effect.src, effect.reason, self.dropped)
        self._rearm()

    def _on_sent(self, reply: Any) -> None:
        if isinstance(reply, BusError) and self._send_log.allow():
            log.warning("hbcomm did not take a ccm message: %s", reply)

    def _log_view(self, effect: ViewPublished) -> None:
        view: ViewChanged = effect.view
        if not view.formed:
            log.info("membership instance %d: %s (not formed: waiting for comm up)",
                     view.instance, " ".join(view.members))
            return
        took = "" if effect.elapsed is None else (
            f", agreed in {effect.elapsed * 1000:.0f} ms after {effect.cause}")
        log.info("membership instance %d: %s (%s); leader %s, decided by %s%s",
                 view.instance, " ".join(view.members),
                 "quorate" if view.quorate else "NOT quorate", view.leader,
                 effect.coordinator, took)

    def _rearm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(self.core.next_deadline(), self._on_timer)

    # -- lifecycle --------------------------------------------------------------
    def shutdown(self) -> None:
        self._ctx.finish()

    def reload(self, config: ClusterConfig) -> None:
        self._apply(self.core.reconfigure(membership_config(config), self._loop.clock()))
        log.info("configuration reloaded: %d configured nodes, keepalive %g s",
                 self.core.config.total, self.core.config.keepalive)

    def close(self) -> None:
        for timer in (self._timer, self._reconcile_timer):
            if timer is not None:
                timer.cancel()
