"""Liveness: node and link timers under a fake clock (nobody sleeps)."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.hbcomm.liveness import (
    CommUp,
    LinkDead,
    LinkUp,
    Liveness,
    LivenessConfig,
    NodeActive,
    NodeDead,
    NodeLate,
    NodeUp,
)

CONFIG = LivenessConfig(keepalive=1.0, warntime=3.0, deadtime=5.0, initdead=20.0, deadping=8.0,
                        use_peer_deadtime=False)


def liveness(config: LivenessConfig = CONFIG, **kwargs: tuple[str, ...]) -> Liveness:
    return Liveness(config, "alice", ("alice", "bob"), now=100.0, links=("eth0", "eth1"),
                    **kwargs)


def up(live: Liveness, now: float = 100.0) -> None:
    """bob heard on both links: comm up."""
    live.heard("bob", "eth0", now, True, status="active")
    live.heard("bob", "eth1", now, False)
    assert live.comm_up


def test_first_heartbeat_brings_node_and_link_up_and_comm_up() -> None:
    live = liveness()
    assert live.node_status("bob") == "init" and live.node_status("alice") == "up"
    assert live.link_status("bob", "eth0") == "dead"
    events = live.heard("bob", "eth0", 101.0, True, status="up")
    assert events == [LinkUp("bob", "eth0"), NodeUp("bob"), CommUp()]
    assert live.node_status("bob") == "up" and live.node_status("alice") == "active"
    assert live.heard("bob", "eth0", 102.0, True, status="active") == [NodeActive("bob")]
    assert live.heard("bob", "eth0", 103.0, True, status="active") == []
    assert live.node_status("bob") == "active"


def test_dead_exactly_after_deadtime() -> None:
    live = liveness()
    up(live)
    live.heard("bob", "eth0", 110.0, True, status="active")
    live.heard("bob", "eth1", 110.0, False)
    assert live.next_deadline() == 115.0
    assert live.tick(114.999) == []
    assert live.tick(115.0) == [LinkDead("bob", "eth0"), LinkDead("bob", "eth1"),
                                NodeDead("bob", 5.0)]
    assert live.node_status("bob") == "dead" and live.link_status("bob", "eth0") == "dead"
    assert live.next_deadline() == math.inf
    assert live.tick(200.0) == []


def test_late_heartbeat_carries_the_interval() -> None:
    live = liveness()
    up(live)
    assert live.heard("bob", "eth0", 102.0, True, status="active") == []
    assert live.heard("bob", "eth0", 106.0, True, status="active") == [
        LinkDead("bob", "eth1"), NodeLate("bob", 4.0)]
    assert live.node_status("bob") == "active"


def test_heartbeat_later_than_deadtime_is_a_death_and_return() -> None:
    live = liveness()
    up(live)
    live.heard("bob", "eth1", 100.0, False)
    events = live.heard("bob", "eth0", 107.0, True, status="active")
    assert events == [LinkDead("bob", "eth0"), LinkDead("bob", "eth1"), NodeDead("bob", 7.0),
                      LinkUp("bob", "eth0"), NodeLate("bob", 7.0), NodeUp("bob"),
                      NodeActive("bob")]


def test_initdead_applies_before_comm_up() -> None:
    live = Liveness(CONFIG, "alice", ("alice", "bob", "carol"), now=100.0, links=("eth0",))
    live.heard("bob", "eth0", 100.0, True, status="up")
    assert live.next_deadline() == 120.0  # not 105: comm is not up yet
    assert live.tick(119.0) == []
    assert live.tick(120.0) == [LinkDead("bob", "eth0"), NodeDead("bob", 20.0),
                                NodeDead("carol", 20.0), CommUp()]


def test_comm_up_when_the_silent_node_is_declared_dead_then_deadtime_applies() -> None:
    live = Liveness(CONFIG, "alice", ("alice", "bob", "carol"), now=100.0, links=("eth0",))
    live.heard("bob", "eth0", 116.0, True, status="up")
    assert live.tick(120.0) == [NodeDead("carol", 20.0), CommUp()]
    assert live.next_deadline() == 121.0  # bob is now judged by deadtime: 116 + 5
    assert live.tick(121.0) == [LinkDead("bob", "eth0"), NodeDead("bob", 5.0)]


def test_comm_up_switch_applies_deadtime_at_once() -> None:
    live = Liveness(CONFIG, "alice", ("alice", "bob", "carol"), now=100.0, links=("eth0",))
    live.heard("bob", "eth0", 110.0, True, status="up")
    assert live.tick(120.0) == [NodeDead("carol", 20.0), CommUp(),
                                LinkDead("bob", "eth0"), NodeDead("bob", 10.0)]


def test_link_dies_while_the_node_stays_up_over_the_other() -> None:
    live = liveness()
    up(live)
    for t in (102.0, 104.0):
        live.heard("bob", "eth0", t, True, status="active")
    assert live.tick(105.0) == [LinkDead("bob", "eth1")]
    live.heard("bob", "eth0", 106.0, True, status="active")
    assert live.node_status("bob") == "active" and live.link_status("bob", "eth0") == "up"
    assert live.heard("bob", "eth1", 107.0, False) == [LinkUp("bob", "eth1")]
    assert live.links("bob") == ("eth0", "eth1")


def test_duplicates_on_a_second_link_keep_it_up() -> None:
    live = liveness()
    up(live)
    for t in range(101, 120):
        live.heard("bob", "eth0", float(t), True, status="active")
        live.heard("bob", "eth1", float(t), False)  # the same packet's copy: not a heartbeat
    assert live.tick(120.0) == []


def test_peer_advertised_deadtime_is_used_after_comm_up() -> None:
    live = liveness(LivenessConfig(keepalive=1.0, warntime=3.0, deadtime=5.0, initdead=20.0))
    live.heard("bob", "eth0", 100.0, True, status="active", deadtime=9.0)
    assert live.next_deadline() == 109.0


def test_goodbye_is_immediate_and_only_a_heartbeat_resurrects() -> None:
    live = liveness()
    up(live)
    assert live.heard("bob", "eth0", 101.0, True, status="dead") == [NodeDead("bob", 0.0)]
    assert live.heard("bob", "eth0", 101.5, False) == []  # a stray duplicate
    assert live.node_status("bob") == "dead"
    assert live.heard("bob", "eth0", 102.0, True, status="up") == [NodeUp("bob")]
    assert live.left("bob", 103.0) == [NodeDead("bob", 0.0)]


def test_ping_nodes_use_deadping() -> None:
    live = Liveness(CONFIG, "alice", ("alice",), now=100.0, ping_nodes=("gw",))
    assert live.heard("gw", "ping", 100.0, True) == [LinkUp("gw", "ping"), NodeUp("gw"), CommUp()]
    assert live.node_status("gw") == "ping"
    assert live.next_deadline() == 108.0


def test_single_node_cluster_comes_up_on_the_first_tick() -> None:
    live = Liveness(CONFIG, "alice", ("alice",), now=100.0)
    assert live.next_deadline() == 100.0
    assert live.tick(100.0) == [CommUp()]
    assert live.next_deadline() == math.inf


def test_unknown_nodes_are_ignored_and_local_links_tracked() -> None:
    live = liveness()
    assert live.heard("mallory", "eth0", 100.0, True) == []
    assert live.heard("alice", "eth0", 100.0, True) == [LinkUp("alice", "eth0")]
    assert live.node_status("alice") == "up"
    assert set(live.nodes()) == {"alice", "bob"}
    with pytest.raises(KeyError):
        live.node_status("mallory")


def test_from_haconfig_and_validation() -> None:
    class Timers:
        keepalive, deadtime, warntime, initdead, deadping = 1.0, 10.0, 5.0, 60.0, 20.0

    assert LivenessConfig.from_haconfig(Timers()).deadtime == 10.0
    with pytest.raises(ValueError, match="deadtime"):
        LivenessConfig(deadtime=0.0)


def test_a_pause_of_ours_gives_the_peers_a_grace_to_be_heard() -> None:
    live = liveness()
    up(live)
    live.heard("bob", "eth1", 100.0, False)
    # We were not scheduled from 104.5 to 107: bob's deadline (105) passed meanwhile.
    live.paused(107.0, 2.5)
    assert live.next_deadline() == 109.5              # now + min(pause, deadtime)
    assert live.tick(107.5) == []
    events = live.heard("bob", "eth0", 107.25, True, status="active")
    assert events == [NodeLate("bob", 7.25)]          # late, but not dead and back
    assert live.node_status("bob") == "active"


def test_a_peer_silent_through_the_grace_is_dead_with_its_real_silence() -> None:
    live = liveness()
    up(live)
    live.heard("bob", "eth1", 100.0, False)
    live.paused(105.2, 0.3)
    assert live.next_deadline() == 105.5
    assert live.tick(105.5) == [LinkDead("bob", "eth0"), LinkDead("bob", "eth1"),
                                NodeDead("bob", 5.5)]


def test_every_pause_in_a_silence_moves_the_deadline_by_its_length() -> None:
    live = liveness()
    up(live)
    live.heard("bob", "eth1", 100.0, False)
    live.paused(102.0, 0.5)                            # ends well before the deadline
    assert live.next_deadline() == 105.5
    live.paused(105.25, 0.5)
    live.paused(105.5, 1.0)                            # 2 s paused in this silence
    assert live.next_deadline() == 107.0
    assert live.tick(106.9) == []
    assert live.tick(107.0) == [LinkDead("bob", "eth0"), LinkDead("bob", "eth1"),
                                NodeDead("bob", 7.0)]


def test_a_loop_always_a_little_late_still_declares_a_death() -> None:
    live = liveness()
    up(live)
    live.heard("bob", "eth1", 100.0, False)
    for _ in range(100):                               # every wake-up 0.9 s late
        now = live.next_deadline() + 0.9
        live.paused(now, 0.9)
        if live.tick(now):
            break
    assert live.node_status("bob") == "dead"
    assert now <= 105.0 + 5.0 + 0.9 + 0.9              # deadline + deadtime + longest pause


def test_a_new_silence_earns_a_new_grace() -> None:
    live = liveness()
    up(live)
    live.heard("bob", "eth1", 100.0, False)
    live.paused(106.0, 3.0)
    live.heard("bob", "eth0", 106.5, True, status="active")
    live.heard("bob", "eth1", 106.5, False)
    live.paused(112.0, 2.0)
    assert live.next_deadline() == 114.0
    assert live.tick(113.9) == []


def test_a_lost_medium_is_dead_for_every_node_at_once_and_comes_back_when_heard() -> None:
    live = liveness()
    up(live)
    live.heard("alice", "eth0", 100.0, True)
    events = live.link_lost("eth0")
    assert set(events) == {LinkDead("alice", "eth0"), LinkDead("bob", "eth0")}
    assert live.link_status("bob", "eth0") == "dead" and live.link_status("bob", "eth1") == "up"
    assert live.node_status("bob") == "active"
    assert live.link_lost("eth0") == []
    assert live.heard("bob", "eth0", 100.5, True, status="active") == [LinkUp("bob", "eth0")]


def test_reconfigure_new_timers_nodes_links_and_ping_nodes() -> None:
    live = liveness()
    up(live)
    longer = LivenessConfig(keepalive=1.0, warntime=6.0, deadtime=10.0, initdead=20.0,
                            deadping=8.0, use_peer_deadtime=False)
    live.reconfigure(longer, ("alice", "bob", "carol"), 102.0, links=("eth1", "eth2"),
                     ping_nodes=("10.0.0.254",))
    assert live.nodes() == ("alice", "bob", "carol", "10.0.0.254")
    assert live.links("bob") == ("eth1", "eth2")
    assert live.link_status("bob", "eth1") == "up", "a kept link keeps its state"
    assert live.node_status("bob") == "active" and live.node_status("carol") == "init"
    # bob was last heard at 100: the new deadtime counts; carol and the ping node
    # wait from 102.
    assert live.tick(105.0) == []
    assert live.tick(110.0) == [LinkDead("bob", "eth1"), NodeDead("bob", 10.0),
                                NodeDead("10.0.0.254", 8.0)]
    assert live.tick(112.0) == [NodeDead("carol", 10.0)]
    live.reconfigure(longer, ("alice",), 113.0, links=("eth1",), ping_nodes=())
    assert live.nodes() == ("alice",)
    assert live.tick(200.0) == []


_STEP = st.tuples(st.sampled_from(["heard", "tick", "paused", "left", "link_lost", "refresh"]),
                  st.sampled_from(["bob", "carol", "ping1"]), st.sampled_from(["eth0", "eth1"]),
                  st.floats(0.0, 4.0), st.booleans(), st.sampled_from([None, 2.0, 6.0]))


@settings(max_examples=300, deadline=None)
@given(st.lists(_STEP, max_size=60))
def test_due_is_a_lower_bound_and_skipping_walks_changes_nothing(
        steps: list[tuple[str, str, str, float, bool, float | None]]) -> None:
    """A Liveness asked for due() (so heard/tick may skip their walk) emits exactly
    the events of one never asked (which always walks), and due() <= next_deadline()."""
    config = LivenessConfig(keepalive=1.0, warntime=3.0, deadtime=5.0, initdead=8.0,
                            deadping=8.0, use_peer_deadtime=True)
    fast, plain = (Liveness(config, "alice", ("alice", "bob", "carol"), now=100.0,
                            links=("eth0", "eth1"), ping_nodes=("ping1",)) for _ in range(2))
    now = 100.0
    for action, node, link, advance, beat, deadtime in steps:
        now += advance
        assert fast.due() <= fast.next_deadline() == plain.next_deadline()
        if action == "heard":
            beat = beat or node == "ping1"  # the pinger reports replies as heartbeats only
            got = [live.heard(node, link, now, beat, status="active" if beat else None,
                              deadtime=deadtime) for live in (fast, plain)]
        elif action == "tick":
            got = [live.tick(now) for live in (fast, plain)]
        elif action == "paused":
            got = [live.paused(now, advance) for live in (fast, plain)]
        elif action == "left":
            got = [live.left(node, now) for live in (fast, plain)]
        elif action == "refresh":
            fast.refresh_due()
            got = [[], []]
        else:
            got = [live.link_lost(link) for live in (fast, plain)]
        assert got[0] == got[1]


def test_refreshed_due_moves_with_the_heartbeats_heard_since() -> None:
    live = liveness()
    up(live)
    assert live.due() == 105.0  # deadtime after the last heartbeat
    for now in (101.0, 102.0, 103.0):
        live.heard("bob", "eth0", now, True, status="active")
        live.heard("bob", "eth1", now, False)
    assert live.due() == 105.0  # a lower bound, kept through routine heartbeats
    live.refresh_due()
    assert live.due() == live.next_deadline() == 108.0


def test_threshold_is_initdead_then_deadtime_then_the_peers_own() -> None:
    live = liveness(dataclasses.replace(CONFIG, use_peer_deadtime=True))
    assert live.threshold("bob") == 20.0  # before comm up: initdead
    up(live)
    assert live.threshold("bob") == 5.0
    live.heard("bob", "eth0", 101.0, True, status="active", deadtime=7.0)
    assert live.threshold("bob") == 7.0
