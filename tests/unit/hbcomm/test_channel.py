"""Two nodes' cores wired through a lossy in-memory network under a fake clock.

This is the core of the acceptance test "100 messages with 30% loss all arrive
exactly once, in order": the harness below is a miniature hbcomm shell (encode,
decode, Channel, Liveness, timers from next_deadline) and the network drops 30%
of every kind of packet in both directions, and reorders them.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

import pytest

from cluster.config.authkeys import AuthKey, AuthKeys
from cluster.hbcomm.channel import Channel, ChannelConfig
from cluster.hbcomm.liveness import (
    CommUp,
    Liveness,
    LivenessConfig,
    LivenessEvent,
    NodeDead,
    NodeUp,
)
from cluster.hbcomm.packet import Message, Nak, Packet, Rexmit, Status, decode, encode
from cluster.hbcomm.peers import IrretrievablyLost, PeerEvent

KEYS = AuthKeys(1, {1: AuthKey(1, "sha1", b"test-secret")}, "test")
TIMERS = LivenessConfig(keepalive=1.0, warntime=5.0, deadtime=10.0, initdead=30.0)


@dataclass
class Node:
    name: str
    channel: Channel
    liveness: Liveness
    to_send: int
    delivered: list[Packet] = field(default_factory=list)
    events: list[PeerEvent | LivenessEvent] = field(default_factory=list)
    next_status: float = 0.0
    next_message: float = 0.0
    sent: int = 0
    muted: bool = False


class Sim:
    def __init__(self, seed: int, loss: float, links: tuple[str, ...], count: int) -> None:
        self.rng = random.Random(seed)
        self.loss = loss
        self.links = links
        self.now = 0.0
        self.queue: list[tuple[float, int, str, str, bytes]] = []
        self.counter = 0
        self.traffic: dict[str, int] = {}
        names = ("alice", "bob")
        self.nodes = {
            name: Node(name,
                       Channel(ChannelConfig(), name, 1000 + i, names, random.Random(seed + i)),
                       Liveness(TIMERS, name, names, 0.0, links=links), count)
            for i, name in enumerate(names)
        }

    # -- the miniature shell ----------------------------------------------------------

    def transmit(self, node: Node, packets: tuple[Packet, ...] | list[Packet]) -> None:
        for packet in packets:
            self.traffic[packet.type] = self.traffic.get(packet.type, 0) + 1
            raw = encode(packet, KEYS)
            for dst in self.nodes:
                for link in self.links:
                    if dst == node.name or node.muted or self.rng.random() < self.loss:
                        continue
                    self.counter += 1
                    arrival = self.now + self.rng.uniform(0.001, 0.02)  # reorders too
                    heapq.heappush(self.queue, (arrival, self.counter, dst, link, raw))

    def on_datagram(self, node: Node, link: str, raw: bytes) -> None:
        packet = decode(raw, KEYS)
        receipt = node.channel.receive(packet, self.now)
        if receipt.heard:
            st = packet.payload if isinstance(packet.payload, Status) else None
            self.on_liveness(node, node.liveness.heard(
                packet.src, link, self.now, receipt.heartbeat,
                status=st.st if st else None, deadtime=st.dt / 1000 if st else None))
        node.delivered += receipt.delivered
        node.events += receipt.events
        self.transmit(node, receipt.send)

    def on_liveness(self, node: Node, events: list[LivenessEvent]) -> None:
        node.events += events
        for event in events:
            if isinstance(event, NodeDead):
                out = node.channel.node_dead(event.node, self.now)
                node.delivered += out.delivered
                node.events += out.events
            elif isinstance(event, NodeUp):
                node.channel.node_up(event.node)

    def sending(self, node: Node) -> bool:
        everyone_up = all(n.liveness.comm_up for n in self.nodes.values())
        flow_ok = not node.channel.history.window_full
        return everyone_up and flow_ok and node.sent < node.to_send

    def next_timer(self, node: Node) -> float:
        times = [node.next_status, node.channel.next_deadline(), node.liveness.next_deadline()]
        if self.sending(node):
            times.append(node.next_message)  # else an ack or comm up re-enables sending
        return min(times)

    def on_timer(self, node: Node) -> None:
        if self.now >= node.next_status:
            st = "active" if node.liveness.comm_up else "up"
            self.transmit(node, [node.channel.status(st, TIMERS.deadtime, TIMERS.keepalive,
                                                     self.now, self.now)])
            node.next_status = self.now + TIMERS.keepalive
        while self.sending(node) and self.now >= node.next_message:
            body = f"{node.name}-{node.sent}".encode()
            self.transmit(node, [node.channel.send("test.seq", body, self.now)])
            node.sent += 1
            node.next_message = self.now + 0.01
        out = node.channel.tick(self.now)
        node.delivered += out.delivered
        node.events += out.events
        self.transmit(node, out.send)
        self.on_liveness(node, node.liveness.tick(self.now))

    def run_until(self, limit: float) -> None:
        while True:
            timers = {name: self.next_timer(node) for name, node in self.nodes.items()}
            soonest = min([*timers.values(), self.queue[0][0] if self.queue else limit])
            if soonest >= limit:
                self.now = limit
                return
            self.now = soonest
            while self.queue and self.queue[0][0] <= self.now:
                _, _, dst, link, raw = heapq.heappop(self.queue)
                self.on_datagram(self.nodes[dst], link, raw)
            for name, node in self.nodes.items():
                if self.next_timer(node) <= self.now:
                    self.on_timer(node)
                    assert self.next_timer(node) > self.now, f"{name} would spin"

    def bodies(self, name: str) -> list[bytes]:
        return [p.payload.body for p in self.nodes[name].delivered
                if isinstance(p.payload, Message)]


def expected(name: str, count: int) -> list[bytes]:
    return [f"{name}-{i}".encode() for i in range(count)]


@pytest.mark.parametrize("links", [("eth0",), ("eth0", "eth1")], ids=["one-link", "two-links"])
@pytest.mark.parametrize("seed", range(5))
def test_100_messages_with_30_percent_loss_arrive_exactly_once_in_order(
        seed: int, links: tuple[str, ...]) -> None:
    sim = Sim(seed, loss=0.3, links=links, count=100)
    sim.run_until(60.0)
    assert sim.bodies("bob") == expected("alice", 100)
    assert sim.bodies("alice") == expected("bob", 100)
    for node in sim.nodes.values():
        assert not [e for e in node.events if isinstance(e, IrretrievablyLost | NodeDead)]
        assert node.channel.history.backlog == 0  # every message acked, history freed
        assert node.channel.next_deadline() == float("inf")  # nothing left to chase
    assert sim.traffic["rexmit"] > 0  # the loss really happened and was repaired


def test_without_loss_nothing_is_requested() -> None:
    sim = Sim(0, loss=0.0, links=("eth0",), count=100)
    sim.run_until(10.0)
    assert sim.bodies("bob") == expected("alice", 100)
    assert "rexmit" not in sim.traffic and "nak" not in sim.traffic


def test_partition_then_heal_keeps_delivery_ordered_and_unique() -> None:
    sim = Sim(3, loss=0.1, links=("eth0",), count=0)
    sim.run_until(5.0)
    alice, bob = sim.nodes["alice"], sim.nodes["bob"]
    assert alice.liveness.comm_up and bob.liveness.comm_up
    before = [alice.channel.send("test.seq", b"before-%d" % i, sim.now) for i in range(3)]
    sim.transmit(alice, before)
    sim.run_until(8.0)
    bob.muted = alice.muted = True  # the cable is cut: nothing gets through either way
    sim.transmit(alice, [alice.channel.send("test.seq", b"during", sim.now)])
    sim.run_until(20.0)
    assert alice.liveness.node_status("bob") == "dead"
    assert bob.liveness.node_status("alice") == "dead"
    bob.muted = alice.muted = False
    sim.run_until(25.0)
    after = [alice.channel.send("test.seq", b"after-%d" % i, sim.now) for i in range(3)]
    sim.transmit(alice, after)
    sim.run_until(40.0)
    assert bob.liveness.node_status("alice") == "active"
    # what alice sent while bob believed her dead is not chased (reference 4.8: seq
    # tracking resets on death); everything else arrives once, in order
    assert sim.bodies("bob") == [b"before-0", b"before-1", b"before-2",
                                 b"after-0", b"after-1", b"after-2"]
    assert any(isinstance(e, CommUp) for e in bob.events)


def test_the_sim_really_loses_control_packets_too() -> None:
    sim = Sim(1, loss=0.3, links=("eth0",), count=100)
    sim.run_until(60.0)
    assert sim.traffic.get("ack", 0) > 0
    assert {"status", "msg", "rexmit", "ack"} <= set(sim.traffic)
    assert not any(isinstance(p.payload, Rexmit | Nak) for p in sim.nodes["bob"].delivered)
