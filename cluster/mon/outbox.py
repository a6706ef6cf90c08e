"""Alert deliveries that must not be lost: a retry queue with backoff.

Theory of operation
-------------------
Every alert call the decision logic returns is submitted here and becomes a
:class:`Delivery`::

    WAITING --take--> SENDING --delivered--> (gone)
                         |
                         +--failed--> WAITING (retry after a growing delay)
                         +--failed, attempts used up--> (gone, GaveUp returned)

A failed attempt (the alert program exited non-zero, was killed at its
timeout, or could not be started) is retried after ``first_retry`` seconds,
doubling up to ``max_retry``; after ``max_attempts`` the caller gets
:class:`GaveUp` and must log it as an error and record it in the service
history: an alert is never dropped silently. The queue is bounded: when it
is full the oldest waiting delivery is given up (and reported) first, so a
mail server that is down for a week cannot eat the daemon's memory.

Pure: ``now`` is monotonic seconds; the caller runs the programs.
"""

from __future__ import annotations

import enum
import itertools
import math
from dataclasses import dataclass

from cluster.mon.alerts import AlertCall

__all__ = ["Delivery", "GaveUp", "Outbox", "OutboxError", "Retry"]

# An SMTP server restarting takes seconds; one being repaired, many minutes.
# 5 s doubling to 5 min over 10 attempts spans about half an hour.
FIRST_RETRY = 5.0
MAX_RETRY = 300.0
MAX_ATTEMPTS = 10
MAX_QUEUED = 1000


class OutboxError(RuntimeError):
    """An impossible edge, e.g. reporting a delivery that is not being sent."""


class _State(enum.Enum):
    WAITING = "waiting"
    SENDING = "sending"


@dataclass
class Delivery:
    id: int
    call: AlertCall
    submitted: float
    next_try: float
    attempts: int = 0
    last_error: str = ""
    state: _State = _State.WAITING


@dataclass(frozen=True, slots=True)
class Retry:
    delivery: Delivery
    at: float


@dataclass(frozen=True, slots=True)
class GaveUp:
    delivery: Delivery
    reason: str


class Outbox:
    """Pending alert deliveries, in submission order."""

    def __init__(
        self,
        *,
        first_retry: float = FIRST_RETRY,
        max_retry: float = MAX_RETRY,
        max_attempts: int = MAX_ATTEMPTS,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        self._first_retry = first_retry
        self._max_retry = max_retry
        self._max_attempts = max_attempts
        self._max_queued = max_queued
        self._ids = itertools.count(1)
        self._items: dict[int, Delivery] = {}

    def submit(self, call: AlertCall, now: float) -> list[GaveUp]:
        """Queue `call` for delivery now; returns deliveries dropped to make room."""
        dropped: list[GaveUp] = []
        while len(self._items) >= self._max_queued:
            oldest = next((d for d in self._items.values() if d.state is _State.WAITING), None)
            if oldest is None:
                break
            del self._items[oldest.id]
            dropped.append(GaveUp(oldest, f"queue full ({self._max_queued} alerts pending)"))
        delivery = Delivery(id=next(self._ids), call=call, submitted=now, next_try=now)
        self._items[delivery.id] = delivery
        return dropped

    def take(self, now: float, limit: int | None = None) -> list[Delivery]:
        """Deliveries due for an attempt now (at most `limit`); they are SENDING."""
        due = [d for d in self._items.values()
               if d.state is _State.WAITING and d.next_try <= now]  # fmt: skip
        if limit is not None:
            due = due[: max(0, limit)]
        for delivery in due:
            # WAITING -> SENDING
            delivery.state = _State.SENDING
            delivery.attempts += 1
        return due

    def delivered(self, delivery_id: int) -> Delivery:
        delivery = self._sending(delivery_id)
        # SENDING -> gone
        del self._items[delivery_id]
        return delivery

    def failed(self, delivery_id: int, now: float, error: str) -> Retry | GaveUp:
        delivery = self._sending(delivery_id)
        delivery.last_error = error
        if delivery.attempts >= self._max_attempts:
            # SENDING -> gone, loudly
            del self._items[delivery_id]
            return GaveUp(delivery, f"{delivery.attempts} attempts failed; last: {error}")
        # SENDING -> WAITING
        delay = min(self._first_retry * 2 ** (delivery.attempts - 1), self._max_retry)
        delivery.state = _State.WAITING
        delivery.next_try = now + delay
        return Retry(delivery, delivery.next_try)

    def next_deadline(self) -> float:
        return min((d.next_try for d in self._items.values() if d.state is _State.WAITING),
                   default=math.inf)  # fmt: skip

    def pending(self, service: str | None = None) -> list[Delivery]:
        return [d for d in self._items.values() if service is None or d.call.service == service]

    def __len__(self) -> int:
        return len(self._items)

    def _sending(self, delivery_id: int) -> Delivery:
        delivery = self._items.get(delivery_id)
        if delivery is None or delivery.state is not _State.SENDING:
            raise OutboxError(f"delivery {delivery_id} is not being sent")
        return delivery
