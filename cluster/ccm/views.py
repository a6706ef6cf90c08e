"""This node's agreed view: quorum, the never-backwards rule, what to publish and when.

Role: the output half of :class:`cluster.ccm.membership.Membership`.  It
holds the view this node adopted last (instance, members, which coordinator
decided it, in which round), refuses any decision that would take it back,
turns it into the ``ViewChanged`` that ccm publishes, and measures how long
each agreement took: from the first event that made the last view stale to
the view that settles it.  Pure: no clock, no I/O.

Quorum (reference 6.1, Heartbeat's ``majority:twonodes``): a partition is
quorate with a strict majority of the configured nodes; on a tie (an even
total split in half) only when the total is two, so either node of a
two-node cluster carries on alone.  The total is the ha.cf ``node`` lines.

Views are published ``formed=False`` until hbcomm has reported comm up once
(a view adopted before, as a follower, is real but nobody may act on it yet)
and ``formed=True`` from then on; the leader of a view is its lowest member
name, the same on every member.
"""

from __future__ import annotations

from dataclasses import dataclass

from cluster.bus.messages.ccm import CcmGroup, ViewChanged
from cluster.ccm.interface import ViewPublished

__all__ = ["AgreedView", "Views", "has_quorum"]


def has_quorum(members: int, total: int) -> bool:
    """Heartbeat's ``majority:twonodes``: a majority, or one of two nodes."""
    if 2 * members > total:
        return True
    return 2 * members == total and total == 2


@dataclass(frozen=True, slots=True)
class AgreedView:
    instance: int
    members: tuple[str, ...]
    coordinator: str  # whose round decided it (this node on the fast path)
    round: int


class Views:
    def __init__(self, local: str, now: float) -> None:
        self.local = local
        self.current: AgreedView | None = None
        self.formed = False  # hbcomm reported comm up once
        self._published: ViewChanged | None = None
        self._since: float | None = now
        self._cause = "start"

    @property
    def instance(self) -> int:
        return self.current.instance if self.current is not None else 0

    @property
    def members(self) -> tuple[str, ...]:
        return self.current.members if self.current is not None else ()

    def stale(self, now: float, cause: str) -> None:
        """Something made the current view out of date: agreement starts now."""
        if self._since is None:
            self._since, self._cause = now, cause

    def adopt(self, group: CcmGroup, coordinator: str, number: int) -> bool:
        """Take a decided group as our view; False (nothing changes) if that went back."""
        current = self.current
        if current is not None and (group.instance < current.instance or (
                group.instance == current.instance and group.members != current.members)):
            return False
        self.current = AgreedView(group.instance, group.members, coordinator, number)
        return True

    def settled(self) -> None:
        """Nothing is under way any more: the next change starts a new measurement."""
        self._since = None

    def published(self, total: int) -> ViewChanged:
        current = self.current
        if current is None:
            return ViewChanged(0, (self.local,), False, self.local, formed=False)
        members = current.members
        return ViewChanged(current.instance, members, has_quorum(len(members), total),
                           min(members), formed=self.formed)

    def publish(self, now: float, total: int) -> ViewPublished | None:
        """The view to publish when it differs from the last one published."""
        view = self.published(total)
        if view == self._published:
            return None
        self._published = view
        elapsed = None if self._since is None else now - self._since
        coordinator = self.current.coordinator if self.current is not None else self.local
        return ViewPublished(view, coordinator, elapsed, self._cause)
