"""Membership core under a fake clock: messages are pumped by hand, nobody sleeps."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import pytest

from cluster.bus import codec
from cluster.bus.messages.ccm import (
    CcmGroup,
    CcmJoin,
    CcmStateAnnounced,
    CcmViewDecided,
    ViewChanged,
)
from cluster.ccm.interface import Effect, MembershipConfig, MessageDropped, Send, ViewPublished
from cluster.ccm.membership import Membership, Phase, has_quorum

KEEPALIVE = 1.0


class Net:
    """Cores whose messages are delivered at once, in order, through the codec."""

    def __init__(self, names: Iterable[str], now: float = 100.0) -> None:
        self.names = tuple(sorted(names))
        self.now = now
        self.cores: dict[str, Membership] = {}
        self.views: dict[str, list[ViewChanged]] = {}
        self.sent: list[tuple[str, Send]] = []
        self.down: set[str] = set()  # ccm not running: messages to it vanish
        self._queue: deque[tuple[str, Send]] = deque()
        for name in self.names:
            self.boot(name)

    def boot(self, name: str, max_instance: int = 0) -> Membership:
        config = MembershipConfig(name, self.names, KEEPALIVE)
        self.cores[name] = Membership(config, self.now, max_instance=max_instance)
        self.views.setdefault(name, [])
        self.down.discard(name)
        return self.cores[name]

    def feed(self, name: str, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                self.sent.append((name, effect))
                self._queue.append((name, effect))
            elif isinstance(effect, ViewPublished):
                self.views[name].append(effect.view)

    def pump(self) -> None:
        while self._queue:
            src, send = self._queue.popleft()
            for dst in [send.dest] if send.dest else self.names:
                if dst != src and dst not in self.down:
                    msg = codec.decode(codec.encode(send.message))
                    self.feed(dst, self.cores[dst].received(src, msg, self.now))

    def snapshot(self, name: str, up: Iterable[str], comm_up: bool = True) -> None:
        statuses = {n: ("active" if n in up else "dead") for n in self.names}
        self.feed(name, self.cores[name].hbcomm_snapshot(statuses, comm_up, self.now))

    def status(self, name: str, node: str, status: str) -> None:
        self.feed(name, self.cores[name].node_status(node, status, self.now))

    def advance(self, seconds: float) -> None:
        """Jump the clock, firing every deadline on the way (and delivering)."""
        end = self.now + seconds
        self.pump()
        while True:
            name, due = min(((n, self.cores[n].next_deadline()) for n in self.names
                             if n not in self.down), key=lambda item: item[1])
            if due > end:
                break
            self.now = max(self.now, due)
            self.feed(name, self.cores[name].tick(self.now))
            self.pump()
        self.now = end

    def view(self, name: str) -> ViewChanged:
        return self.cores[name].view


def joins(net: Net) -> list[CcmJoin]:
    return [s.message for _, s in net.sent if isinstance(s.message, CcmJoin)]


def test_single_node_forms_itself_at_comm_up_without_a_message() -> None:
    net = Net(["alice", "bob"])
    core = net.cores["alice"]
    assert core.view == ViewChanged(0, ("alice",), False, "alice", formed=False)
    net.snapshot("alice", up=[], comm_up=False)
    assert not core.view.formed  # before comm up nobody knows who is alive
    effects = core.hbcomm_snapshot({"bob": "dead"}, True, net.now)
    views = [e.view for e in effects if isinstance(e, ViewPublished)]
    assert views == [ViewChanged(1, ("alice",), True, "alice", formed=True)]
    assert not any(isinstance(e, Send) and not isinstance(e.message, CcmStateAnnounced)
                   for e in effects)


def start_pair(net: Net) -> None:
    for name in net.names:
        net.snapshot(name, up=net.names)
    net.pump()
    net.advance(KEEPALIVE)


def test_two_nodes_agree_on_one_instance_and_member_list() -> None:
    net = Net(["alice", "bob"])
    start_pair(net)
    assert net.view("alice") == net.view("bob") == ViewChanged(
        1, ("alice", "bob"), True, "alice", formed=True)
    # One round (bob's request crossed alice's Join, so alice repeated it to him).
    assert {(j.round, j.proposal) for j in joins(net)} == {(1, ("alice", "bob"))}
    assert net.cores["alice"].phase is net.cores["bob"].phase is Phase.IDLE


def test_survivor_forms_itself_at_once_with_a_higher_instance() -> None:
    net = Net(["alice", "bob"])
    start_pair(net)
    for name in ("alice", "bob"):  # either side survives alone, the leader or not
        other = "bob" if name == "alice" else "alice"
        effects = net.cores[name].node_status(other, "dead", net.now)
        views = [e.view for e in effects if isinstance(e, ViewPublished)]
        assert views == [ViewChanged(2, (name,), True, name, formed=True)]


def test_rejoin_agrees_on_a_higher_instance() -> None:
    net = Net(["alice", "bob"])
    start_pair(net)
    net.status("alice", "bob", "dead")
    net.status("bob", "alice", "dead")
    net.advance(KEEPALIVE)
    assert net.view("alice").instance == net.view("bob").instance == 2  # two partitions
    net.status("bob", "alice", "active")  # bob notices first: asks alice for a round
    net.pump()
    assert net.view("bob").members == ("bob",)  # alice does not hear bob yet: no change
    net.status("alice", "bob", "active")
    net.pump()  # a round at once: the last one was long ago
    assert net.view("alice") == net.view("bob") == ViewChanged(
        3, ("alice", "bob"), True, "alice", formed=True)


@pytest.mark.parametrize(("members", "total", "quorate"), [
    (1, 1, True), (1, 2, True), (2, 2, True), (1, 3, False), (2, 3, True), (3, 3, True),
    (1, 4, False), (2, 4, False), (3, 4, True), (2, 5, False), (3, 5, True), (3, 6, False),
])
def test_quorum_is_majority_or_one_of_two(members: int, total: int, quorate: bool) -> None:
    assert has_quorum(members, total) is quorate


def test_views_carry_quorum_of_the_configured_nodes() -> None:
    net = Net(["a", "b", "c"])
    for name in net.names:
        net.snapshot(name, up=net.names)
    net.pump()
    assert net.view("c").quorate and net.view("c").members == ("a", "b", "c")
    net.status("c", "a", "dead")
    net.status("c", "b", "dead")
    assert net.view("c") == ViewChanged(2, ("c",), False, "c", formed=True)


def test_a_peer_without_ccm_is_left_out_after_the_join_timeout() -> None:
    net = Net(["a", "b", "c"])
    net.down.add("c")  # hbcomm hears c, but its ccm is not running
    for name in ("a", "b"):
        net.snapshot(name, up=net.names)
    net.pump()
    assert not net.view("a").formed
    net.advance(5 * KEEPALIVE)
    assert net.view("a") == net.view("b") == ViewChanged(1, ("a", "b"), True, "a")
    net.boot("c")  # its ccm starts and announces itself: it is taken in
    net.snapshot("c", up=net.names)
    net.pump()
    assert net.view("a") == net.view("b") == net.view("c")
    assert net.view("c").members == ("a", "b", "c") and net.view("c").instance == 2


def test_restarted_ccm_never_goes_below_the_cluster_instance() -> None:
    net = Net(["a", "b"])
    start_pair(net)
    for _ in range(3):  # instance 7 by now
        net.status("a", "b", "dead")
        net.status("b", "a", "dead")
        net.status("a", "b", "up")
        net.status("b", "a", "up")
        net.advance(KEEPALIVE)
    high = net.view("a").instance
    assert high == net.view("b").instance > 3
    net.boot("b", max_instance=0)  # state file lost
    net.snapshot("b", up=net.names)
    net.advance(KEEPALIVE)
    assert net.view("b") == net.view("a") and net.view("b").instance >= high
    net.status("b", "a", "dead")  # what it learned from a survives a's death
    assert net.view("b").instance > high


def test_leader_that_never_invites_us_is_given_up() -> None:
    """One-way cut: c hears a, a does not hear c.  c stops waiting for a."""
    net = Net(["a", "b", "c"])
    for name in net.names:
        net.snapshot(name, up=net.names)
    net.pump()
    net.status("a", "c", "dead")
    net.down.add("c")  # nothing from c reaches a (b still hears c)
    net.pump()
    net.down.discard("c")
    net.advance(30 * KEEPALIVE)
    assert net.view("a").members == ("a", "b") == net.view("b").members
    assert net.view("c").members == ("c",)


@pytest.mark.parametrize("msg", [
    CcmStateAnnounced(("a",), "a", -1, (), 0),
    CcmStateAnnounced(("a",), "a", 0, (5,), 0),  # type: ignore[arg-type]
    CcmJoin(1, (), 0),
    CcmViewDecided(1, (), 1),
    CcmViewDecided(1, (CcmGroup(2, ("a",)), CcmGroup(3, ("a",))), 3),
    ViewChanged(1, ("a",), True, "a"),
])
def test_malformed_messages_are_dropped(msg: object) -> None:
    core = Membership(MembershipConfig("b", ("a", "b"), KEEPALIVE), 0.0)
    assert core.received("a", msg, 0.0) == [MessageDropped("a", _why(msg))]


def _why(msg: object) -> str:
    from cluster.ccm.interface import problem
    reason = problem(msg)
    assert reason is not None
    return reason


def test_comm_up_is_this_node_turning_active() -> None:
    core = Membership(MembershipConfig("alice", ("alice", "bob"), KEEPALIVE), 0.0)
    core.hbcomm_snapshot({"alice": "up", "bob": "dead"}, False, 0.0)
    assert not core.view.formed
    core.node_status("alice", "active", 1.0)
    assert core.view == ViewChanged(1, ("alice",), True, "alice", formed=True)


def _kinds(sent: list[tuple[str, Send]]) -> list[str]:
    return [type(send.message).__name__ for _, send in sent]


def test_a_members_death_is_decided_without_a_round() -> None:
    """The coordinator of the last view decides the rest at once; followers that saw the
    death first hold their news (its hbcomm saw it too) and send nothing."""
    net = Net(["a", "b", "c", "d"])
    start_pair(net)
    first = net.view("a")
    assert first.members == ("a", "b", "c", "d")
    before = len(net.sent)
    net.down.add("d")
    for name in ("c", "b", "a"):  # the coordinator last: its followers hold their news
        net.status(name, "d", "dead")
    net.pump()
    assert net.view("a") == net.view("b") == net.view("c")
    assert net.view("a").members == ("a", "b", "c") and net.view("a").instance > first.instance
    assert _kinds(net.sent[before:]) == ["CcmViewDecided", "CcmStateAnnounced"]
    assert all(src == "a" for src, _ in net.sent[before:])
    net.advance(3 * KEEPALIVE)  # past the hold: nothing left to say but the periodic
    assert "CcmJoin" not in _kinds(net.sent[before:])


def test_a_follower_that_cannot_hear_a_survivor_asks_for_a_round() -> None:
    """c stopped hearing b just before d died: it does not take {a, b, c} as is."""
    net = Net(["a", "b", "c", "d"])
    start_pair(net)
    net.down.add("d")
    net.status("c", "b", "dead")  # held: a's hbcomm may see it too
    for name in ("b", "a"):
        net.status(name, "d", "dead")
    net.pump()
    assert net.view("a").members == ("a", "b", "c")  # a and b took it
    assert net.view("c").members == ("a", "b", "c", "d")  # c did not
    net.status("c", "d", "dead")
    net.advance(6 * KEEPALIVE)  # c asks (after holding), a waits for its own hbcomm
    # as long, then opens a round: b and c are no clique
    assert "CcmJoin" in _kinds(net.sent)
    assert "b" not in net.view("c").members and "c" not in net.view("b").members
    assert net.view("a") in (net.view("b"), net.view("c"))


def test_a_burst_of_hbcomm_news_holds_a_follower_for_quiet_time_only() -> None:
    """c alone sees d die and e flap: it asks a for a round quiet_time after the first
    change, however long the burst goes on (each change restarting the hold left a
    churning cluster unsettled)."""
    net = Net(["a", "b", "c", "d", "e"])
    start_pair(net)
    quiet = net.cores["c"].config.quiet_time
    before = len(net.sent)
    net.status("c", "d", "dead")
    for _ in range(3):  # 1.5 quiet_time in all, a change every half
        net.advance(quiet / 2)
        net.status("c", "e", "dead")
        net.status("c", "e", "up")
    asked = [s for src, s in net.sent[before:] if src == "c"
             and isinstance(s.message, CcmStateAnnounced) and s.message.waiting]
    assert asked, "c never asked its leader for a round"
