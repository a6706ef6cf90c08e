"""StateTracker: folding views, reports and fencing into the status table."""

from __future__ import annotations

from cluster.crmd.state import (
    GroupState,
    GroupStatus,
    NodeInfo,
    NodeReport,
    StateTracker,
    View,
    standby_covers,
    standby_remove,
    standby_union,
)

STARTED = GroupStatus(GroupState.STARTED, 0, 1)


def _tracker() -> StateTracker:
    return StateTracker("node1", ("node1", "node2", "node3"))


def _view(instance: int, *members: str, quorate: bool = True) -> View:
    return View(instance, frozenset(members), quorate)


def test_first_view_marks_every_member_joined() -> None:
    tracker = _tracker()
    event = tracker.on_view(_view(3, "node1", "node2"))
    assert event is not None
    assert event.joined == ("node1", "node2")
    assert event.departed == ()
    assert tracker.node("node2").member_since == 3
    assert not tracker.node("node3").member


def test_older_or_same_view_is_ignored() -> None:
    tracker = _tracker()
    tracker.on_view(_view(5, "node1", "node2"))
    assert tracker.on_view(_view(5, "node1")) is None
    assert tracker.on_view(_view(4, "node1")) is None
    assert tracker.node("node2").member


def test_departure_keeps_the_last_report() -> None:
    tracker = _tracker()
    tracker.on_view(_view(1, "node1", "node2"))
    tracker.on_report("node2", NodeReport(1, 1, {"g": STARTED}))
    event = tracker.on_view(_view(2, "node1"))
    assert event is not None and event.departed == ("node2",)
    info = tracker.node("node2")
    assert not info.member
    assert info.may_hold("g")
    assert not info.may_hold("other")


def test_never_seen_node_may_hold_anything() -> None:
    tracker = _tracker()
    tracker.on_view(_view(1, "node1"))
    assert tracker.node("node3").may_hold("g")


def test_report_older_than_rejoin_is_not_trusted() -> None:
    tracker = _tracker()
    tracker.on_view(_view(1, "node1", "node2"))
    tracker.on_report("node2", NodeReport(1, 1, {}))
    tracker.on_view(_view(2, "node1"))
    tracker.on_view(_view(3, "node1", "node2"))
    info = tracker.node("node2")
    assert info.member_since == 3
    assert info.trusted_report is None
    assert not info.current(3)
    tracker.on_report("node2", NodeReport(3, 3, {}))
    assert tracker.node("node2").current(3)


def test_departed_before_reporting_in_its_new_membership_may_hold_anything() -> None:
    tracker = _tracker()
    tracker.on_view(_view(1, "node1", "node2"))
    tracker.on_report("node2", NodeReport(1, 1, {}))       # held nothing
    tracker.on_view(_view(2, "node1"))
    tracker.on_view(_view(3, "node1", "node2"))             # back, not reported yet
    tracker.on_view(_view(4, "node1"))                      # gone again
    assert tracker.node("node2").may_hold("g")


def test_clean_leave_holds_nothing() -> None:
    tracker = _tracker()
    tracker.on_view(_view(1, "node1", "node2"))
    tracker.on_report("node2", NodeReport(1, 1, {"g": GroupStatus()}, leaving=True))
    tracker.on_view(_view(2, "node1"))
    assert not tracker.node("node2").may_hold("g")


def test_in_flight_start_counts_for_a_departed_node() -> None:
    info = NodeInfo("node2", report=NodeReport(1, 1, {}), member_since=1)
    assert not info.may_hold("g")
    assert info.may_hold("g", in_flight=True)


def test_fencing_clears_and_rejoin_resets() -> None:
    tracker = _tracker()
    tracker.on_view(_view(1, "node1", "node2"))
    tracker.on_report("node2", NodeReport(1, 1, {"g": STARTED}))
    tracker.on_view(_view(2, "node1"))
    assert tracker.on_fenced("node2")
    assert not tracker.node("node2").may_hold("g")
    tracker.on_view(_view(3, "node1", "node2"))
    assert not tracker.node("node2").fenced
    assert not tracker.on_fenced("node2"), "a member cannot be recorded as fenced"


def test_group_started_by_a_member_is_abandoned_by_departed_nodes() -> None:
    tracker = _tracker()
    tracker.on_view(_view(1, "node1", "node2"))
    tracker.on_report("node2", NodeReport(1, 1, {"g": STARTED}))
    tracker.on_view(_view(2, "node1"))
    tracker.on_report("node1", NodeReport(2, 1, {"g": STARTED}))
    assert not tracker.node("node2").may_hold("g")
    tracker.on_view(_view(3, "node1", "node2"))
    assert tracker.node("node2").abandoned == frozenset()


def test_unseen_node_never_abandons() -> None:
    tracker = _tracker()
    tracker.on_view(_view(1, "node1"))
    tracker.on_report("node1", NodeReport(1, 1, {"g": STARTED}))
    assert tracker.node("node3").may_hold("g")


def test_reports_from_non_members_are_kept() -> None:
    tracker = _tracker()
    tracker.on_view(_view(1, "node1", "node2"))
    tracker.on_report("node2", NodeReport(1, 1, {"g": STARTED}))
    tracker.on_view(_view(2, "node1"))
    tracker.on_report("node2", NodeReport(1, 1, {"g": GroupStatus()}, leaving=True))
    assert not tracker.node("node2").may_hold("g")


def test_snapshot_is_frozen_and_carries_in_flight() -> None:
    tracker = _tracker()
    tracker.on_view(_view(1, "node1"))
    state = tracker.snapshot(12.5, frozenset({("g", "node1")}))
    tracker.on_view(_view(2, "node1", "node2"))
    assert state.view == _view(1, "node1")
    assert state.members == ("node1",)
    assert state.in_flight == {("g", "node1")}
    assert state.now == 12.5


def test_leaving_and_standby_come_from_the_trusted_report() -> None:
    tracker = _tracker()
    tracker.on_view(_view(1, "node1", "node2"))
    tracker.on_report("node2", NodeReport(1, 1, {}, leaving=True, standby="all"))
    assert tracker.node("node2").leaving
    assert tracker.node("node2").standby == "all"
    tracker.on_view(_view(2, "node1"))
    tracker.on_view(_view(3, "node1", "node2"))
    assert not tracker.node("node2").leaving, "a stale report says nothing about now"


def test_standby_classes() -> None:
    assert standby_union("", "local") == "local"
    assert standby_union("local", "foreign") == "all"
    assert standby_union("local", "failback") == "all"
    assert standby_union("foreign", "failback") == "foreign"
    assert standby_remove("all", "local") == "foreign"
    assert standby_remove("all", "all") == ""
    assert standby_remove("local", "foreign") == "local"
    assert standby_covers("local", "node1", "node1")
    assert not standby_covers("local", "node1", "node2")
    assert standby_covers("foreign", "node1", "node2")
    assert standby_covers("failback", "node1", "node2")
    assert standby_covers("all", "node1", "node2")
    assert not standby_covers("", "node1", "node1")
