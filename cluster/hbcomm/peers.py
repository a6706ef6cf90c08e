"""Receive half of hbcomm's reliable stream: per-peer generation and sequence tracking.

Role: for every peer, decide what an authenticated packet means (new,
duplicate, replay), deliver its sequenced packets to local daemons at most
once and in order, chase holes with ``rexmit`` requests, and ack what we hold.
Inputs are decoded :class:`~cluster.hbcomm.packet.Packet` values plus ``now``;
outputs are packets to deliver, control packets to sign and send, and events
to log/publish. Randomness (request jitter) comes from the ``random.Random``
passed in, so a seeded run is reproducible. The sender half (numbering,
history, answering requests) is :mod:`cluster.hbcomm.history`.

Theory of operation (reference 4.6, 4.7). Per peer we keep ``gen``,
``floor`` (every seq <= floor is done: delivered, lost or before our
baseline) and ``high`` (the highest seq known to exist). Invariant: each seq
in ``floor+1 .. high`` is exactly one of *buffered* (arrived out of order),
*missing* (a rexmit request is scheduled) or *lost* (given up, waiting to be
skipped); ``high - floor <= max_gap + 1``, which bounds all three tables.

* Generation: the first packet of a peer sets ``gen``; a lower ``gen`` is a
  replay (dropped, not even "heard"); a higher one means the peer restarted:
  the old stream is flushed (buffered packets delivered, holes reported lost)
  and tracking starts afresh (:class:`PeerRestarted`).
* Baseline: we deliver a generation's packets from the first one we hear, as
  Heartbeat does; a status sets the baseline to its ``hiseq``, a sequenced
  packet to ``seq - 1``. After :meth:`Peers.node_dead` the next packet sets a
  new baseline, so messages sent while we believed the peer dead are skipped.
* Sequenced packet: ``seq <= floor`` or already buffered -> DUPLICATE (still
  heard, for link status). Otherwise it is buffered, seqs between ``high`` and
  it become *missing* (:class:`PacketsMissing`), and the buffer drains in order
  from ``floor + 1``. A fresh status's ``hiseq`` also extends ``high``, so the
  loss of a burst's last message is noticed within a keepalive.
* A gap wider than ``max_gap`` skips the oldest seqs as lost ("gap too large").
* :meth:`Peers.tick`: each missing seq is first requested after a random
  ``[rexmit_min_delay, rexmit_max_delay]``, then again after
  ``rexmit_max_delay * 2**(rounds-1)`` (capped, with jitter); after
  ``max_rexmit_rounds`` requests it is given up. A ``nak`` from the origin, the
  peer's death and a restart also give holes up. Lost seqs are skipped when the
  drain reaches them (:class:`IrretrievablyLost`); a lost seq that still
  arrives before then is delivered after all.
* Statuses are unsequenced and ordered by the sender's ``ts`` within a
  generation: a status not newer than the last one is a DUPLICATE (heard on
  its link, but not a heartbeat).
* Acks: once ``floor`` has advanced ``ack_every`` seqs past our last ack, or
  ``ack_interval`` after it first advanced, we ack. Peers that speak minor 1
  or later are acked together: one broadcast ack carries every such peer's
  ``floor``, and a peer reaching ``ack_every`` brings it forward to at most
  ``ack_holdoff`` after the previous one. So a node sends about one ack per
  ``ack_interval`` however many peers talk (N per interval cluster-wide, not
  N²). A 2.0 peer gets its own ``ack(ackseq=floor)`` as before. Acks travel
  unreliably; a peer whose status reports ``unacked > 0`` while we hold all
  it has sent gets our ack again (at most once per ``ack_interval``), so its
  history drains even when the last ack was lost.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from cluster.hbcomm.history import HistoryConfig, SendHistory
from cluster.hbcomm.packet import Ack, Nak, Packet, Rexmit, Status

_BROADCAST_ACK_MINOR = 1  # the first protocol minor that reads Ack.acks

__all__ = [
    "Disposition", "HistoryConfig", "IrretrievablyLost", "PacketsMissing", "PeerEvent",
    "PeerOutput", "PeerRestarted", "Peers", "PeersConfig", "Receipt", "ReplayRejected",
    "SendHistory",
]


@dataclass(frozen=True, slots=True)
class PeersConfig:
    """Receiver limits; defaults follow Heartbeat where it has a number."""

    max_gap: int = 250  # 4.6: a gap over 250 seqs is not chased ("lost a lot of packets")
    rexmit_min_delay: float = 0.050  # 4.7: first request after random [50, max] ms
    rexmit_max_delay: float = 0.250  # 4.7: max_rexmit_delay; also the first retry interval
    rexmit_backoff_cap: float = 2.0  # retries back off to at most this (ours)
    max_rexmit_rounds: int = 40  # ours (~75 s): Heartbeat asks forever while the origin lives
    max_per_request: int = 50  # 4.7: the origin resends at most 50 per request
    ack_every: int = 10  # 4.7: Heartbeat acks every tenth seq
    ack_interval: float = 1.0  # ours: ack the tail of a burst within a second
    ack_holdoff: float = 0.05  # ours: broadcast acks at most this often for a busy peer

    def __post_init__(self) -> None:
        if (self.max_gap < 1 or self.max_rexmit_rounds < 1 or self.max_per_request < 1
                or self.ack_every < 1 or not 0 <= self.rexmit_min_delay <= self.rexmit_max_delay
                or not 0 <= self.ack_holdoff <= self.ack_interval):
            raise ValueError(f"invalid {self!r}")


class Disposition(Enum):
    NEW = "new"  # accepted: deliver / act on it
    DUPLICATE = "duplicate"  # seen already (or an older status): heard, nothing else
    REPLAY = "replay"  # older generation than the peer's current one: dropped
    OWN = "own"  # our own packet came back (bcast/mcast loop): ignored here


@dataclass(frozen=True, slots=True)
class PeerRestarted:
    node: str
    old_generation: int
    generation: int


@dataclass(frozen=True, slots=True)
class ReplayRejected:
    node: str
    generation: int
    current_generation: int


@dataclass(frozen=True, slots=True)
class PacketsMissing:
    node: str
    first: int
    last: int


@dataclass(frozen=True, slots=True)
class IrretrievablyLost:
    node: str
    first: int
    last: int
    reason: str


PeerEvent = PeerRestarted | ReplayRejected | PacketsMissing | IrretrievablyLost


@dataclass(frozen=True, slots=True)
class PeerOutput:
    delivered: tuple[Packet, ...] = ()  # in order per sender; only dest None or us
    send: tuple[Packet, ...] = ()  # rexmit/ack packets: sign and send on every medium
    events: tuple[PeerEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class Receipt:
    """What one received packet meant. ``heartbeat``: a fresh status (for Liveness)."""

    disposition: Disposition
    heartbeat: bool = False
    delivered: tuple[Packet, ...] = ()
    send: tuple[Packet, ...] = ()
    events: tuple[PeerEvent, ...] = ()

    @property
    def heard(self) -> bool:
        """Counts as hearing the peer on the link it came in on."""
        return self.disposition in (Disposition.NEW, Disposition.DUPLICATE)


@dataclass(slots=True)
class _Out:
    delivered: list[Packet] = field(default_factory=list)
    send: list[Packet] = field(default_factory=list)
    events: list[PeerEvent] = field(default_factory=list)

    def output(self) -> PeerOutput:
        if not (self.delivered or self.send or self.events):
            return _NOTHING  # the routine tick: nothing to build
        return PeerOutput(tuple(self.delivered), tuple(self.send), tuple(self.events))

    def receipt(self, disposition: Disposition, heartbeat: bool = False) -> Receipt:
        if not (self.delivered or self.send or self.events):
            return _PLAIN[disposition, heartbeat]  # the routine heartbeat: nothing to build
        return Receipt(disposition, heartbeat, tuple(self.delivered), tuple(self.send),
                       tuple(self.events))


_PLAIN = {(d, beat): Receipt(d, beat) for d in Disposition for beat in (False, True)}
_NOTHING = PeerOutput()


@dataclass(slots=True)
class _Hole:
    due: float
    rounds: int = 0


@dataclass(slots=True)
class _Stream:
    gen: int
    established: bool = False
    floor: int = 0
    high: int = 0
    buffered: dict[int, Packet] = field(default_factory=dict)
    missing: dict[int, _Hole] = field(default_factory=dict)
    lost: set[int] = field(default_factory=set)
    last_status_ts: float | None = None
    acked: int = 0
    ack_due: float | None = None  # 2.0 peers only: others share Peers' broadcast ack
    ack_sent_at: float = -math.inf
    minor: int = 0  # the peer's protocol minor, from its latest packet

    @property
    def broadcast_acks(self) -> bool:
        return self.minor >= _BROADCAST_ACK_MINOR


def _runs(seqs: Iterable[int], limit: int) -> list[tuple[int, int]]:
    """Sorted seqs -> contiguous (first, last) runs of at most ``limit`` seqs."""
    runs: list[tuple[int, int]] = []
    for seq in sorted(seqs):
        if runs and seq == runs[-1][1] + 1 and seq - runs[-1][0] < limit:
            runs[-1] = (runs[-1][0], seq)
        else:
            runs.append((seq, seq))
    return runs


class Peers:
    """Receive-side state for every peer that has sent us something."""

    def __init__(self, config: PeersConfig, local_node: str, generation: int,
                 rng: random.Random) -> None:
        self._config = config
        self._local = local_node
        self._gen = generation
        self._rng = rng
        self._streams: dict[str, _Stream] = {}
        self._ack_due: float | None = None  # the next broadcast ack
        self._ack_sent_at = -math.inf

    def generation_of(self, node: str) -> int | None:
        stream = self._streams.get(node)
        return None if stream is None else stream.gen

    def missing(self, node: str) -> tuple[int, ...]:
        """Seqs of ``node`` we are still chasing (diagnostics, tests)."""
        stream = self._streams.get(node)
        return () if stream is None else tuple(sorted(stream.missing))

    def receive(self, packet: Packet, now: float) -> Receipt:
        """Account for one authenticated packet from the network."""
        node = packet.src
        if node == self._local:
            return Receipt(Disposition.OWN)
        out = _Out()
        stream = self._streams.get(node)
        if stream is None:
            stream = self._streams[node] = _Stream(gen=packet.gen)
        elif packet.gen < stream.gen:
            out.events.append(ReplayRejected(node, packet.gen, stream.gen))
            return out.receipt(Disposition.REPLAY)
        elif packet.gen > stream.gen:
            self._advance(node, stream, stream.high, "peer restarted", out)
            out.events.append(PeerRestarted(node, stream.gen, packet.gen))
            stream = self._streams[node] = _Stream(gen=packet.gen)
        stream.minor = packet.minor
        payload = packet.payload
        if isinstance(payload, Status):
            return self._on_status(node, stream, packet.ts, payload, now, out)
        if packet.seq is not None:
            return out.receipt(self._on_sequenced(node, stream, packet.seq, packet, now, out))
        if isinstance(payload, Nak) and packet.dest == self._local:
            holes = [s for s in stream.missing if payload.firstseq <= s <= payload.lastseq]
            self._lose(node, stream, holes, f"nak: {payload.info}", now, out)
        return out.receipt(Disposition.NEW)

    def tick(self, now: float) -> PeerOutput:
        """Send due rexmit requests and acks; give up holes asked too often."""
        out = _Out()
        cfg = self._config
        for node, stream in self._streams.items():
            due = [s for s, hole in stream.missing.items() if hole.due <= now]
            if due:
                spent = [s for s in due if stream.missing[s].rounds >= cfg.max_rexmit_rounds]
                ask = [s for s in due if stream.missing[s].rounds < cfg.max_rexmit_rounds]
                jitter = self._rng.uniform(1.0, 1.2)  # one factor per batch keeps runs together
                for seq in ask:
                    hole = stream.missing[seq]
                    hole.rounds += 1
                    backoff = cfg.rexmit_max_delay * 2.0 ** (hole.rounds - 1)
                    hole.due = now + min(backoff, cfg.rexmit_backoff_cap) * jitter
                for first, last in _runs(ask, cfg.max_per_request):
                    out.send.append(self._control(node, Rexmit(first, last, stream.gen), now))
                self._lose(node, stream, spent,
                           f"gave up after {cfg.max_rexmit_rounds} requests", now, out)
            if stream.ack_due is not None and stream.ack_due <= now:
                self._ack(node, stream, now, out)
        if self._ack_due is not None and self._ack_due <= now:
            self._broadcast_ack(now, out)
        return out.output()

    def next_deadline(self) -> float:
        """When :meth:`tick` next has work (``math.inf`` if never)."""
        deadline = math.inf if self._ack_due is None else self._ack_due
        for stream in self._streams.values():
            for hole in stream.missing.values():
                deadline = min(deadline, hole.due)
            if stream.ack_due is not None:
                deadline = min(deadline, stream.ack_due)
        return deadline

    def node_dead(self, node: str, now: float) -> PeerOutput:
        """Liveness declared ``node`` dead: give up its holes, deliver what we hold."""
        out = _Out()
        stream = self._streams.get(node)
        if stream is not None:
            self._advance(node, stream, stream.high, "peer dead", out)
            stream.established = False
            stream.ack_due = None
            if not any(s.broadcast_acks and s.established and s.floor > s.acked
                       for s in self._streams.values()):
                self._ack_due = None  # it was only for the dead node
        return out.output()

    # -- internals ----------------------------------------------------------------

    def _on_status(self, node: str, stream: _Stream, ts: float, status: Status, now: float,
                   out: _Out) -> Receipt:
        if stream.last_status_ts is not None and ts <= stream.last_status_ts:
            return out.receipt(Disposition.DUPLICATE)
        stream.last_status_ts = ts
        if not stream.established:
            self._establish(stream, status.hiseq)
        else:
            self._expect(node, stream, status.hiseq, now, out)
            if status.unacked and stream.floor >= status.hiseq > 0:
                self._ack_again(node, stream, now, out)  # our last ack may be lost
        return out.receipt(Disposition.NEW, heartbeat=True)

    def _on_sequenced(self, node: str, stream: _Stream, seq: int, packet: Packet, now: float,
                      out: _Out) -> Disposition:
        if not stream.established:
            self._establish(stream, seq - 1)
        if seq <= stream.floor or seq in stream.buffered:
            return Disposition.DUPLICATE
        self._expect(node, stream, seq - 1, now, out)
        stream.missing.pop(seq, None)
        stream.lost.discard(seq)
        stream.buffered[seq] = packet
        stream.high = max(stream.high, seq)
        self._drain(node, stream, now, out)
        return Disposition.NEW

    def _establish(self, stream: _Stream, base: int) -> None:
        # FROM not established -> established (first contact, or after node_dead)
        stream.established = True
        stream.floor = stream.high = max(stream.floor, base)
        stream.acked = max(stream.acked, stream.floor)

    def _expect(self, node: str, stream: _Stream, upto: int, now: float, out: _Out) -> None:
        """Seqs up to ``upto`` exist: the ones we have not seen become missing."""
        if upto <= stream.high:
            return
        if upto - stream.floor > self._config.max_gap:
            self._advance(node, stream, upto - self._config.max_gap, "gap too large", out)
        first = stream.high + 1
        if first <= upto:
            due = now + self._rng.uniform(self._config.rexmit_min_delay,
                                          self._config.rexmit_max_delay)
            for seq in range(first, upto + 1):
                stream.missing[seq] = _Hole(due)
            out.events.append(PacketsMissing(node, first, upto))
        stream.high = upto

    def _advance(self, node: str, stream: _Stream, target: int, reason: str, out: _Out) -> None:
        """Move ``floor`` to ``target``: deliver what we hold, report the rest lost."""
        lost: list[int] = []
        for seq in range(stream.floor + 1, min(target, stream.high) + 1):
            packet = stream.buffered.pop(seq, None)
            if packet is not None:
                self._deliver(packet, out)
            elif stream.missing.pop(seq, None) is not None:
                lost.append(seq)
            else:
                stream.lost.discard(seq)  # already reported
        runs = _runs(lost, self._config.max_gap + 1)
        if target > stream.high:  # never recorded as missing: report as one run
            runs.append((max(stream.high, stream.floor) + 1, target))
            stream.high = target
        stream.floor = max(stream.floor, target)
        out.events.extend(IrretrievablyLost(node, first, last, reason) for first, last in runs)

    def _lose(self, node: str, stream: _Stream, seqs: list[int], reason: str, now: float,
              out: _Out) -> None:
        if not seqs:
            return
        for seq in seqs:
            del stream.missing[seq]
            stream.lost.add(seq)
        for first, last in _runs(seqs, self._config.max_gap + 1):
            out.events.append(IrretrievablyLost(node, first, last, reason))
        self._drain(node, stream, now, out)

    def _drain(self, node: str, stream: _Stream, now: float, out: _Out) -> None:
        while True:
            seq = stream.floor + 1
            packet = stream.buffered.pop(seq, None)
            if packet is not None:
                self._deliver(packet, out)
            elif seq in stream.lost:
                stream.lost.remove(seq)
            else:
                break
            stream.floor = seq
        cfg = self._config
        if stream.broadcast_acks:
            if stream.floor - stream.acked >= cfg.ack_every:
                self._ack_by(max(now, self._ack_sent_at + cfg.ack_holdoff), now, out)
            elif stream.floor > stream.acked:
                self._ack_by(now + cfg.ack_interval, now, out)
        elif stream.floor - stream.acked >= cfg.ack_every:
            self._ack(node, stream, now, out)
        elif stream.floor > stream.acked and stream.ack_due is None:
            stream.ack_due = now + cfg.ack_interval

    def _ack_again(self, node: str, stream: _Stream, now: float, out: _Out) -> None:
        if stream.broadcast_acks:
            if now - self._ack_sent_at >= self._config.ack_interval:
                self._broadcast_ack(now, out)
        elif now - stream.ack_sent_at >= self._config.ack_interval:
            self._ack(node, stream, now, out, again=True)

    def _ack_by(self, when: float, now: float, out: _Out) -> None:
        """Schedule the broadcast ack no later than ``when`` (now: send it)."""
        if when <= now:
            self._broadcast_ack(now, out)
        elif self._ack_due is None or when < self._ack_due:
            self._ack_due = when

    def _broadcast_ack(self, now: float, out: _Out) -> None:
        """One ack to everyone holding every minor-1 peer's floor: idempotent, so a
        lost one is repaired by the next."""
        self._ack_due = None
        acks = []
        for node, stream in self._streams.items():
            if stream.broadcast_acks and stream.established and stream.floor > 0:
                stream.acked = stream.floor
                acks.append((node, stream.gen, stream.floor))
        if acks:
            self._ack_sent_at = now
            out.send.append(Packet(src=self._local, gen=self._gen, seq=None, dest=None,
                                   payload=Ack(0, 0, tuple(acks)), ts=now))

    def _ack(self, node: str, stream: _Stream, now: float, out: _Out,
             again: bool = False) -> None:
        stream.ack_due = None
        if stream.floor > stream.acked or again:
            stream.acked = stream.floor
            stream.ack_sent_at = now
            out.send.append(self._control(node, Ack(stream.floor, stream.gen), now))

    def _deliver(self, packet: Packet, out: _Out) -> None:
        if packet.dest is None or packet.dest == self._local:
            out.delivered.append(packet)

    def _control(self, dest: str, payload: Rexmit | Ack, now: float) -> Packet:
        return Packet(src=self._local, gen=self._gen, seq=None, dest=dest, payload=payload,
                      ts=now)
