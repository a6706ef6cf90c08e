"""Coordinator: the DC's orders are sent once, re-sent when they do not land."""

from __future__ import annotations

from cluster.crmd.coordinator import Coordinator
from cluster.crmd.policy import Fence, Plan, Start, Stop
from cluster.crmd.state import ClusterState, GroupState, GroupStatus, NodeInfo, NodeReport, View

G = "IPaddr::10.0.0.1"


def _state(now: float, groups: dict[str, GroupStatus] | None = None) -> ClusterState:
    view = View(3, frozenset({"node1", "node2"}))
    nodes = {n: NodeInfo(n, member=True, member_since=1, report=NodeReport(3, 1, groups or {}))
             for n in ("node1", "node2")}
    return ClusterState("node1", now, view, nodes)


def _plan(*actions: Start | Stop | Fence) -> Plan:
    return Plan("node1", 3, tuple(actions))


def test_an_order_is_sent_once_then_resent_after_the_delay() -> None:
    c = Coordinator(resend_after=2.0)
    plan = _plan(Start(G, "node2", "preferred"))
    first = c.dispatch(plan, _state(10.0))
    assert [(o.node, o.group, o.action, o.instance) for o in first.orders] == [
        ("node2", G, "start", 3)]
    assert c.in_flight() == {(G, "node2")}
    assert c.dispatch(plan, _state(11.0)).orders == ()
    again = c.dispatch(plan, _state(12.0)).orders
    assert len(again) == 1 and again[0].serial > first.orders[0].serial


def test_a_changed_report_lands_the_order() -> None:
    c = Coordinator()
    c.dispatch(_plan(Start(G, "node2", "x")), _state(0.0))
    c.on_report("node2", NodeReport(3, 1, {}), 0.5)
    assert c.in_flight() == {(G, "node2")}, "an unchanged report does not land it"
    c.on_report("node2", NodeReport(3, 1, {G: GroupStatus(GroupState.STARTING)}), 0.6)
    assert c.in_flight() == frozenset()


def test_a_report_from_a_newer_instance_lands_the_order() -> None:
    c = Coordinator()
    c.dispatch(_plan(Start(G, "node2", "x")), _state(0.0))
    c.on_report("node2", NodeReport(4, 1, {}), 0.1)
    assert c.in_flight() == frozenset()


def test_an_order_no_longer_wanted_expires_after_an_unchanged_report() -> None:
    c = Coordinator(resend_after=2.0)
    c.dispatch(_plan(Start(G, "node2", "x")), _state(0.0))
    c.dispatch(_plan(), _state(1.0))
    c.on_report("node2", NodeReport(3, 1, {}), 1.5)
    assert c.in_flight() == {(G, "node2")}
    c.on_report("node2", NodeReport(3, 1, {}), 2.5)
    assert c.in_flight() == frozenset()


def test_a_different_action_for_the_same_group_is_sent_at_once() -> None:
    c = Coordinator()
    c.dispatch(_plan(Start(G, "node2", "x")), _state(0.0))
    orders = c.dispatch(_plan(Stop(G, "node2", "y")), _state(0.1)).orders
    assert [o.action for o in orders] == ["stop"]
    assert c.in_flight() == frozenset(), "stops are never in flight"


def test_fences_are_repeated_at_the_resend_interval() -> None:
    c = Coordinator(resend_after=2.0)
    plan = _plan(Fence("node3", "gone"))
    assert len(c.dispatch(plan, _state(0.0)).fences) == 1
    assert c.dispatch(plan, _state(1.0)).fences == ()
    assert len(c.dispatch(plan, _state(2.0)).fences) == 1
    c.on_fenced("node3")
    assert len(c.dispatch(plan, _state(2.1)).fences) == 1


def test_takeover_episode_opens_once_and_completes_when_started() -> None:
    c = Coordinator()
    plan = _plan(Start(G, "node2", "x", ("node3",)), Start("g2", "node1", "y", ("node3",)))
    assert c.dispatch(plan, _state(0.0)).acquiring == ("node3",)
    assert c.dispatch(plan, _state(5.0)).acquiring == ()
    started = GroupStatus(GroupState.STARTED)
    assert c.on_report("node2", NodeReport(3, 1, {G: started}), 1.0) == []
    assert c.on_report("node1", NodeReport(3, 1, {"g2": started}), 1.0) == ["node3"]


def test_reset_forgets_everything() -> None:
    c = Coordinator()
    c.dispatch(_plan(Start(G, "node2", "x", ("node3",))), _state(0.0))
    c.reset()
    assert c.in_flight() == frozenset()
    assert c.dispatch(_plan(Start(G, "node2", "x", ("node3",))), _state(0.1)).acquiring == (
        "node3",)
