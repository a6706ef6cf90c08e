"""Ordering a daemon's snapshot replies against its published events.

A reply comes on the control socket and an event on the event socket, so a
snapshot taken just before a change can arrive just after the event that
announced it; applying it would undo the change until the next snapshot.
The publisher numbers its events and stamps each snapshot with the last
number it published; a snapshot older than an event already applied is
stale, and the caller asks again (its subscription is live, so the next
snapshot plus the events that follow miss nothing).
"""

from __future__ import annotations


class SnapshotOrder:
    """The newest (generation, seq) of the events applied so far."""

    def __init__(self) -> None:
        self._latest = (0, 0)

    def saw_event(self, generation: int, seq: int) -> None:
        self._latest = max(self._latest, (generation, seq))

    def is_stale(self, generation: int, seq: int) -> bool:
        """True when a snapshot stamped (generation, seq) predates an applied event."""
        return (generation, seq) < self._latest
