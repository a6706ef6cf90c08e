"""Bounded event waits for the lab and its tests.

The lab never sleeps for a fixed time hoping something happened. Every wait is
`wait_for(predicate, timeout)`: poll a cheap observation until it is truthy, and
give up with a `TimeoutError` that names what was last observed, so a failing
test says *what* it saw instead of only *that* it waited.

The loop is bounded twice: by the monotonic deadline and by an iteration count
derived from it (a predicate that returns instantly cannot spin forever, a
predicate that blocks cannot make the loop outlive its deadline by more than
one call).

Inputs: a zero-argument callable. Output: its first truthy value. Talks to
nothing; used by every other lab module and by lab tests.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["stays", "wait_first", "wait_for"]

T = TypeVar("T")

# A floor on the poll interval: below ~1 ms the poll itself (often an exec of
# `ip` or a /proc scan) dominates and we would only burn CPU the cluster needs.
_MIN_INTERVAL = 0.001


def wait_for(
    predicate: Callable[[], T],
    timeout: float,
    interval: float = 0.02,
    message: str = "",
) -> T:
    """Poll `predicate` until it returns a truthy value and return that value.

    Raises `TimeoutError(message + last observed value)` once `timeout`
    seconds (monotonic) have passed. The predicate is always called at least
    once, and once more at (or just after) the deadline, so a condition that
    became true while we slept is not reported as a timeout. Exceptions from
    the predicate propagate: an observation that cannot be made is an error,
    not a "not yet".
    """
    if timeout < 0:
        raise ValueError(f"timeout must be >= 0, got {timeout}")
    interval = max(interval, _MIN_INTERVAL)
    deadline = time.monotonic() + timeout
    # +2: the first call and the final call at the deadline.
    max_polls = math.ceil(timeout / interval) + 2
    last: T = predicate()
    polls = 1
    while not last:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or polls >= max_polls:
            prefix = f"{message}: " if message else ""
            raise TimeoutError(
                f"{prefix}condition not met within {timeout:g}s; last observed {last!r}"
            )
        time.sleep(min(interval, remaining))
        last = predicate()
        polls += 1
    return last


def stays(check: Callable[[], str | None], seconds: float, interval: float = 0.1) -> None:
    """The converse wait: `check` must keep returning None ("all as expected") for
    `seconds`; the first thing it reports instead is raised as an AssertionError.
    Bounded like `wait_for`, by the deadline and a poll count."""
    deadline = time.monotonic() + seconds
    for _ in range(math.ceil(seconds / max(interval, _MIN_INTERVAL)) + 1):
        problem = check()
        if problem is not None:
            raise AssertionError(problem)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        time.sleep(min(interval, remaining))


def wait_first(condition: threading.Condition, find: Callable[[], T | None], timeout: float,
               describe: Callable[[], str]) -> T:
    """Wait on `condition` (notified by a recorder thread) until `find` returns a value.

    For recorders of events (simulators, sniffers): `find` looks the record up
    under the condition's lock; `describe` says, on timeout, what was seen."""
    with condition:
        found = condition.wait_for(lambda: find() is not None, timeout)
        value = find() if found else None
        if value is None:
            raise TimeoutError(describe())
        return value
