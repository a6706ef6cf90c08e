"""HeartbeatTrace: a death the next heartbeat proves false, and which end was late."""

from __future__ import annotations

import pytest

from cluster.hbcomm.falsedeath import Beat, HeartbeatTrace, classify

THRESHOLD = 0.030


def traced(offset: float = 500.0) -> HeartbeatTrace:
    """bob heard every 10 ms from 100.00 to 100.05 (its clock runs `offset` ahead of ours)."""
    trace = HeartbeatTrace()
    for step in range(6):
        now = 100.0 + step * 0.010
        assert trace.heard("bob", now + offset - 0.0002, now) is None
    return trace


def test_sender_stall_is_a_gap_in_the_senders_own_sends() -> None:
    trace = traced()
    trace.woke(100.08, 100.0801)
    trace.died("bob", 100.08, silent_for=0.030, threshold=THRESHOLD)
    false = trace.heard("bob", 500.0 + 100.09, 100.0902)  # sent 40 ms after the last one
    assert false is not None
    assert false.cause == "sender"
    assert false.send_gap == pytest.approx(0.0402)
    assert false.deadline == pytest.approx(100.08)
    assert "cause sender" in false.describe() and "send gap 40.2" in false.describe()


def test_receiver_stall_when_our_timer_ran_late() -> None:
    trace = traced()
    trace.woke(100.06, 100.075)  # our timer ran 15 ms late in the silence
    trace.died("bob", 100.085, silent_for=0.035, threshold=THRESHOLD)
    false = trace.heard("bob", 500.0 + 100.06, 100.0851)  # sent in time, read late
    assert false is not None and false.cause == "receiver"
    assert false.our_late == pytest.approx(0.015)


def test_delivery_when_sent_in_time_and_we_were_awake() -> None:
    trace = traced()
    trace.woke(100.08, 100.0801)
    trace.died("bob", 100.08, silent_for=0.030, threshold=THRESHOLD)
    false = trace.heard("bob", 500.0 + 100.06, 100.081)
    assert false is not None and false.cause == "delivery"


def test_a_death_is_reported_once_and_a_late_return_is_a_real_death() -> None:
    trace = traced()
    trace.died("bob", 100.08, silent_for=0.030, threshold=THRESHOLD)
    assert trace.heard("bob", 600.09, 100.09) is not None
    assert trace.heard("bob", 600.10, 100.10) is None
    trace.died("bob", 100.13, silent_for=0.030, threshold=THRESHOLD)
    assert trace.heard("bob", 700.0, 200.0) is None  # back after 100 s: it was gone


def test_a_node_never_heard_before_its_death_counts_as_a_sender_stall() -> None:
    assert classify(THRESHOLD, (), Beat(1.0, 2.0), our_late=0.0) == "sender"
    trace = HeartbeatTrace()
    trace.died("carol", 10.0, silent_for=0.03, threshold=THRESHOLD)
    false = trace.heard("carol", 5.0, 10.01)
    assert false is not None and false.cause == "sender"
    assert "false death of carol" in false.describe()


def test_a_late_wakeup_that_read_the_last_heartbeat_is_not_part_of_the_silence() -> None:
    trace = HeartbeatTrace()
    trace.woke(99.94, 100.0)                # 60 ms late, then bob's backlog read at 100.0
    for sent in (499.98, 499.99, 500.0):
        trace.heard("bob", sent, 100.0)
    trace.died("bob", 100.03, silent_for=0.030, threshold=THRESHOLD)
    false = trace.heard("bob", 500.005, 100.047)  # sent 5 ms later, held 47 ms on the way
    assert false is not None and false.cause == "delivery" and false.our_late == 0.0
