"""Sender half of hbcomm's reliable stream: numbering, history, retransmission.

Role: give every sequenced packet we originate (``msg``, ``shutdown``) the next
``seq`` of our generation, keep the last ``HistoryConfig.size`` of them, and
answer peers' ``rexmit`` requests by handing back the stored packets (or a
``nak`` for what we no longer hold). Acks from live peers trim the history.
Sans-I/O: callers pass ``now`` and send what comes back; nothing here signs,
sends or sleeps. Receive-side bookkeeping is :mod:`cluster.hbcomm.peers`;
:mod:`cluster.hbcomm.channel` wires both halves together.

Theory of operation (reference 4.7)::

    send()        seq = hiseq + 1; stored; oldest entry dropped beyond ``size``
    on_ack()      acked[peer] = max(acked[peer], ackseq); history up to
                  min(acked[p] for live p) is freed; a peer that comes
                  back counts from our hiseq at that moment (its receiver
                  starts afresh); alone, the window just slides
    on_rexmit()   for seq in firstseq .. firstseq + max_per_request - 1:
                    seq <= requester's ackseq      -> ignored (it has it)
                    seq > hiseq                     -> ignored (never sent)
                    seq < oldest kept               -> one nak for the range
                    resent less than holdoff ago    -> skipped (one resend
                                                       serves every receiver)
                    otherwise                       -> the stored packet again

Flow control: the shell holds local daemons' messages back while
:attr:`SendHistory.window_full` (backlog >= ``flow_limit``); a peer that stops
acking holds the window until Liveness declares it dead (``peer_dead``).

Requests and acks name the generation they refer to (``ogen``); one for an
earlier generation of ours (we restarted since) is ignored, so a stale ack can
never free the new generation's history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cluster.hbcomm.packet import Ack, Message, Nak, Packet, Rexmit, Shutdown, Status

__all__ = ["HistoryConfig", "SendHistory"]


@dataclass(frozen=True, slots=True)
class HistoryConfig:
    """Sender limits; defaults are Heartbeat's (reference 4.7)."""

    size: int = 500  # last 500 sequenced messages kept for retransmission
    max_per_request: int = 50  # at most 50 packets resent per rexmit request
    resend_holdoff: float = 0.240  # do not resend a packet resent in the last 240 ms
    # Flow control (4.7: Heartbeat pauses clients when 250 are unacked). Ours stays
    # below PeersConfig.max_gap (250) so a receiver never has to skip a live hole.
    flow_limit: int = 200

    def __post_init__(self) -> None:
        if (self.size < 1 or self.max_per_request < 1 or self.resend_holdoff < 0
                or self.flow_limit < 1):
            raise ValueError(f"invalid {self!r}")


class SendHistory:
    """Our outgoing sequenced packets, numbered and kept for retransmission."""

    def __init__(
        self, config: HistoryConfig, local_node: str, generation: int, peers: Iterable[str]
    ) -> None:
        self._config = config
        self._local = local_node
        self._gen = generation
        self._kept: dict[int, Packet] = {}
        self._oldest = 1  # lowest seq still in _kept (== hiseq + 1 when empty)
        self._hiseq = 0
        self._resent_at: dict[int, float] = {}
        self._acked: dict[str, int] = {}  # ackseq each peer sent us (filters its requests)
        # Per live peer, the seq below which it needs nothing: its ack, or on peer_up
        # our hiseq then (a returning peer's receiver starts afresh, peers.py).
        self._hold = {p: 0 for p in peers if p != local_node}

    @property
    def generation(self) -> int:
        return self._gen

    @property
    def hiseq(self) -> int:
        """The highest seq used so far (0 before the first sequenced packet)."""
        return self._hiseq

    @property
    def oldest(self) -> int:
        """The lowest seq still held (``hiseq + 1`` when nothing is held)."""
        return self._oldest

    @property
    def backlog(self) -> int:
        """Sent but not acked by every live peer: feed this to flow control."""
        return self._hiseq - self._ack_floor()

    @property
    def window_full(self) -> bool:
        """Flow control: hold new messages back while this is true (never while alone)."""
        return self.backlog >= self._config.flow_limit

    def send(self, payload: Message | Shutdown, now: float, dest: str | None = None) -> Packet:
        """Number, store and return a sequenced packet for the shell to sign and send."""
        self._hiseq += 1
        packet = Packet(src=self._local, gen=self._gen, seq=self._hiseq, dest=dest,
                        payload=payload, ts=now)
        self._kept[self._hiseq] = packet
        while len(self._kept) > self._config.size:
            self._forget_oldest()
        return packet

    def status(self, st: str, deadtime: float, keepalive: float, uptime: float,
               now: float) -> Packet:
        """A heartbeat advertising ``st``, deadtime/keepalive (seconds), hiseq, backlog.

        ``unacked`` (the backlog) asks complete receivers to repeat a lost final ack.
        """
        payload = Status(st=st, dt=round(deadtime * 1000), keepalive=round(keepalive * 1000),
                         uptime=float(uptime), hiseq=self._hiseq, unacked=self.backlog)
        return Packet(src=self._local, gen=self._gen, seq=None, dest=None, payload=payload,
                      ts=now)

    def on_ack(self, ack: Packet) -> None:
        """Record a peer's ``ack`` to us (or its broadcast ack); frees history all live
        peers hold."""
        payload = ack.payload
        if not isinstance(payload, Ack):
            return
        if ack.dest is None:  # a broadcast ack: our entry, if it has one
            ackseq = payload.for_origin(self._local, self._gen)
        elif ack.dest == self._local and payload.ogen == self._gen:
            ackseq = payload.ackseq
        else:
            return
        if ackseq is None:
            return
        seen = max(self._acked.get(ack.src, 0), min(ackseq, self._hiseq))
        self._acked[ack.src] = seen
        if ack.src in self._hold:
            self._hold[ack.src] = max(self._hold[ack.src], seen)
            floor = self._ack_floor()
            while self._oldest <= floor and self._kept:
                self._forget_oldest()

    def on_rexmit(self, request: Packet, now: float) -> list[Packet]:
        """Answer a ``rexmit`` addressed to us: stored packets to resend, maybe one nak."""
        payload = request.payload
        if (not isinstance(payload, Rexmit) or request.dest != self._local
                or payload.ogen != self._gen):
            return []
        first = max(payload.firstseq, self._acked.get(request.src, 0) + 1)
        window_end = payload.firstseq + self._config.max_per_request - 1
        last = min(payload.lastseq, self._hiseq, window_end)
        out: list[Packet] = []
        if first > last:
            return out
        if first < self._oldest:
            gone = min(last, self._oldest - 1)
            out.append(Packet(src=self._local, gen=self._gen, seq=None, dest=request.src,
                              payload=Nak(firstseq=first, lastseq=gone,
                                          info=f"not in history (oldest {self._oldest})"),
                              ts=now))
            first = gone + 1
        for seq in range(first, last + 1):
            resent = self._resent_at.get(seq)
            if resent is not None and now - resent < self._config.resend_holdoff:
                continue
            self._resent_at[seq] = now
            out.append(self._kept[seq])
        return out

    def peer_dead(self, node: str) -> None:
        """A dead peer no longer holds history back (the shell calls this on NodeDead)."""
        self._hold.pop(node, None)

    def peer_up(self, node: str) -> None:
        """Let ``node`` hold history back again (the shell calls this on NodeUp)."""
        if node != self._local and node not in self._hold:
            self._hold[node] = self._hiseq

    def _ack_floor(self) -> int:
        # Alone in the cluster nothing is freed early: the window just slides.
        return min(self._hold.values(), default=self._hiseq)

    def _forget_oldest(self) -> None:
        del self._kept[self._oldest]
        self._resent_at.pop(self._oldest, None)
        self._oldest += 1
