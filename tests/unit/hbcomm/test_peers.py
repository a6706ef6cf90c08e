"""Peers: generation/sequence bookkeeping, hole chasing, in-order exactly-once delivery."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.hbcomm.packet import MINOR, Ack, Message, Nak, Packet, Rexmit, Shutdown, Status
from cluster.hbcomm.peers import (
    Disposition,
    IrretrievablyLost,
    PacketsMissing,
    PeerRestarted,
    Peers,
    PeersConfig,
    ReplayRejected,
)


def peers(seed: int = 1, **config: int | float) -> Peers:
    return Peers(PeersConfig(**config), "alice", 5, random.Random(seed))  # type: ignore[arg-type]


def msg(seq: int, gen: int = 3, src: str = "bob", dest: str | None = None,
        minor: int = MINOR) -> Packet:
    return Packet(src=src, gen=gen, seq=seq, dest=dest, payload=Message("ccm.x", b"%d" % seq),
                  ts=float(seq), minor=minor)


def status(hiseq: int, ts: float, gen: int = 3, src: str = "bob", minor: int = MINOR,
           unacked: int = 0) -> Packet:
    return Packet(src=src, gen=gen, seq=None, dest=None, ts=ts, minor=minor,
                  payload=Status(st="up", dt=30000, keepalive=1000, uptime=ts, hiseq=hiseq,
                                 unacked=unacked))


def nak(first: int, last: int, gen: int = 3) -> Packet:
    return Packet(src="bob", gen=gen, seq=None, dest="alice", payload=Nak(first, last, "gone"),
                  ts=0.0)


def seqs(packets: tuple[Packet, ...] | list[Packet]) -> list[int | None]:
    return [p.seq for p in packets]


def test_in_order_packets_are_delivered_once() -> None:
    p = peers()
    for seq in (1, 2, 3):
        receipt = p.receive(msg(seq), now=0.0)
        assert receipt.disposition is Disposition.NEW and receipt.heard
        assert seqs(receipt.delivered) == [seq]
    dup = p.receive(msg(2), now=0.0)
    assert dup.disposition is Disposition.DUPLICATE and dup.heard and not dup.delivered


def test_own_packets_are_ignored() -> None:
    receipt = peers().receive(msg(1, src="alice"), now=0.0)
    assert receipt.disposition is Disposition.OWN and not receipt.heard


def test_older_generation_is_a_replay_and_not_heard() -> None:
    p = peers()
    p.receive(msg(1, gen=3), now=0.0)
    receipt = p.receive(msg(2, gen=2), now=0.0)
    assert receipt.disposition is Disposition.REPLAY and not receipt.heard
    assert receipt.events == (ReplayRejected("bob", 2, 3),)
    assert not receipt.delivered


def test_newer_generation_is_a_restart_that_resets_tracking() -> None:
    p = peers()
    p.receive(msg(1), now=0.0)
    held = p.receive(msg(3), now=0.0)  # 2 missing, 3 buffered
    assert held.events == (PacketsMissing("bob", 2, 2),)
    receipt = p.receive(msg(1, gen=4), now=1.0)
    assert seqs(receipt.delivered) == [3, 1]  # the old incarnation's tail first, then the new
    assert receipt.events == (IrretrievablyLost("bob", 2, 2, "peer restarted"),
                              PeerRestarted("bob", 3, 4))
    assert p.generation_of("bob") == 4 and p.missing("bob") == ()
    assert p.receive(msg(9, gen=3), now=1.0).disposition is Disposition.REPLAY


def test_gap_is_requested_after_jitter_and_filled_in_order() -> None:
    p = peers(ack_interval=1000.0)
    p.receive(msg(1), now=0.0)
    receipt = p.receive(msg(4), now=10.0)
    assert receipt.events == (PacketsMissing("bob", 2, 3),) and not receipt.delivered
    deadline = p.next_deadline()
    assert 10.05 <= deadline <= 10.25
    assert p.tick(deadline - 0.001).send == ()
    request = p.tick(deadline).send
    assert len(request) == 1
    assert request[0].dest == "bob" and request[0].gen == 5
    assert request[0].payload == Rexmit(2, 3, ogen=3)
    assert p.receive(msg(3), now=10.3).delivered == ()
    assert seqs(p.receive(msg(2), now=10.3).delivered) == [2, 3, 4]
    assert p.missing("bob") == ()


def test_requests_back_off_and_give_up_after_max_rounds() -> None:
    p = peers(max_rexmit_rounds=3, ack_interval=1000.0)
    p.receive(msg(1), now=0.0)
    p.receive(msg(3), now=0.0)
    times = []
    while True:
        now = p.next_deadline()
        out = p.tick(now)
        if out.events:
            break
        times.append(now)
        assert [x.payload for x in out.send] == [Rexmit(2, 2, ogen=3)]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert 0.25 <= gaps[0] <= 0.3 and 0.5 <= gaps[1] <= 0.6  # 250 ms, then doubled
    assert out.events == (IrretrievablyLost("bob", 2, 2, "gave up after 3 requests"),)
    assert seqs(out.delivered) == [3]
    assert p.next_deadline() == 1000.0  # only the ack timer remains


def test_nak_skips_the_hole_and_releases_what_follows() -> None:
    p = peers()
    p.receive(msg(1), now=0.0)
    p.receive(msg(4), now=0.0)
    receipt = p.receive(nak(2, 2), now=0.1)
    assert receipt.events == (IrretrievablyLost("bob", 2, 2, "nak: gone"),)
    assert receipt.delivered == ()
    assert seqs(p.receive(msg(3), now=0.1).delivered) == [3, 4]


def test_a_lost_seq_arriving_before_the_skip_is_still_delivered() -> None:
    p = peers()
    p.receive(msg(1), now=0.0)
    p.receive(msg(4), now=0.0)
    p.receive(nak(3, 3), now=0.1)  # 3 lost, 2 still missing: nothing drained yet
    assert seqs(p.receive(msg(3), now=0.2).delivered) == []
    assert seqs(p.receive(msg(2), now=0.2).delivered) == [2, 3, 4]


def test_status_hiseq_reveals_lost_tail_messages() -> None:
    p = peers()
    p.receive(status(0, ts=1.0), now=1.0)
    p.receive(msg(1), now=1.1)
    receipt = p.receive(status(3, ts=2.0), now=2.0)
    assert receipt.heartbeat and receipt.events == (PacketsMissing("bob", 2, 3),)
    assert p.missing("bob") == (2, 3)


def test_first_status_sets_the_baseline() -> None:
    p = peers()
    p.receive(status(7, ts=1.0), now=1.0)
    assert seqs(p.receive(msg(8), now=1.0).delivered) == [8]
    assert p.receive(msg(7), now=1.0).disposition is Disposition.DUPLICATE


def test_statuses_are_ordered_by_ts_within_a_generation() -> None:
    p = peers()
    assert p.receive(status(0, ts=5.0), now=0.0).heartbeat
    for ts in (5.0, 4.0):
        receipt = p.receive(status(0, ts=ts), now=0.0)
        assert receipt.disposition is Disposition.DUPLICATE and receipt.heard
        assert not receipt.heartbeat
    assert p.receive(status(0, ts=1.0, gen=4), now=0.0).heartbeat  # restarted: new series


def test_messages_for_other_nodes_are_tracked_but_not_delivered() -> None:
    p = peers()
    assert p.receive(msg(1, dest="carol"), now=0.0).delivered == ()
    assert seqs(p.receive(msg(2, dest="alice"), now=0.0).delivered) == [2]
    assert seqs(p.receive(Packet(src="bob", gen=3, seq=3, dest=None, payload=Shutdown(), ts=0.0),
                          now=0.0).delivered) == [3]


def test_gap_too_large_skips_the_oldest() -> None:
    p = peers(max_gap=10)
    p.receive(msg(1), now=0.0)
    receipt = p.receive(msg(100), now=0.0)
    assert receipt.events == (IrretrievablyLost("bob", 2, 89, "gap too large"),
                              PacketsMissing("bob", 90, 99))
    assert p.missing("bob") == tuple(range(90, 100))  # never more than max_gap chased


def test_node_dead_flushes_and_rebaselines() -> None:
    p = peers()
    p.receive(msg(1), now=0.0)
    p.receive(msg(3), now=0.0)
    out = p.node_dead("bob", now=1.0)
    assert seqs(out.delivered) == [3]
    assert out.events == (IrretrievablyLost("bob", 2, 2, "peer dead"),)
    assert p.next_deadline() == float("inf")
    # back after a partition, same generation: what it sent meanwhile is not chased
    assert seqs(p.receive(msg(40), now=2.0).delivered) == [40]
    assert p.missing("bob") == ()
    assert p.receive(msg(2), now=2.0).disposition is Disposition.DUPLICATE


def test_a_2_0_peer_is_acked_every_ten_and_after_the_interval() -> None:
    p = peers()
    sent = [x for seq in range(1, 13) for x in p.receive(msg(seq, minor=0), now=0.0).send]
    assert [x.payload for x in sent] == [Ack(ackseq=10, ogen=3)]
    assert sent[0].dest == "bob" and sent[0].src == "alice"
    assert p.next_deadline() == 1.0
    assert [x.payload for x in p.tick(1.0).send] == [Ack(ackseq=12, ogen=3)]
    assert p.next_deadline() == float("inf")


def test_same_seed_same_schedule() -> None:
    def run(seed: int) -> list[float]:
        p = peers(seed)
        p.receive(msg(1), now=0.0)
        p.receive(msg(5), now=0.0)
        return [p.next_deadline() for _ in range(3) if not p.tick(p.next_deadline()).events]

    assert run(7) == run(7)
    assert run(7) != run(8)


def _feed(p: Peers, arrivals: list[int]) -> list[int | None]:
    delivered: list[int | None] = []
    now = 0.0
    for seq in arrivals:
        now += 0.01
        delivered += seqs(p.receive(msg(seq), now).delivered)
        delivered += seqs(p.tick(now).delivered)
    return delivered + seqs(p.node_dead("bob", now + 1).delivered)


@settings(max_examples=200)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=80), st.integers(0, 3))
def test_any_arrival_order_delivers_everything_after_the_baseline_once_in_order(
        arrivals: list[int], seed: int) -> None:
    delivered = _feed(peers(seed), arrivals)
    assert delivered == sorted({s for s in arrivals if s >= arrivals[0]})


@settings(max_examples=200)
@given(st.lists(st.integers(1, 200), max_size=80), st.integers(0, 3))
def test_with_skipping_still_at_most_once_and_in_order(arrivals: list[int], seed: int) -> None:
    delivered = _feed(peers(seed, max_gap=8, max_rexmit_rounds=2), arrivals)
    assert delivered == sorted(set(delivered))
    assert set(delivered) <= set(arrivals)


def test_config_is_validated() -> None:
    with pytest.raises(ValueError):
        PeersConfig(rexmit_min_delay=0.3, rexmit_max_delay=0.2)


def test_a_lost_final_ack_to_a_2_0_peer_is_repeated_when_its_status_reports_unacked() -> None:
    p = peers()
    p.receive(status(0, ts=0.0, minor=0), now=0.0)
    for seq in (1, 2, 3):
        p.receive(msg(seq, minor=0), now=0.1)
    first = p.tick(1.2).send
    assert [x.payload for x in first] == [Ack(ackseq=3, ogen=3)]  # suppose this one is lost

    def unacked(ts: float, count: int) -> Packet:
        return Packet(src="bob", gen=3, seq=None, dest=None, ts=ts, minor=0,
                      payload=Status(st="up", dt=1, keepalive=1, uptime=ts, hiseq=3,
                                     unacked=count))

    assert p.receive(unacked(2.0, 3), now=2.0).send == ()  # at most once per ack_interval
    assert [x.payload for x in p.receive(unacked(2.5, 3), now=2.5).send] == [Ack(3, 3)]
    assert p.receive(unacked(3.0, 3), now=3.0).send == ()
    assert p.receive(unacked(4.0, 0), now=4.0).send == ()  # everyone acked: quiet


def _broadcast(packets: tuple[Packet, ...] | list[Packet]) -> list[Ack]:
    acks = [x.payload for x in packets if isinstance(x.payload, Ack)]
    assert all(x.dest is None for x in packets if isinstance(x.payload, Ack))
    return acks


def test_one_broadcast_ack_per_interval_covers_every_peer() -> None:
    p = peers()
    senders = [f"n{i}" for i in range(1, 31)]
    sent: list[Packet] = []
    for step in range(3):  # three messages from each of 30 peers within the interval
        for src in senders:
            sent += p.receive(msg(step + 1, src=src), now=0.1 * step).send
    assert sent == []
    assert p.next_deadline() == pytest.approx(1.0)
    acks = _broadcast(p.tick(1.0).send)
    assert acks == [Ack(0, 0, tuple((src, 3, 3) for src in senders))]
    assert p.next_deadline() == float("inf")
    assert p.tick(2.0).send == ()  # nothing new: nothing sent


def test_a_busy_peer_brings_the_broadcast_ack_forward_but_not_closer_than_the_holdoff() -> None:
    p = peers(ack_holdoff=0.05)
    p.receive(msg(1, src="carol"), now=0.0)
    sent = [x for seq in range(1, 11) for x in p.receive(msg(seq), now=0.0).send]
    assert _broadcast(sent) == [Ack(0, 0, (("carol", 3, 1), ("bob", 3, 10)))]
    more = [x for seq in range(11, 21) for x in p.receive(msg(seq), now=0.01).send]
    assert more == []  # within the holdoff of the last one
    assert p.next_deadline() == pytest.approx(0.05)
    assert _broadcast(p.tick(0.05).send) == [Ack(0, 0, (("carol", 3, 1), ("bob", 3, 20)))]


def test_a_lost_broadcast_ack_is_repeated_once_per_interval_while_a_peer_reports_unacked() -> None:
    p = peers()
    p.receive(status(0, ts=0.0), now=0.0)
    p.receive(msg(1, src="carol"), now=0.0)
    for seq in (1, 2, 3):
        p.receive(msg(seq), now=0.1)
    assert len(_broadcast(p.tick(1.0).send)) == 1  # suppose this one is lost
    assert p.receive(status(3, ts=1.5, unacked=3), now=1.5).send == ()
    again = _broadcast(p.receive(status(3, ts=2.0, unacked=3), now=2.0).send)
    assert again == [Ack(0, 0, (("bob", 3, 3), ("carol", 3, 1)))]
    assert p.receive(status(3, ts=2.5, unacked=3, src="carol"), now=2.5).send == ()
    assert p.receive(status(3, ts=3.5, unacked=0), now=3.5).send == ()


def test_2_0_and_2_1_peers_are_acked_each_the_way_it_reads() -> None:
    p = peers()
    p.receive(msg(1, src="old", minor=0), now=0.0)
    p.receive(msg(1, src="new"), now=0.0)
    sent = p.tick(1.0).send
    assert sorted((x.dest or "*", x.payload) for x in sent) == [
        ("*", Ack(0, 0, (("new", 3, 1),))), ("old", Ack(ackseq=1, ogen=3))]


def test_the_broadcast_ack_leaves_out_a_dead_peer() -> None:
    p = peers()
    p.receive(msg(1, src="carol"), now=0.0)
    p.tick(1.0)
    p.receive(msg(1), now=1.1)
    p.node_dead("carol", now=1.2)
    assert _broadcast(p.tick(2.1).send) == [Ack(0, 0, (("bob", 3, 1),))]
