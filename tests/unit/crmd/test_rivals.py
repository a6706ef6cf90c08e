"""Rivals: the keeper of a multi-active group re-announces once, after every other
holder has released it, and never on an ordinary move."""

from __future__ import annotations

from cluster.crmd.rivals import Rivals
from cluster.crmd.state import ClusterState, GroupState, GroupStatus, NodeInfo, NodeReport, View

G = "node1 IPaddr::10.0.0.1/24/eth0 httpd"
S = GroupState


def _info(name: str, state: GroupState | None, *, instance: int = 2, member: bool = True,
          since: int = 2, fenced: bool = False) -> NodeInfo:
    report = None if state is None else NodeReport(instance, 1, {G: GroupStatus(state)})
    return NodeInfo(name, member=member, report=report, member_since=since, fenced=fenced)


def _state(*infos: NodeInfo) -> ClusterState:
    members = frozenset(i.name for i in infos if i.member)
    return ClusterState("node1", 0.0, View(2, members), {i.name: i for i in infos})


def _feed(rivals: Rivals, *steps: tuple[GroupState | None, NodeInfo]) -> list[list[str]]:
    """The groups returned at each step (the rivals named are checked once, below)."""
    return [[key for key, _ in rivals.update(_state(_info("node1", own), other))]
            for own, other in steps]


def test_keeper_announces_once_when_the_other_holder_has_stopped() -> None:
    seen = _feed(Rivals("node1"),
                 (S.STARTED, _info("node2", S.STOPPED)),    # alone: nothing to do
                 (S.STARTED, _info("node2", S.STARTED)),    # the heal: both run it
                 (S.STARTED, _info("node2", S.STOPPING)),
                 (S.STARTED, _info("node2", S.STOPPED)),    # released: announce
                 (S.STARTED, _info("node2", S.STOPPED)))    # ... once
    assert seen == [[], [], [], [G], []]


def test_the_node_that_gives_the_group_up_announces_nothing() -> None:
    seen = _feed(Rivals("node1"),
                 (S.STARTED, _info("node2", S.STARTED)),
                 (S.STOPPING, _info("node2", S.STARTED)),
                 (S.STOPPED, _info("node2", S.STARTED)))
    assert seen == [[], [], []]


def test_an_ordinary_move_is_no_contest() -> None:
    """Failback: the other node stops first, then we start: our start announced it."""
    seen = _feed(Rivals("node1"),
                 (S.STOPPED, _info("node2", S.STARTED)),
                 (S.STOPPED, _info("node2", S.STOPPED)),
                 (S.STARTING, _info("node2", S.STOPPED)),
                 (S.STARTED, _info("node2", S.STOPPED)))
    assert seen == [[], [], [], []]


def test_a_rival_that_departs_holding_it_keeps_us_waiting_until_it_says_stopped() -> None:
    seen = _feed(Rivals("node1"),
                 (S.STARTED, _info("node2", S.STARTED)),
                 (S.STARTED, _info("node2", S.STARTED, member=False)),    # partition again
                 (S.STARTED, _info("node2", S.STOPPED, instance=2, since=3)),  # untrusted
                 (S.STARTED, _info("node2", None, since=3)),               # back, no report
                 (S.STARTED, _info("node2", S.STOPPED, instance=3, since=3)))
    assert seen == [[], [], [], [], [G]]


def test_a_fenced_rival_holds_nothing() -> None:
    seen = _feed(Rivals("node1"),
                 (S.STARTED, _info("node2", S.STARTED)),
                 (S.STARTED, _info("node2", S.STARTED, member=False, fenced=True)))
    assert seen == [[], [G]]


def test_the_released_rivals_are_named() -> None:
    rivals = Rivals("node1")
    own = _info("node1", S.STARTED)
    assert rivals.update(_state(own, _info("node2", S.STARTED), _info("node3", S.STARTED))) == []
    assert rivals.update(_state(own, _info("node2", S.STOPPED), _info("node3", S.STARTED))) == []
    assert rivals.update(_state(own, _info("node2", S.STOPPED), _info("node3", S.STOPPED))) == [
        (G, ("node2", "node3"))]


def test_a_released_rival_that_takes_it_up_again_is_waited_for() -> None:
    rivals = Rivals("node1")
    own = _info("node1", S.STARTED)
    assert rivals.update(_state(own, _info("node2", S.STARTED), _info("node3", S.STARTED))) == []
    assert rivals.update(_state(own, _info("node2", S.STOPPED), _info("node3", S.STARTED))) == []
    assert rivals.update(_state(own, _info("node2", S.STARTING), _info("node3", S.STOPPED))) == []
    assert rivals.update(_state(own, _info("node2", S.STOPPED), _info("node3", S.STOPPED))) != []


def test_no_own_report_forgets_the_rivals() -> None:
    rivals = Rivals("node1")
    assert rivals.update(_state(_info("node1", S.STARTED), _info("node2", S.STARTED))) == []
    assert rivals.update(_state(_info("node1", None), _info("node2", S.STARTED))) == []
    assert rivals.update(_state(_info("node1", S.STARTED), _info("node2", S.STOPPED))) == []
