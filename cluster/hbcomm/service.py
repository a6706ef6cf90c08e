"""hbcomm's shell: media, timers and the bus around the sans-I/O cores.

Per datagram: our own (looped back by bcast/mcast) is dropped by a socket
filter in the kernel (:mod:`ownfilter`), or where there is none recognised by
its bytes and dropped here; else ``packet.decode`` (a bad one is dropped, counted and logged at
a limited rate) → ``Channel.receive`` (sequencing, replay, retransmission)
→ ``Liveness.heard`` (node and link status).  One timer wakes the loop at
the earliest of the next heartbeat, the next liveness deadline and the next
retransmission deadline, so a dead node is declared at its deadline and
never a polling interval later.  Everything observable is published on
``hbcomm.pub``; local daemons send cluster messages with SendToCluster.
With ``realtime on`` (Heartbeat's default) the process runs SCHED_FIFO with
its memory locked, so a loaded box does not delay heartbeats.  When the timer
still fires late (the box or the VM stalled), hbcomm tells ``Liveness`` of its
own pause before it reads what queued up, so the time it could not listen is
not held against its peers.  A peer declared dead and heard again soon after
was alive all along: ``falsedeath.HeartbeatTrace`` names the late end from both
ends' timestamps and the false death is logged with them.

With more than a few nodes, reading is batched: each wake-up costs far more
than one more datagram read, so after input wakes hbcomm the media are taken
off the loop and read on a short timer (``read_batch_interval``: at most half
a keepalive, 50 ms, shorter below 32 nodes) for as long as input keeps arriving; when the
heartbeat timer fires within that interval anyway, its pass does the reading.
Sends are never held, and the timer pass reads whatever queued before it
judges any deadline, so no peer is declared dead while its heartbeat waits
unread.  The price: a packet counts as heard, and a message is delivered, when
it is read, so a death is declared up to one interval later (half of one on
average) and each message hop may take one interval longer.  A two-node cluster
reads every datagram as it comes.  The counters ``received`` / ``read_passes``
give the datagrams read per wake-up.
"""

from __future__ import annotations

import ctypes
import errno
import gc
import logging
import os
import random
import time
from collections import Counter, deque
from pathlib import Path

from cluster.bus.loop import Timer
from cluster.bus.messages.common import ErrorResult, OkResult
from cluster.bus.messages.hbcomm import (
    ClusterMessage,
    CountersResult,
    GetCounters,
    GetNodes,
    GetParameter,
    HeartbeatLate,
    LinkInfo,
    LinkStatusChanged,
    NodeInfo,
    NodesResult,
    NodeStatusChanged,
    ParameterResult,
    SendToCluster,
)
from cluster.common import trace
from cluster.common.files import write_atomic
from cluster.common.logs import RateLimiter
from cluster.config.confdir import ClusterConfig
from cluster.config.diff import diff_configs
from cluster.hbcomm.channel import Channel, ChannelConfig
from cluster.hbcomm.falsedeath import HeartbeatTrace
from cluster.hbcomm.liveness import (
    CommUp,
    LinkDead,
    LinkUp,
    Liveness,
    LivenessConfig,
    LivenessEvent,
    NodeActive,
    NodeDead,
    NodeLate,
    NodeUp,
)
from cluster.hbcomm.media import MediumFailed, Transport
from cluster.hbcomm.mediaset import MediaSet
from cluster.hbcomm.packet import (
    MAJOR,
    MAX_DATAGRAM,
    MINOR,
    PACKET_TYPES,
    Message,
    Packet,
    PacketError,
    Shutdown,
    Status,
    VersionMismatch,
    decode,
    encode,
)
from cluster.hbcomm.peers import IrretrievablyLost, PacketsMissing, PeerRestarted, ReplayRejected
from cluster.hbcomm.pinger import Pinger
from cluster.runtime.daemon import DaemonContext

log = logging.getLogger(__name__)

# Room for the header, addressing and signature around a message body.
_ENVELOPE_ROOM = 1024
_MCL_CURRENT, _MCL_FUTURE, _MCL_ONFAULT = 1, 2, 4
_SENT_REMEMBERED = 8  # a routine pass sends one or two; a longer burst just parses the rest
# Per packet type counters (bench's traffic table); built once, not per packet.
_SENT_KEYS = {kind: f"sent_{kind}" for kind in PACKET_TYPES}
_RECEIVED_KEYS = {kind: f"received_{kind}" for kind in PACKET_TYPES}
_BATCH_FROM_NODES = 5  # from this many nodes on, hbcomm batches its reads
_BATCH_LONGEST = 0.050  # the longest a received packet waits to be read
_BATCH_FULL_AT = 32  # nodes from which batches are as long as they get


def read_batch_interval(keepalive: float, nodes: int) -> float:
    """How long hbcomm leaves input queued so one wake-up reads many datagrams;
    0 reads each at once.  A few peers send too little for batching to pay.
    At most half a keepalive: with the heartbeat timer's own pass, two reads
    per keepalive (32 nodes at 100 ms: stack CPU 3.0 % of a core at a quarter,
    2.1 % at half).  Shorter in proportion below 32 nodes, where input is
    sparser and the wake-ups cheaper than the delay: each message hop and a
    death's declaration are later by up to one interval."""
    if nodes < _BATCH_FROM_NODES:
        return 0.0
    return min(keepalive / 2, _BATCH_LONGEST) * min(1.0, nodes / _BATCH_FULL_AT)


def pause_threshold(keepalive: float) -> float:
    """How late our own timer may fire before we call it a pause: a few
    milliseconds of scheduling noise are normal, and beside a long keepalive
    a short stall does not matter."""
    return max(0.002, keepalive / 4)


def bump_generation(path: Path, now: float) -> int:
    """Heartbeat's generation: +1 on every start, on disk before we send anything."""
    try:
        previous = int(path.read_text().strip())
    except (OSError, ValueError):
        previous = int(now)
    generation = previous + 1
    write_atomic(path, f"{generation}\n".encode())
    return generation


def enable_realtime() -> None:
    """SCHED_FIFO at the middle priority and locked memory (ha.cf `realtime on`).

    Memory is locked as it is touched (MCL_ONFAULT): every page hbcomm has
    used or will use stays resident, while the parts of shared libraries and
    thread stacks it never touches are not read in just to be locked, which
    plain mlockall does (it doubled hbcomm's memory).  A kernel without
    MCL_ONFAULT (before Linux 4.4) gets plain mlockall.
    """
    try:
        low = os.sched_get_priority_min(os.SCHED_FIFO)
        high = os.sched_get_priority_max(os.SCHED_FIFO)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param((low + high) // 2))
    except OSError as err:
        log.warning("realtime scheduling not available (%s); heartbeats may be delayed "
                    "under load", err.strerror)
    libc = ctypes.CDLL(None, use_errno=True)
    flags = _MCL_CURRENT | _MCL_FUTURE
    failed = libc.mlockall(flags | _MCL_ONFAULT)
    if failed and ctypes.get_errno() == errno.EINVAL:
        failed = libc.mlockall(flags)
    if failed:
        log.warning("could not lock memory: %s", os.strerror(ctypes.get_errno()))


class HbcommService:
    def __init__(self, ctx: DaemonContext) -> None:
        self._ctx = ctx
        self._loop = ctx.loop
        self._apply_config(ctx.config)
        ha = ctx.config.ha
        now = self._loop.clock()
        self.generation = bump_generation(ctx.paths.state_dir / "hb_generation", time.time())
        log.info("Heartbeat generation: %d", self.generation)
        if ha.realtime:
            enable_realtime()
        self.counters: Counter[str] = Counter()
        self.media = MediaSet(self._loop, ha.media, on_readable=self._on_readable,
                              on_lost=self._link_lost, counters=self.counters)
        self.media.open_all()
        self.channel = Channel(ChannelConfig(), ctx.node, self.generation, ha.nodes,
                               random.Random())
        self._ping_names = tuple(p.name for p in ha.ping_nodes)
        self.pinger = (Pinger(ha.ping_nodes, self._keys.active_key.secret, self.generation)
                       if ha.ping_nodes else None)
        self.liveness = Liveness(LivenessConfig.from_haconfig(ha), ctx.node, ha.nodes, now,
                                 links=self.media.names(),
                                 ping_nodes=self._ping_names)
        self.started = now
        self._bad_log = RateLimiter(interval=5.0)
        self._version_log: dict[str, RateLimiter] = {}
        self._pause_log = RateLimiter(interval=5.0)
        self._pause_threshold = pause_threshold(ha.keepalive)
        self.trace = HeartbeatTrace()
        self._status_sent: float | None = None  # when our last heartbeat went out
        self._gap_log = RateLimiter(interval=1.0)
        self._read_batch = read_batch_interval(ha.keepalive, len(ha.nodes))
        self._read_timer: Timer | None = None
        self._outbox: deque[tuple[str, bytes, str | None]] = deque()
        # What we sent last: bcast and mcast bring it back, and it would be
        # verified and parsed only to be ignored as our own.
        self._sent_recently: deque[bytes] = deque(maxlen=_SENT_REMEMBERED)
        self._timer: Timer | None = None
        self._next_status = now
        self._statuses = {node: "init" for node in (*ha.nodes, *self._ping_names)}
        self._statuses[ctx.node] = "up"
        self._node_seq = 0  # numbers NodeStatusChanged so subscribers can order snapshots
        self._stopping = False
        self.publisher = ctx.publisher()
        ctx.control_server({
            GetNodes: self._get_nodes,
            SendToCluster: self._send_to_cluster,
            GetParameter: self._get_parameter,
            GetCounters: lambda _m: CountersResult(dict(self.counters)),
        })
        if self.pinger is not None:
            self._loop.add_reader(self.pinger.fileno(), self._on_ping_reply)
        log.info("Local status now set to: 'up'")
        self._wake()
        # The late timer a pause was counted for; the first one is armed before the
        # loop runs, so its delay is start-up, not a pause.
        self._pause_seen: Timer | None = self._timer
        # What start-up built lives as long as we do: keep it out of the
        # collector's way, so a full collection (milliseconds) does not delay a
        # heartbeat.
        gc.collect()
        gc.freeze()

    # -- configuration ----------------------------------------------------------
    def _apply_config(self, config: ClusterConfig) -> None:
        self._keys = config.authkeys
        self._config = config

    # -- receiving --------------------------------------------------------------
    def _on_readable(self, medium: Transport) -> None:
        now = self._loop.clock()
        self._check_pause(now)
        self.counters["read_passes"] += 1
        self._receive(medium, now)
        self._wake()
        if self._read_batch and not self.media.suspended:
            # Let the next datagrams queue and take them together (a second
            # medium ready in the same loop pass finds the media suspended).
            self.media.suspend()
            self._arm_reads(now)

    def _on_read_timer(self) -> None:
        now = self._loop.clock()
        self._check_pause(now)
        self._read_timer = None
        received = self._read_queued(now)
        self._wake()
        self._continue_reads(now, received)

    def _continue_reads(self, now: float, received: int) -> None:
        """After a batch: the next one while input keeps coming, else back to the loop."""
        if received and self._read_batch:
            self._arm_reads(now)
        else:
            self.media.resume()  # quiet again: the next datagram wakes us at once

    def _arm_reads(self, now: float) -> None:
        # The heartbeat timer is only ever moved earlier, and its pass reads
        # first: when it fires within the interval, no wake-up of our own.
        when = now + self._read_batch
        if self._timer is None or self._timer.when > when:
            self._read_timer = self._loop.call_at(when, self._on_read_timer)

    def _read_queued(self, now: float) -> int:
        """Read every medium the loop is not watching; how many datagrams came."""
        if not self.media.suspended:
            return 0
        self.counters["read_passes"] += 1
        return sum(self._receive(medium, now) for medium in self.media.live)

    def _receive(self, medium: Transport, now: float) -> int:
        try:
            received = medium.receive()
        except MediumFailed as err:
            self.media.failed(medium, err)
            return 0
        for raw in received:
            self.counters["received"] += 1
            if raw in self._sent_recently:
                self.counters["own_looped"] += 1
                continue
            try:
                packet = decode(raw, self._keys)
            except PacketError as err:
                self._bad_packet(medium, err)
                continue
            self._handle(packet, medium.name, now)
        return len(received)

    def _on_ping_reply(self) -> None:
        assert self.pinger is not None
        now = self._loop.clock()
        self._check_pause(now)
        for name, address in self.pinger.receive():
            self._liveness_events(self.liveness.heard(name, address, now, True), now)
        self._wake()

    def _bad_packet(self, medium: Transport, err: PacketError) -> None:
        kind = type(err).__name__
        self.counters[f"bad_{kind.lower()}"] += 1
        self.counters["bad_total"] += 1
        if isinstance(err, VersionMismatch):
            self._version_mismatch(medium, err)
            return
        if self._bad_log.allow():
            what = {"BadSignature": "bad signature", "TooLarge": "too large"}.get(kind,
                                                                                 "malformed")
            hint = (" (is authkeys the same on every node?)"
                    if kind == "BadSignature" else "")
            log.warning("dropped bad packet on %s %s: %s: %s%s; %d bad packet(s) so far",
                        medium.kind, medium.name, what, err, hint, self.counters["bad_total"])

    def _version_mismatch(self, medium: Transport, err: VersionMismatch) -> None:
        """Once a minute per peer: a node of another major cannot join this cluster."""
        peer = err.peer or f"a node on {medium.kind} {medium.name}"
        limiter = self._version_log.setdefault(peer, RateLimiter(interval=60.0))
        if limiter.allow():
            newer = (err.major, err.minor) > (MAJOR, MINOR)
            log.error("refusing packets from %s: it speaks hbcomm protocol %d.%d, this node "
                      "%d.%d; nodes of different major versions cannot form a cluster: "
                      "upgrade %s too (README: upgrading node by node)", peer, err.major,
                      err.minor, MAJOR, MINOR, "this node" if newer else peer)

    def _handle(self, packet: Packet, link: str, now: float) -> None:
        self.counters[_RECEIVED_KEYS[packet.payload.TYPE]] += 1
        receipt = self.channel.receive(packet, now)
        for event in receipt.events:
            self._peer_event(event)
        if receipt.heard:
            status = packet.payload if isinstance(packet.payload, Status) else None
            self._liveness_events(self.liveness.heard(
                packet.src, link, now, receipt.heartbeat,
                status=status.st if status else None,
                deadtime=status.dt / 1000.0 if status else None), now)
            if receipt.heartbeat:
                self._traced(packet.src, packet.ts, now)
        self._transmit(receipt.send)
        self._deliver(receipt.delivered, now)

    def _deliver(self, packets: tuple[Packet, ...], now: float) -> None:
        for packet in packets:
            if isinstance(packet.payload, Message):
                self.counters["messages_delivered"] += 1
                self.publisher.publish(f"msg.{packet.payload.mtype}", ClusterMessage(
                    src=packet.src, mtype=packet.payload.mtype, body=packet.payload.body,
                    dest=packet.dest))
            elif isinstance(packet.payload, Shutdown):
                log.info("Received shutdown notice from '%s'.", packet.src)
                self._liveness_events(self.liveness.left(packet.src, now), now)

    # -- events -----------------------------------------------------------------
    def _peer_event(self, event: object) -> None:
        if isinstance(event, PeerRestarted):
            log.info("Heartbeat restart on node %s (generation %d -> %d)",
                     event.node, event.old_generation, event.generation)
        elif isinstance(event, ReplayRejected):
            self.counters["replayed"] += 1
            if self._bad_log.allow():
                log.warning("attempted replay attack [%s]? [gen = %d, curgen = %d]",
                            event.node, event.generation, event.current_generation)
        elif isinstance(event, PacketsMissing):
            count = event.last - event.first + 1
            log.warning("%d lost packet(s) for [%s] [%d:%d]", count, event.node,
                        event.first, event.last)
        elif isinstance(event, IrretrievablyLost):
            self.counters["irretrievably_lost"] += event.last - event.first + 1
            log.error("Irretrievably lost packet(s): node %s seq %d-%d (%s)",
                      event.node, event.first, event.last, event.reason)

    def _liveness_events(self, events: list[LivenessEvent], now: float) -> None:
        for event in events:
            if isinstance(event, NodeLate):
                over = " (> deadtime)" if event.interval > self._config.ha.deadtime else ""
                log.warning("Late heartbeat: Node %s: interval %d ms%s", event.node,
                            round(event.interval * 1000), over)
                self.publisher.publish("late", HeartbeatLate(event.node, event.interval))
            elif isinstance(event, NodeDead):
                trace.mark("hbcomm.dead", event.node)
                if event.silent_for > 0:
                    log.warning("node %s: is dead (silent for %d ms)", event.node,
                                round(event.silent_for * 1000))
                    self.trace.died(event.node, now, event.silent_for,
                                    self.liveness.threshold(event.node))
                self._node_status(event.node, "dead",
                                  "silent" if event.silent_for else "shutdown",
                                  event.silent_for)
                if event.node in self._ping_names:
                    continue
                output = self.channel.node_dead(event.node, now)
                self._transmit(output.send)
                self._deliver(output.delivered, now)
            elif isinstance(event, NodeUp | NodeActive):
                if event.node not in self._ping_names:
                    self.channel.node_up(event.node)
                self._node_status(event.node, self.liveness.node_status(event.node), "heard")
            elif isinstance(event, LinkUp | LinkDead):
                state = "up" if isinstance(event, LinkUp) else "dead"
                log.info("Link %s:%s %s.", event.node, event.link, state)
                self.publisher.publish("link", LinkStatusChanged(event.node, event.link, state))
            elif isinstance(event, CommUp):
                log.info("Comm_now_up(): updating status to active")
                self._node_status(self._ctx.node, "active", "comm up")
                self._next_status = now  # tell the peers at once

    def _traced(self, node: str, sent: float, now: float) -> None:
        """Feed a heartbeat to the trace; a death it proves false is logged with its cause."""
        false = self.trace.heard(node, sent, now)
        if false is None:
            return
        self.counters[f"false_death_{false.cause}"] += 1
        log.warning("%s", false.describe())

    def _link_lost(self, link: str) -> None:
        now = self._loop.clock()
        self._liveness_events(self.liveness.link_lost(link), now)

    def _node_status(self, node: str, status: str, reason: str, silent_for: float = 0.0) -> None:
        previous = self._statuses.get(node, "init")
        if previous == status:
            return
        self._statuses[node] = status
        self._node_seq += 1
        log.info("Status update for node %s: status %s", node, status)
        trace.mark("hbcomm.publish", f"{node} {status}")
        self.publisher.publish("node", NodeStatusChanged(node, status, previous, reason,
                                                         silent_for, self.generation,
                                                         self._node_seq))

    # -- sending ----------------------------------------------------------------
    def _transmit(self, packets: tuple[Packet, ...] | list[Packet]) -> None:
        for packet in packets:
            try:
                raw = encode(packet, self._keys)
            except PacketError as err:
                log.error("cannot send %s packet: %s", packet.type, err)
                continue
            self._sent_recently.append(raw)
            for medium in self.media.live:
                try:
                    medium.send(raw)
                except MediumFailed as err:
                    self.media.failed(medium, err)
            self.counters["sent"] += 1
            self.counters[_SENT_KEYS[packet.payload.TYPE]] += 1
            if isinstance(packet.payload, Message):
                self.counters[f"sent_msg.{packet.payload.mtype}"] += 1

    def _send_to_cluster(self, msg: SendToCluster) -> object:
        if len(msg.body) + len(msg.mtype) > MAX_DATAGRAM - _ENVELOPE_ROOM:
            return ErrorResult("too_large", f"message of {len(msg.body)} bytes is larger than "
                               f"one heartbeat datagram allows ({MAX_DATAGRAM - _ENVELOPE_ROOM})")
        if msg.dest is not None and msg.dest not in self._statuses:
            return ErrorResult("unknown_node", f"{msg.dest} is not a node of this cluster")
        now = self._loop.clock()
        if msg.dest in (None, self._ctx.node):
            self.publisher.publish(f"msg.{msg.mtype}", ClusterMessage(
                src=self._ctx.node, mtype=msg.mtype, body=msg.body, dest=msg.dest))
        if msg.dest != self._ctx.node:
            self._outbox.append((msg.mtype, msg.body, msg.dest))
            self._flush_outbox(now)
            self._wake()
        return OkResult()

    def _flush_outbox(self, now: float) -> None:
        # Flow control: hold local messages while peers have not acked enough.
        while self._outbox and not self.channel.history.window_full:
            mtype, body, dest = self._outbox.popleft()
            self._transmit([self.channel.send(mtype, body, now, dest)])

    # -- timers -----------------------------------------------------------------
    def _wake(self) -> None:
        next_status = float("inf") if self._stopping else self._next_status
        deadline = min(next_status, self.channel.next_deadline(), self.liveness.due())
        if self._timer is not None:
            # A timer due no later is kept: firing early only recomputes, while
            # re-arming on every heartbeat (the deadlines move later) would cost
            # a timer and a heap push per packet.
            if self._timer.when <= deadline and not self._timer.cancelled:
                return
            self._timer.cancel()
        self._timer = self._loop.call_at(deadline, self._on_timer)

    def _check_pause(self, now: float) -> None:
        """Our timer should have fired already: we were not scheduled (a loaded
        box, a paused VM).  Peers get a grace before anyone is declared dead."""
        timer = self._timer
        if timer is None or timer is self._pause_seen:
            return
        late = now - timer.when
        if late <= self._pause_threshold:
            return
        self._pause_seen = timer
        self.counters["pauses"] += 1
        self.liveness.paused(now, late)
        if self._pause_log.allow(now):
            also = self._pause_log.take_suppressed()
            log.warning("hbcomm was not scheduled for %d ms (overloaded or paused node%s); "
                        "that time is not counted as any peer's silence", round(late * 1000),
                        f"; {also} more pause(s) since the last report" if also else "")

    def _on_timer(self) -> None:
        now = self._loop.clock()
        self._check_pause(now)
        self.counters["timer_passes"] += 1
        if self._timer is not None:
            self.trace.woke(self._timer.when, now)
        self._timer = None
        if now >= self._next_status and not self._stopping:
            # First: a peer's deadline hangs on it; the rest of the pass can wait.
            self._send_status(now)
        received = self._read_queued(now)  # a heartbeat waiting in a batch is not a silence
        if (not self.media.suspended and now >= self.liveness.due()
                and now >= self.liveness.next_deadline()):
            # A deadline: whatever reached our sockets by now was heard in time.
            for medium in self.media.live:
                self._receive(medium, now)
        self._liveness_events(self.liveness.tick(now), now)
        output = self.channel.tick(now)
        self._transmit(output.send)
        self._deliver(output.delivered, now)
        for event in output.events:
            self._peer_event(event)
        self._flush_outbox(now)
        if self.liveness.due() < self._next_status:
            self.liveness.refresh_due()  # rather than wake up early for nothing
        self._wake()
        if self.media.suspended and self._read_timer is None:
            self._continue_reads(now, received)

    def _send_status(self, now: float) -> None:
        ha = self._config.ha
        st = "active" if self.liveness.comm_up else "up"
        self._transmit([self.channel.status(st, ha.deadtime, ha.keepalive, now - self.started,
                                            now)])
        if self.pinger is not None:
            self.pinger.send_all()
        self._send_gap(now, ha.keepalive, ha.deadtime)
        # Schedule from the ideal time, not from now, so a late wake-up does
        # not stretch every later interval.
        self._next_status = max(self._next_status + ha.keepalive, now + ha.keepalive / 4)

    def _send_gap(self, now: float, keepalive: float, deadtime: float) -> None:
        """Log a heartbeat that left half a deadtime or more after the previous one:
        the sender's side of a false death its peers trace (monotonic times)."""
        previous, self._status_sent = self._status_sent, now
        if previous is None or now - previous < max(deadtime / 2, 2 * keepalive):
            return
        self.counters["send_gaps"] += 1
        if self._gap_log.allow(now):
            also = self._gap_log.take_suppressed()
            log.warning("heartbeat sent %.1f ms after the previous one (keepalive %d ms; "
                        "previous at %.1f, this at %.1f ms monotonic)%s",
                        (now - previous) * 1000, round(keepalive * 1000), previous * 1000,
                        now * 1000, f"; {also} more gap(s) since the last report" if also else "")

    # -- queries ----------------------------------------------------------------
    def _get_nodes(self, _msg: GetNodes) -> NodesResult:
        nodes = []
        for name in (*self._config.ha.nodes, *self._ping_names):
            if name in self._ping_names:
                links = tuple(LinkInfo(link, self.liveness.link_status(name, link))
                              for link in self.liveness.links(name))
                nodes.append(NodeInfo(name=name, status=self._statuses.get(name, "init"),
                                      type="ping", links=links))
                continue
            if name == self._ctx.node:
                links = self._local_links()
            else:
                links = tuple(LinkInfo(link, self.liveness.link_status(name, link))
                              for link in self.liveness.links(name))
            nodes.append(NodeInfo(name=name, status=self._statuses.get(name, "init"),
                                  type="normal", links=links,
                                  generation=(self.generation if name == self._ctx.node
                                              else self.channel.peers.generation_of(name))))
        return NodesResult(local=self._ctx.node, generation=self.generation,
                           uptime=self._loop.clock() - self.started,
                           comm_up=self.liveness.comm_up, nodes=tuple(nodes),
                           node_seq=self._node_seq)

    def _local_links(self) -> tuple[LinkInfo, ...]:
        """Our own paths: up while sending on them works (a pulled cable fails sends)."""
        return tuple(LinkInfo(name, state) for name, state in self.media.local_links().items())

    def _get_parameter(self, msg: GetParameter) -> ParameterResult:
        values = self._config.ha.raw.get(msg.name)
        return ParameterResult(msg.name, values[-1] if values else None)

    # -- lifecycle ----------------------------------------------------------------
    def shutdown(self) -> None:
        """Say goodbye so peers act at once, answer retransmissions briefly, then go."""
        self._stopping = True
        now = self._loop.clock()
        self._flush_outbox(now)
        self._transmit([self.channel.shutdown(now)])
        linger = min(1.0, max(0.1, 2 * self._config.ha.keepalive))
        self._loop.call_later(linger, self._ctx.finish)

    def reload(self, config: ClusterConfig) -> None:
        """Apply a new configuration live: keys, timers, media, nodes and ping nodes.

        Keys: every key listed is accepted from now on and ``auth N`` signs
        (Heartbeat's rotation). A new keepalive or deadtime goes out in a
        heartbeat at once, so peers judge us by it without waiting.
        """
        diff = diff_configs(self._config, config)
        self._apply_config(config)
        ha = config.ha
        now = self._loop.clock()
        if diff.media_changed:
            self.media.replace(ha.media)
        if diff.ping_added or diff.ping_removed:
            self._replace_pinger(config)
        for node in diff.nodes_removed:
            self._statuses.pop(node, None)
            self._transmit(self.channel.node_dead(node, now).send)
        for node in (*diff.nodes_added, *(p.name for p in diff.ping_added)):
            self._statuses.setdefault(node, "init")
        for ping in diff.ping_removed:
            self._statuses.pop(ping.name, None)
        self.liveness.reconfigure(LivenessConfig.from_haconfig(ha), ha.nodes, now,
                                  links=self.media.names(), ping_nodes=self._ping_names)
        self._pause_threshold = pause_threshold(ha.keepalive)
        self._read_batch = read_batch_interval(ha.keepalive, len(ha.nodes))
        if diff.timings:
            self._next_status = now
        log.info("configuration reloaded: %s",
                 "; ".join(diff.lines("hbcomm")) or "nothing changed for hbcomm")
        self._wake()

    def _replace_pinger(self, config: ClusterConfig) -> None:
        if self.pinger is not None:
            self._loop.remove_reader(self.pinger.fileno())
            self.pinger.close()
        ping_nodes = config.ha.ping_nodes
        self._ping_names = tuple(p.name for p in ping_nodes)
        self.pinger = (Pinger(ping_nodes, self._keys.active_key.secret, self.generation)
                       if ping_nodes else None)
        if self.pinger is not None:
            self._loop.add_reader(self.pinger.fileno(), self._on_ping_reply)

    def close(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
        self.media.close()
        if self.pinger is not None:
            self._loop.remove_reader(self.pinger.fileno())
            self.pinger.close()

