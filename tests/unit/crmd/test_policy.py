"""policy.decide: targeted rules and safety invariants over generated states.

The golden scenarios (tests/scenarios/crmd) pin whole plans; here hypothesis
checks the rules that must hold for *every* state: never two starts of one
group, never a start while anyone may hold it, never an order to a leaving
node, never a start on a node that is not usable.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.config.haresources import parse_haresources
from cluster.crmd.policy import (
    Fence,
    PolicyConfig,
    Restart,
    Start,
    Stop,
    decide,
    designated_coordinator,
    usable,
)
from cluster.crmd.state import ClusterState, GroupState, GroupStatus, NodeInfo, NodeReport, View

NODES = ("node1", "node2", "node3")
GROUPS = parse_haresources(
    "node1 IPaddr::10.0.0.1/24/eth0 httpd\nnode2 IPaddr::10.0.0.2/24/eth0\n"
    "node3 IPaddr::10.0.0.3/24/eth0 nfs\n", "haresources", NODES)
KEYS = tuple(g.key for g in GROUPS)


def config(**kwargs: object) -> PolicyConfig:
    return PolicyConfig(GROUPS, NODES, **kwargs)  # type: ignore[arg-type]


def state(view: View | None, nodes: dict[str, NodeInfo], local: str = "node1",
          in_flight: frozenset[tuple[str, str]] = frozenset()) -> ClusterState:
    return ClusterState(local, 0.0, view, nodes, in_flight)


def member(name: str, instance: int, groups: dict[str, GroupStatus] | None = None,
           **kwargs: object) -> NodeInfo:
    return NodeInfo(name, member=True, member_since=1,
                    report=NodeReport(instance, 1, groups or {}, **kwargs))  # type: ignore[arg-type]


def test_dc_is_the_lowest_member_not_leaving() -> None:
    view = View(2, frozenset({"node2", "node3"}))
    s = state(view, {"node2": member("node2", 2, leaving=True), "node3": member("node3", 2)})
    assert designated_coordinator(s) == "node3"
    s = state(view, {"node2": member("node2", 2, leaving=True),
                     "node3": member("node3", 2, leaving=True)})
    assert designated_coordinator(s) is None
    assert decide(s, config()).dc is None


def test_usable_needs_a_current_report() -> None:
    view = View(3, frozenset({"node1", "node2"}))
    s = state(view, {"node1": member("node1", 3), "node2": member("node2", 2)})
    assert usable(s, config(), "node1", KEYS[0])
    assert not usable(s, config(), "node2", KEYS[0])
    assert not usable(s, config(), "node3", KEYS[0])


def test_threshold_is_configurable() -> None:
    view = View(2, frozenset({"node1", "node2"}))
    failed = {KEYS[0]: GroupStatus(GroupState.FAILED, 1)}
    s = state(view, {"node1": member("node1", 2, failed), "node2": member("node2", 2),
                     "node3": NodeInfo("node3", fenced=True, member_since=1)})
    assert isinstance(decide(s, config()).actions[0], Restart)
    stop = decide(s, config(failure_threshold=1)).actions[0]
    assert isinstance(stop, Stop) and stop.node == "node1"


def test_decide_does_not_touch_its_input() -> None:
    view = View(2, frozenset({"node1", "node2"}))
    nodes = {"node1": member("node1", 2), "node2": member("node2", 2)}
    s = state(view, nodes)
    before = repr(s)
    decide(s, config())
    assert repr(s) == before


def test_fence_is_emitted_once_per_node() -> None:
    view = View(2, frozenset({"node1"}))
    s = state(view, {"node1": member("node1", 2)})
    plan = decide(s, config(stonith=True))
    fences = [a for a in plan.actions if isinstance(a, Fence)]
    assert sorted(f.node for f in fences) == ["node2", "node3"]
    assert not [a for a in plan.actions if isinstance(a, Start)]


# -- invariants over generated states ----------------------------------------------------

_STATES = st.sampled_from([GroupState.STOPPED] * 4 + list(GroupState)[2:])   # no UNKNOWN


def _rarely(draw: st.DrawFn, one_in: int = 6) -> bool:
    return draw(st.integers(1, one_in)) == 1


@st.composite
def _reports(draw: st.DrawFn, instance: int) -> NodeReport:
    groups = {key: GroupStatus(draw(_STATES), draw(st.sampled_from((0, 0, 0, 1, 2, 3, 4))),
                               draw(st.integers(0, 5)))
              for key in KEYS if draw(st.booleans())}
    return NodeReport(
        instance=instance - 1 if _rarely(draw) else instance,
        joined=draw(st.integers(1, instance)), groups=groups, leaving=_rarely(draw),
        standby=draw(st.sampled_from(("", "", "", "local", "foreign", "all"))),
        wants=frozenset(k for k in KEYS if _rarely(draw)))


@st.composite
def _cluster(draw: st.DrawFn) -> tuple[ClusterState, PolicyConfig]:
    instance = draw(st.integers(2, 6))
    members = frozenset(n for n in NODES if not _rarely(draw, 3))
    view = View(instance, members or frozenset({"node1"}), not _rarely(draw))
    nodes = {}
    for name in NODES:
        report = None if _rarely(draw) else draw(_reports(instance))
        nodes[name] = NodeInfo(
            name, member=name in view.members, report=report,
            member_since=draw(st.sampled_from((1, 1, instance))) if name in view.members
            else draw(st.none() | st.just(1)),
            fenced=name not in view.members and draw(st.booleans()),
            abandoned=frozenset(k for k in KEYS if _rarely(draw, 4)))
    in_flight = frozenset((k, n) for k in KEYS for n in NODES if _rarely(draw, 8))
    cfg = config(auto_failback=draw(st.sampled_from(("on", "off", "legacy"))),
                 stonith=draw(st.booleans()), failure_threshold=draw(st.integers(1, 3)))
    return state(view, nodes, in_flight=in_flight), cfg


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(_cluster())
def test_starts_are_always_safe(case: tuple[ClusterState, PolicyConfig]) -> None:
    s, cfg = case
    plan = decide(s, cfg)
    assert s.view is not None
    starts = [a for a in plan.actions if isinstance(a, Start)]
    assert len({a.group for a in starts}) == len(starts), "a group started twice"
    if starts:
        assert s.view.quorate
    for start in starts:
        assert usable(s, cfg, start.node, start.group)
        for name in s.members:
            info = s.node(name)
            assert info.state_of(start.group) in (GroupState.STOPPED, None) or (
                info.trusted_report is None), f"{start.group} is active on {name}"
            assert (start.group, name) not in s.in_flight
            if not info.leaving:
                assert info.current(s.view.instance), f"{name} has not reported"
        for name in set(NODES) - s.view.members:
            info = s.node(name)
            if info.may_hold(start.group, (start.group, name) in s.in_flight):
                assert not cfg.stonith, f"started {start.group} while {name} may hold it"
                assert name in plan.unprotected


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(_cluster())
def test_orders_go_to_members_that_are_not_leaving(
        case: tuple[ClusterState, PolicyConfig]) -> None:
    s, cfg = case
    assert s.view is not None
    for action in decide(s, cfg).actions:
        if isinstance(action, Fence):
            assert action.node not in s.view.members
            assert cfg.stonith
            continue
        assert action.node in s.view.members
        assert not s.node(action.node).leaving
        if isinstance(action, Stop | Restart):
            assert s.node(action.node).state_of(action.group) not in (
                None, GroupState.STOPPED, GroupState.STOPPING)
        if isinstance(action, Restart):
            report = s.node(action.node).trusted_report
            assert report is not None
            assert 0 < report.group(action.group).fail_count < cfg.failure_threshold


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(_cluster())
def test_one_action_per_group_and_node(case: tuple[ClusterState, PolicyConfig]) -> None:
    s, cfg = case
    seen = set()
    for action in decide(s, cfg).actions:
        if isinstance(action, Fence):
            continue
        key = (action.group, action.node)
        assert key not in seen
        seen.add(key)
