"""Alert deliveries: retried with backoff, never dropped without saying so."""

from __future__ import annotations

import math

import pytest

from cluster.mon.outbox import GaveUp, Outbox, OutboxError, Retry

from .monkit import alert_calls as calls


def test_delivered_at_once() -> None:
    box = Outbox()
    (call,) = calls(1)
    assert box.submit(call, 10.0) == []
    (delivery,) = box.take(10.0)
    assert delivery.attempts == 1 and box.take(10.0) == []  # sending: not taken twice
    assert box.delivered(delivery.id) is delivery
    assert len(box) == 0 and box.next_deadline() == math.inf


def test_failures_back_off_doubling_then_give_up() -> None:
    box = Outbox(first_retry=5.0, max_retry=20.0, max_attempts=4)
    box.submit(calls(1)[0], 0.0)
    now, waits = 0.0, []
    while True:
        (delivery,) = box.take(now)
        result = box.failed(delivery.id, now, "connection refused")
        if isinstance(result, GaveUp):
            break
        assert isinstance(result, Retry)
        waits.append(result.at - now)
        assert box.take(result.at - 0.001) == []
        now = result.at
    assert waits == [5.0, 10.0, 20.0]
    assert result.delivery.attempts == 4
    assert "4 attempts failed; last: connection refused" in result.reason
    assert len(box) == 0


def test_a_full_queue_gives_up_the_oldest_waiting_delivery_loudly() -> None:
    box = Outbox(max_queued=2)
    first, second, third = calls(3)
    box.submit(first, 0.0)
    box.submit(second, 0.0)
    dropped = box.submit(third, 0.0)
    assert [d.delivery.call.summary for d in dropped] == ["down 0"]
    assert "queue full" in dropped[0].reason
    assert [d.call.summary for d in box.pending()] == ["down 1", "down 2"]
    assert len(box.pending("h/s")) == 2 and box.pending("x/y") == []


def test_take_respects_a_process_limit_and_reporting_unknown_ids_raises() -> None:
    box = Outbox()
    for call in calls(3):
        box.submit(call, 0.0)
    assert len(box.take(0.0, limit=2)) == 2
    assert len(box.take(0.0, limit=0)) == 0
    with pytest.raises(OutboxError):
        box.delivered(999)
