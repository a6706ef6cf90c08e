"""SnapshotOrder: a snapshot older than an applied event is stale."""

from __future__ import annotations

from cluster.common.snapshots import SnapshotOrder


def test_nothing_seen_accepts_any_snapshot() -> None:
    assert not SnapshotOrder().is_stale(0, 0)


def test_snapshot_before_the_latest_event_is_stale() -> None:
    order = SnapshotOrder()
    order.saw_event(7, 3)
    order.saw_event(7, 2)  # out of order: the newest still counts
    assert order.is_stale(7, 2)
    assert not order.is_stale(7, 3)
    assert not order.is_stale(7, 4)


def test_a_newer_generation_outranks_any_seq_of_the_old_one() -> None:
    order = SnapshotOrder()
    order.saw_event(7, 900)
    assert not order.is_stale(8, 0)
    assert order.is_stale(6, 1000)
    order.saw_event(8, 1)
    assert order.is_stale(8, 0)
