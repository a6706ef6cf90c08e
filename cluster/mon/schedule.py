"""When each service's monitor runs, and when a running one has overstayed.

Theory of operation
-------------------
Every service is one small machine with two states::

    IDLE --start--> RUNNING --finish/kill--> IDLE

* Mon's rule: a service's monitor runs every ``interval`` (``failure_interval``
  while it is failing), counted from the *start* of the previous run. A
  monitor still running when the next run falls due is not started twice;
  the next run starts as soon as it finished (its due time has passed).
* Mon starts nothing at once: the first run of a service is one interval
  after start-up, or, with ``randstart``, at a random point within it (the
  caller passes the random draw, so tests stay deterministic).
* A run that is still going ``timeout`` seconds after it started is overdue:
  :meth:`Scheduler.overdue` names it, the shell kills it, reports a failure
  and calls :meth:`Scheduler.finish` like for any other run.

The scheduler only answers questions; the caller owns processes, sockets
and time. Inputs: ``now`` (monotonic seconds). Outputs: service keys due to
start or overdue, and the next moment anything can happen.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from cluster.mon.specs import ServiceSpec

__all__ = ["Phase", "ScheduleError", "Scheduler"]


class ScheduleError(RuntimeError):
    """An impossible edge (start a running service, finish an idle one)."""


class Phase(enum.Enum):
    IDLE = "idle"
    RUNNING = "running"


@dataclass
class _Slot:
    key: str
    interval: float
    failure_interval: float
    timeout: float
    next_run: float
    phase: Phase = Phase.IDLE
    started: float = math.nan
    deadline: float = math.inf


class Scheduler:
    """Due times and deadlines of every service's monitor runs."""

    def __init__(
        self,
        services: Sequence[ServiceSpec],
        now: float,
        first_delay: Callable[[ServiceSpec], float] | None = None,
    ) -> None:
        self._slots: dict[str, _Slot] = {}
        for spec in services:
            delay = spec.interval if first_delay is None else first_delay(spec)
            self._slots[spec.key] = _Slot(
                key=spec.key,
                interval=spec.interval,
                failure_interval=spec.failure_interval or spec.interval,
                timeout=spec.timeout,
                next_run=now + max(0.0, delay),
            )

    def due(self, now: float) -> list[str]:
        """Idle services whose next run is due, earliest first (ties: config order)."""
        ready = [s for s in self._slots.values() if s.phase is Phase.IDLE and s.next_run <= now]
        ready.sort(key=lambda slot: slot.next_run)
        return [slot.key for slot in ready]

    def start(self, key: str, now: float) -> float:
        """A run of `key` started now; returns its deadline."""
        slot = self._slot(key)
        # IDLE -> RUNNING: only an idle service starts; Mon never runs a monitor twice.
        if slot.phase is not Phase.IDLE:
            raise ScheduleError(f"{key}: start while {slot.phase.value}")
        slot.phase = Phase.RUNNING
        slot.started = now
        slot.deadline = now + slot.timeout
        return slot.deadline

    def finish(self, key: str, now: float, *, failed: bool) -> float:
        """The run of `key` ended (by itself or killed); returns the next due time."""
        slot = self._slot(key)
        # RUNNING -> IDLE: the next run counts from this run's start.
        if slot.phase is not Phase.RUNNING:
            raise ScheduleError(f"{key}: finish while {slot.phase.value}")
        slot.phase = Phase.IDLE
        slot.next_run = slot.started + (slot.failure_interval if failed else slot.interval)
        slot.deadline = math.inf
        return slot.next_run

    def overdue(self, now: float) -> list[str]:
        """Running services past their timeout: the caller kills them."""
        return [s.key for s in self._slots.values()
                if s.phase is Phase.RUNNING and s.deadline <= now]  # fmt: skip

    def next_deadline(self, skip: Iterable[str] = ()) -> float:
        """The earliest due time or timeout (math.inf when there is none).
        `skip`: keys whose due time should not wake the caller (e.g. waiting
        for a free process slot; a finishing run wakes it instead)."""
        skipped = set(skip)
        times = [
            slot.deadline if slot.phase is Phase.RUNNING else slot.next_run
            for slot in self._slots.values()
            if slot.phase is Phase.RUNNING or slot.key not in skipped
        ]
        return min(times, default=math.inf)

    def phase(self, key: str) -> Phase:
        return self._slot(key).phase

    def next_run(self, key: str) -> float:
        """When `key` runs next (for a running service: when it would be due again)."""
        slot = self._slot(key)
        if slot.phase is Phase.RUNNING:
            return slot.started + slot.interval
        return slot.next_run

    def run_now(self, key: str, now: float) -> None:
        """Make an idle service due at once (an operator's "test now")."""
        slot = self._slot(key)
        if slot.phase is Phase.IDLE:
            slot.next_run = min(slot.next_run, now)

    def _slot(self, key: str) -> _Slot:
        try:
            return self._slots[key]
        except KeyError:
            raise ScheduleError(f"unknown service {key!r}") from None
