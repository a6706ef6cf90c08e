"""One node's end of hbcomm's reliable stream: history and peers wired together.

Role: the object the hbcomm shell drives. It numbers what we send
(:class:`~cluster.hbcomm.history.SendHistory`), tracks what peers send
(:class:`~cluster.hbcomm.peers.Peers`) and routes ``rexmit``/``ack`` packets
addressed to us (and broadcast acks) to the history. Sans-I/O: every method takes ``now`` and
returns packets; the shell signs them with :func:`~cluster.hbcomm.packet.encode`
and writes them to every medium. Timing of node death is not decided here
(that is :mod:`cluster.hbcomm.liveness`); the shell reports it with
:meth:`Channel.node_dead` / :meth:`Channel.node_up`.

Shell loop, per datagram::

    packet = decode(raw, keys)                # PacketError: log (rate-limited), drop
    receipt = channel.receive(packet, now)
    if receipt.heard:
        liveness.heard(packet.src, link, now, receipt.heartbeat, ...)
    send(receipt.send); publish(receipt.delivered); log(receipt.events)
    # a delivered Shutdown payload: liveness.left(packet.src, now)

and at ``min(channel.next_deadline(), liveness.next_deadline(), next status)``::

    out = channel.tick(now)                    # rexmit requests, acks, give-ups
    send(out.send); publish(out.delivered); log(out.events)
    for event in liveness.tick(now):           # NodeDead -> channel.node_dead(node, now)
        ...                                    # NodeUp   -> channel.node_up(node)

Outgoing application messages wait in the shell while
``channel.history.window_full`` (flow control); statuses and acks never wait.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from cluster.hbcomm.history import HistoryConfig, SendHistory
from cluster.hbcomm.packet import Ack, Message, Packet, Rexmit, Shutdown
from cluster.hbcomm.peers import Disposition, PeerOutput, Peers, PeersConfig, Receipt

__all__ = ["Channel", "ChannelConfig"]


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    peers: PeersConfig = field(default_factory=PeersConfig)
    history: HistoryConfig = field(default_factory=HistoryConfig)


class Channel:
    """Send and receive halves for ``local_node`` in its ``generation``.

    ``nodes`` are the configured cluster nodes (the local one is skipped); ``rng``
    supplies rexmit jitter; pass ``random.Random(seed)`` in tests.
    """

    def __init__(self, config: ChannelConfig, local_node: str, generation: int,
                 nodes: Iterable[str], rng: random.Random) -> None:
        self._local = local_node
        self.history = SendHistory(config.history, local_node, generation, nodes)
        self.peers = Peers(config.peers, local_node, generation, rng)

    @property
    def local_node(self) -> str:
        return self._local

    @property
    def generation(self) -> int:
        return self.history.generation

    def send(self, mtype: str, body: bytes, now: float, dest: str | None = None) -> Packet:
        """A sequenced cluster message (``dest`` None: every node)."""
        return self.history.send(Message(mtype=mtype, body=body), now, dest)

    def shutdown(self, now: float) -> Packet:
        """Our graceful goodbye; sequenced, so peers see it after our last message."""
        return self.history.send(Shutdown(), now)

    def status(self, st: str, deadtime: float, keepalive: float, uptime: float,
               now: float) -> Packet:
        """A heartbeat; ``deadtime``/``keepalive`` in seconds, as ``ha.cf`` has them."""
        return self.history.status(st, deadtime, keepalive, uptime, now)

    def receive(self, packet: Packet, now: float) -> Receipt:
        receipt = self.peers.receive(packet, now)
        if receipt.disposition is not Disposition.NEW:
            return receipt
        if isinstance(packet.payload, Ack):  # to us, or a broadcast ack naming us
            self.history.on_ack(packet)
        elif isinstance(packet.payload, Rexmit) and packet.dest == self._local:
            resend = self.history.on_rexmit(packet, now)
            return dataclasses.replace(receipt, send=receipt.send + tuple(resend))
        return receipt

    def tick(self, now: float) -> PeerOutput:
        return self.peers.tick(now)

    def next_deadline(self) -> float:
        return self.peers.next_deadline()

    def node_dead(self, node: str, now: float) -> PeerOutput:
        """Call on ``NodeDead``: stop chasing the node's holes and holding history for it."""
        self.history.peer_dead(node)
        return self.peers.node_dead(node, now)

    def node_up(self, node: str) -> None:
        """Call on ``NodeUp``: the node holds history back again."""
        self.history.peer_up(node)
