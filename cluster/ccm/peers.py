"""What one ccm knows about its peers: who is reachable, mute, refused, and whom they follow.

Role: the bookkeeping behind leader choice in
:class:`cluster.ccm.membership.Membership`.  Pure: no clock, no I/O; the core
calls :meth:`Peers.set_reach` with hbcomm's view, :meth:`Peers.heard` with
every peer message, and asks :meth:`Peers.leader` and :meth:`Peers.invitees`.

Rules (reference 6.1: the membership is the nodes that can all hear each
other, *and* whose ccm takes part):

* *reach*: the peers hbcomm reports "up" or "active".
* *silent*: asked to join a round and never answered, so its ccm is not
  running.  It is not waited for again until it speaks (any message) or
  comes back from the dead in hbcomm.
* *excluded*: a leader we waited for in vain (a one-way cut: it cannot hear
  us), plus, after such a wait, every peer that follows a node we cannot
  reach or have excluded: none of them will take us.  We do not follow
  excluded peers.  Exclusions end when reach changes (a new topology) or when
  the excluded node invites us.
* *leader*: the lowest name among us and the reachable peers that are
  neither silent nor excluded; *invitees* of a round we coordinate add the
  excluded peers that say they hear us: we do not follow them, but they may
  follow us.
"""

from __future__ import annotations

from collections.abc import Iterable

from cluster.bus.messages.ccm import CcmJoin, CcmJoinResult, CcmStateAnnounced, CcmViewDecided

__all__ = ["Peers"]


class Peers:
    def __init__(self, local: str) -> None:
        self.local = local
        self.reach: frozenset[str] = frozenset()
        self.silent: set[str] = set()
        self.excluded: set[str] = set()
        self._leaders: dict[str, str] = {}  # whom each peer last said it follows
        self._heard_by: set[str] = set()    # peers whose last word said they hear us

    def set_reach(self, reach: frozenset[str]) -> bool:
        """hbcomm's reachable peers; True when they changed."""
        if reach == self.reach:
            return False
        self.silent -= reach - self.reach  # back from the dead: its ccm gets a new chance
        self.reach = reach
        self.excluded.clear()
        return True

    def heard(self, src: str,
              msg: CcmStateAnnounced | CcmJoin | CcmJoinResult | CcmViewDecided) -> None:
        """`src`'s ccm spoke: it is there, and it says whom it follows and hears."""
        self.silent.discard(src)
        if isinstance(msg, CcmViewDecided):
            return
        self._leaders[src] = src if isinstance(msg, CcmJoin) else msg.leader
        if isinstance(msg, CcmJoin) or self.local in msg.reach:
            self._heard_by.add(src)
        else:
            self._heard_by.discard(src)

    def follows(self, peer: str) -> str:
        return self._leaders.get(peer, peer)

    def candidates(self) -> frozenset[str]:
        return (self.reach - self.silent - self.excluded) | {self.local}

    def leader(self) -> str:
        return min(self.candidates())

    def invitees(self) -> frozenset[str]:
        return self.candidates() | (self.excluded & self._heard_by) - self.silent

    def mute(self, nodes: Iterable[str]) -> None:
        self.silent.update(nodes)

    def give_up(self, leader: str) -> None:
        """We waited for `leader` in vain: stop following it and whoever follows what we can't."""
        self.excluded.add(leader)
        known = self.reach | {self.local}
        while True:
            lost = {p for p in self.reach - self.excluded
                    if self.follows(p) not in known - self.excluded}
            if not lost:
                return
            self.excluded |= lost
