"""ipfail's shell: ping-node counts from hbcomm, peers' counts, moves through crmd.

Our count comes from hbcomm: a snapshot once hbcomm confirms our
subscription and every ``refresh`` seconds, ordered against the ``node``
events for ping nodes by :class:`~cluster.common.snapshots.SnapshotOrder`.
Peers' counts arrive as ``ipfail`` cluster messages, and ours goes out on
every change and every ``refresh`` seconds.  :class:`Judge` decides;
a give-up is crmd's ``Standby("all")`` and a recovery lifts that standby
(``ClearStandby``) and, with ``auto_failback on``, asks for our own groups
back (``Takeover("local")``), as Heartbeat's ipfail does through
hb_standby.  Having given up is remembered in ``ipfail.state`` in the run
directory (emptied when the stack starts), so a respawned ipfail still lifts
the standby when the uplink recovers.  Like Heartbeat's, ipfail exits 100
(never respawned) when it has nothing to do: ``auto_failback legacy``, no
ping nodes, or one node.
"""

from __future__ import annotations

import logging
from typing import Any

from cluster.bus import codec
from cluster.bus.client import BusError
from cluster.bus.loop import Timer
from cluster.bus.messages.crmd import ClearStandby, Standby, Takeover
from cluster.bus.messages.hbcomm import (
    ClusterMessage,
    GetNodes,
    NodesResult,
    NodeStatusChanged,
    SendToCluster,
)
from cluster.bus.messages.ipfail import MTYPE, PingCount
from cluster.common.files import write_atomic
from cluster.common.snapshots import SnapshotOrder
from cluster.config.confdir import ClusterConfig
from cluster.ipfail.judge import Action, GiveUp, Judge, JudgeConfig, Recover
from cluster.runtime.daemon import DaemonContext, NotNeeded

log = logging.getLogger(__name__)

_MOVE_TIMEOUT = 120.0
STATE_FILE = "ipfail.state"
_GAVE_UP = b"gave up\n"


def judge_config(config: ClusterConfig) -> JudgeConfig:
    """Hysteresis from ha.cf timings: settle ≥ 1 s, hold ≥ 5 s and ≥ 4 deadping."""
    ha = config.ha
    settle = max(1.0, 2 * ha.keepalive)
    return JudgeConfig(settle=settle, hold=max(5.0, 4 * ha.deadping, 2 * settle),
                       stale_after=3 * _refresh(config) + ha.deadtime)


def _refresh(config: ClusterConfig) -> float:
    return max(1.0, 10 * config.ha.keepalive)


def why_not(config: ClusterConfig) -> str | None:
    """The reason ipfail has nothing to do here, or None."""
    ha = config.ha
    if ha.auto_failback == "legacy":
        return ("auto_failback is legacy, where Heartbeat allows no standby; set "
                "auto_failback on or off to use ipfail")
    if not ha.ping_nodes:
        return "no ping or ping_group lines in ha.cf: nothing to measure the uplink with"
    if len(ha.nodes) < 2:
        return "a single node has nobody to move its resources to"
    return None


class IpfailService:
    def __init__(self, ctx: DaemonContext) -> None:
        reason = why_not(ctx.config)
        if reason is not None:
            raise NotNeeded(reason)
        self._ctx = ctx
        self._loop = ctx.loop
        self._config = ctx.config
        self._state_file = ctx.paths.run_dir / STATE_FILE
        self._judge = Judge(judge_config(ctx.config), gave_up=self._recall())
        self._ping_nodes = {p.name for p in ctx.config.ha.ping_nodes}
        self._reachable: set[str] = set()
        self._known = False
        self._order = SnapshotOrder()
        self._timer: Timer | None = None
        self._hbcomm = ctx.client("hbcomm")
        self._crmd = ctx.client("crmd")
        ctx.subscribe("hbcomm", ["node", f"msg.{MTYPE}"], self._on_event,
                      on_live=self._snapshot)
        ctx.control_server({})
        self._loop.call_later(_refresh(self._config), self._refresh_timer)

    # -- respawn memory -----------------------------------------------------------
    def _recall(self) -> bool:
        try:
            gave_up = self._state_file.read_bytes() == _GAVE_UP
        except OSError:
            return False
        if gave_up:
            log.warning("an earlier ipfail of this stack gave our groups up; the standby is "
                        "lifted once our uplink is as good as the peers' again")
        return gave_up

    def _remember(self) -> None:
        try:
            if self._judge.gave_up:
                write_atomic(self._state_file, _GAVE_UP)
            else:
                self._state_file.unlink(missing_ok=True)
        except OSError as err:
            log.error("cannot record the give-up in %s: %s (a respawned ipfail would not "
                      "lift the standby by itself)", self._state_file, err.strerror)

    # -- inputs -----------------------------------------------------------------
    def _snapshot(self) -> None:
        self._hbcomm.call(GetNodes(), 5.0, self._on_nodes)

    def _on_nodes(self, reply: object) -> None:
        if not isinstance(reply, NodesResult):
            log.warning("hbcomm did not answer (%s); retrying", reply)
            return
        if self._order.is_stale(reply.generation, reply.node_seq):
            self._snapshot()  # an event overtook it: ask again
            return
        self._reachable = {n.name for n in reply.nodes
                           if n.type == "ping" and n.status == "ping"}
        for node in reply.nodes:
            if node.type == "normal" and node.status == "dead":
                self._apply(self._judge.peer_gone(node.name, self._loop.clock()))
        self._known = True
        self._count_changed()

    def _on_event(self, _topic: str, msg: Any) -> None:
        now = self._loop.clock()
        if isinstance(msg, NodeStatusChanged):
            self._order.saw_event(msg.generation, msg.seq)
            if msg.node in self._ping_nodes:
                if msg.status == "ping":
                    self._reachable.add(msg.node)
                else:
                    self._reachable.discard(msg.node)
                self._count_changed()
            elif msg.status == "dead":
                self._apply(self._judge.peer_gone(msg.node, now))
        elif isinstance(msg, ClusterMessage) and msg.src != self._ctx.node:
            try:
                count = codec.decode(msg.body)
            except codec.CodecError as err:
                log.warning("dropped a malformed ipfail message from %s: %s", msg.src, err)
                return
            if isinstance(count, PingCount):
                log.debug("node %s reaches %d of %d ping nodes", count.node, count.count,
                          count.total)
                self._apply(self._judge.peer_count(count.node, count.count, now))

    def _count_changed(self) -> None:
        if not self._known:
            return
        count = len(self._reachable)
        log.info("this node reaches %d of %d ping nodes", count, len(self._ping_nodes))
        self._broadcast()
        self._apply(self._judge.my_count(count, self._loop.clock()))

    def _broadcast(self) -> None:
        if not self._known:
            return
        body = codec.encode(PingCount(self._ctx.node, len(self._reachable),
                                      len(self._ping_nodes)))
        self._hbcomm.call(SendToCluster(MTYPE, body), 5.0, self._log_failure("send count"))

    def _refresh_timer(self) -> None:
        self._broadcast()
        self._snapshot()
        self._loop.call_later(_refresh(self._config), self._refresh_timer)

    # -- decisions ----------------------------------------------------------------
    def _apply(self, actions: list[Action]) -> None:
        if actions:
            self._remember()
        for action in actions:
            if isinstance(action, GiveUp):
                log.warning("node %s reaches %d ping node(s), this node only %d: giving up "
                            "our resources (standby)", action.best_peer, action.theirs,
                            action.mine)
                self._crmd.call(Standby("all", _MOVE_TIMEOUT, "ipfail"), _MOVE_TIMEOUT + 5,
                                self._log_failure("standby"))
            elif isinstance(action, Recover):
                log.info("uplink recovered (%d ping node(s) reachable): leaving standby",
                         action.mine)
                self._crmd.call(ClearStandby("ipfail"), 10.0, self._after_clear)
        self._arm()

    def _after_clear(self, reply: object) -> None:
        if isinstance(reply, BusError):
            log.error("crmd did not lift the standby: %s", reply)
            return
        if self._config.ha.auto_failback == "on":
            log.info("auto_failback on: taking our own resource groups back")
            self._crmd.call(Takeover("local", _MOVE_TIMEOUT, "ipfail"), _MOVE_TIMEOUT + 5,
                            self._log_failure("takeover"))

    def _log_failure(self, what: str) -> Any:
        def callback(reply: object) -> None:
            if isinstance(reply, BusError):
                log.error("%s failed: %s", what, reply)
        return callback

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self._judge.next_deadline()
        if deadline != float("inf"):
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._apply(self._judge.tick(self._loop.clock()))

    # -- lifecycle ----------------------------------------------------------------
    def shutdown(self) -> None:
        self._ctx.finish()

    def reload(self, config: ClusterConfig) -> None:
        self._config = config
        self._judge = Judge(judge_config(config), gave_up=self._judge.gave_up)
        self._ping_nodes = {p.name for p in config.ha.ping_nodes}
        self._known = False
        self._snapshot()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
