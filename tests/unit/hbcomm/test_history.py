"""SendHistory: numbering, bounded history, answering rexmit requests, acks."""

from __future__ import annotations

from cluster.hbcomm.history import HistoryConfig, SendHistory
from cluster.hbcomm.packet import Ack, Message, Nak, Packet, Rexmit, Status


def history(size: int = 500, peers: tuple[str, ...] = ("bob", "carol")) -> SendHistory:
    return SendHistory(HistoryConfig(size=size), "alice", 7, ("alice", *peers))


def fill(h: SendHistory, count: int, now: float = 0.0) -> list[Packet]:
    return [h.send(Message("ccm.x", str(i).encode()), now) for i in range(count)]


def rexmit(first: int, last: int, src: str = "bob", ogen: int = 7,
           dest: str = "alice") -> Packet:
    return Packet(src=src, gen=3, seq=None, dest=dest, payload=Rexmit(first, last, ogen), ts=0.0)


def ack(seq: int, src: str = "bob", ogen: int = 7) -> Packet:
    return Packet(src=src, gen=3, seq=None, dest="alice", payload=Ack(seq, ogen), ts=0.0)


def test_sequenced_packets_are_numbered_from_one() -> None:
    h = history()
    sent = fill(h, 3, now=5.0)
    assert [p.seq for p in sent] == [1, 2, 3]
    assert all(p.src == "alice" and p.gen == 7 and p.ts == 5.0 for p in sent)
    assert h.hiseq == 3


def test_status_advertises_timers_in_ms_and_hiseq() -> None:
    h = history()
    fill(h, 4)
    status = h.status("active", deadtime=7.53, keepalive=1.0, uptime=12.0, now=3.0)
    assert status.seq is None
    assert status.payload == Status(st="active", dt=7530, keepalive=1000, uptime=12.0, hiseq=4,
                                    unacked=4)


def test_rexmit_resends_the_stored_packets() -> None:
    h = history()
    sent = fill(h, 10)
    assert h.on_rexmit(rexmit(3, 5), now=1.0) == sent[2:5]


def test_rexmit_is_capped_at_50_packets_per_request() -> None:
    h = history()
    sent = fill(h, 120)
    assert h.on_rexmit(rexmit(1, 120), now=1.0) == sent[:50]


def test_no_resend_within_240ms_of_the_previous_one() -> None:
    h = history()
    sent = fill(h, 5)
    assert h.on_rexmit(rexmit(2, 2), now=1.0) == [sent[1]]
    assert h.on_rexmit(rexmit(2, 2, src="carol"), now=1.2) == []
    assert h.on_rexmit(rexmit(2, 2), now=1.24) == [sent[1]]


def test_history_keeps_only_the_last_n_and_naks_older() -> None:
    h = history(size=5)
    sent = fill(h, 12)
    assert h.oldest == 8
    reply = h.on_rexmit(rexmit(6, 9), now=1.0)
    assert reply[1:] == sent[7:9]
    nak = reply[0]
    assert nak.dest == "bob" and nak.seq is None and nak.gen == 7
    assert isinstance(nak.payload, Nak) and (nak.payload.firstseq, nak.payload.lastseq) == (6, 7)


def test_requests_beyond_hiseq_or_for_another_generation_or_node_are_ignored() -> None:
    h = history()
    sent = fill(h, 3)
    assert h.on_rexmit(rexmit(3, 9), now=1.0) == [sent[2]]
    assert h.on_rexmit(rexmit(5, 9), now=2.0) == []
    assert h.on_rexmit(rexmit(1, 1, ogen=6), now=2.0) == []
    assert h.on_rexmit(rexmit(1, 1, dest="carol"), now=2.0) == []


def test_seqs_the_requester_acked_are_not_resent() -> None:
    h = history()
    sent = fill(h, 10)
    h.on_ack(ack(6))
    assert h.on_rexmit(rexmit(4, 8), now=1.0) == sent[6:8]


def test_acks_from_every_live_peer_trim_history() -> None:
    h = history()
    fill(h, 10)
    h.on_ack(ack(6, "bob"))
    assert h.oldest == 1 and h.backlog == 10
    h.on_ack(ack(4, "carol"))
    assert h.oldest == 5 and h.backlog == 6
    h.on_ack(ack(3, "carol"))  # acks never go backwards
    assert h.oldest == 5


def test_a_dead_peer_stops_holding_history_and_counts_from_hiseq_when_back() -> None:
    h = history()
    fill(h, 10)
    h.on_ack(ack(8, "bob"))
    h.peer_dead("carol")
    h.on_ack(ack(9, "bob"))
    assert h.oldest == 10
    fill(h, 5)
    h.peer_up("carol")
    assert h.backlog == 6  # bob holds from 9; carol from 15
    h.on_ack(ack(15, "bob"))
    assert h.oldest == 16 and h.backlog == 0


def test_stale_generation_ack_cannot_free_history() -> None:
    h = history(peers=("bob",))
    fill(h, 10)
    h.on_ack(ack(10, ogen=6))
    assert h.oldest == 1


def test_alone_the_window_just_slides() -> None:
    h = history(size=3, peers=())
    fill(h, 5)
    assert (h.oldest, h.backlog) == (3, 0)


def test_window_full_is_flow_control() -> None:
    h = SendHistory(HistoryConfig(size=10, flow_limit=4), "alice", 7, ("bob",))
    fill(h, 3)
    assert not h.window_full
    fill(h, 1)
    assert h.window_full
    h.on_ack(ack(2))
    assert not h.window_full
    h.peer_dead("bob")
    fill(h, 9)
    assert not h.window_full  # alone: never blocked


def test_a_broadcast_ack_frees_what_its_entry_for_us_acks() -> None:
    h = history()
    fill(h, 5)

    def broadcast(src: str, *acks: tuple[str, int, int]) -> Packet:
        return Packet(src=src, gen=9, seq=None, dest=None, payload=Ack(0, 0, acks), ts=0.0)

    h.on_ack(broadcast("bob", ("alice", 7, 4), ("carol", 3, 2)))
    h.on_ack(broadcast("carol", ("alice", 6, 5), ("bob", 3, 1)))  # our earlier generation
    assert h.oldest == 1 and h.backlog == 5
    h.on_ack(broadcast("carol", ("bob", 3, 1), ("alice", 7, 3)))
    assert h.oldest == 4 and h.backlog == 2
