"""When to try reopening a failed medium again: 1 s, doubling, at most 30 s.

Sans-I/O: the shell reports ``failed(now)`` and ``opened(now)`` and arms one
loop timer at the time ``failed`` returns. A medium counts as healthy again
only after it stayed open for ``settle`` seconds, so a device that opens and
fails at once (a flapping USB adapter) keeps backing off instead of being
retried every second forever.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Backoff", "BackoffPolicy"]


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    first: float = 1.0
    limit: float = 30.0
    settle: float = 30.0  # open this long: the next failure starts from `first` again

    def __post_init__(self) -> None:
        if not 0 < self.first <= self.limit:
            raise ValueError(f"backoff needs 0 < first <= limit, got {self.first}, {self.limit}")
        if self.settle < 0:
            raise ValueError(f"settle must not be negative, got {self.settle}")


class Backoff:
    """The retry schedule of one medium."""

    def __init__(self, policy: BackoffPolicy | None = None) -> None:
        self.policy = policy or BackoffPolicy()
        self.attempts = 0  # failures (and failed reopens) since the medium last settled
        self._opened_at: float | None = None  # while open: since when

    def failed(self, now: float) -> float:
        """The medium failed, or a reopen did: when to try the next reopen."""
        if self._opened_at is not None and now - self._opened_at >= self.policy.settle:
            self.attempts = 0
        self._opened_at = None
        # The exponent is capped: doubling past the limit changes nothing, and
        # a medium that fails for weeks must not overflow a float.
        delay = min(self.policy.first * 2.0 ** min(self.attempts, 64), self.policy.limit)
        self.attempts += 1
        return now + delay

    def opened(self, now: float) -> None:
        """The medium is open (at start or after a reopen); the schedule resets
        once it has settled."""
        self._opened_at = now
