"""The coordinator's side of membership rounds: who was asked, who answered, what won.

Role: bookkeeping for :class:`cluster.ccm.membership.Membership` while this
node coordinates.  :meth:`Rounds.open` numbers a round and builds its
``CcmJoin``; :meth:`Rounds.record` files each ``CcmJoinResult``;
:meth:`Rounds.decide` turns the answers into groups and instances
(``CcmViewDecided``); :meth:`Rounds.shrink` decides the last decision's
group minus its dead without a round (:meth:`Rounds.shrinkable` says when);
:meth:`Rounds.reported` judges whether a peer's announcement disagrees with
the round under way or the last decision, which is what makes the
coordinator open a new round.  Pure: no clock, no I/O.

Instances (reference 6.1): a decision takes the highest instance any
participant has seen, the coordinator included, and gives each new group the
next number, so instances only grow and two groups of one decision never
share one.  A group whose members all report the same current view with
exactly these members keeps that instance: a round that changes nothing
(a reach change that does not alter the cliques) produces no new view.  So
does a group the last decision gave an instance to, with exactly these
members, when no member reports a newer one (or none, after a restart): a
member that missed that decision catches up instead of forcing a new instance
on everyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cluster.bus.messages.ccm import (
    CcmGroup,
    CcmJoin,
    CcmJoinResult,
    CcmStateAnnounced,
    CcmViewDecided,
)
from cluster.ccm.connectivity import adjacency, partition

__all__ = ["Decision", "Round", "Rounds"]

@dataclass(slots=True)
class Round:
    join: CcmJoin
    proposal: frozenset[str]  # the peers asked, without the coordinator
    answers: dict[str, CcmJoinResult] = field(default_factory=dict)

    @property
    def number(self) -> int:
        return self.join.round

    @property
    def missing(self) -> frozenset[str]:
        return self.proposal - set(self.answers)


@dataclass(frozen=True, slots=True)
class Decision:
    number: int
    own: CcmGroup                    # the coordinator's group
    message: CcmViewDecided | None   # None when no peer took part: nothing to send
    silent: frozenset[str]           # asked but never answered
    max_instance: int


class Rounds:
    """One coordinator's rounds: at most one open, plus the last decision."""

    def __init__(self, local: str, first_round: int = 1) -> None:
        self.local = local
        self.current: Round | None = None
        self._number = first_round - 1
        # node -> (instance, reach) as of our last decision: what we expect it to report.
        self._assigned: dict[str, tuple[int, frozenset[str]]] = {}
        self._groups: dict[tuple[str, ...], int] = {}  # our last decision

    def open(self, candidates: frozenset[str], max_instance: int) -> CcmJoin:
        join = CcmJoin(self.next_number(), tuple(sorted(candidates)), max_instance)
        self.current = Round(join, candidates - {self.local})
        return join

    def next_number(self) -> int:
        self._number += 1
        return self._number

    def abandon(self) -> None:
        self.current = None

    def forget(self) -> None:
        """We no longer coordinate anybody (alone, or following someone)."""
        self._assigned = {}
        self._groups = {}

    def record(self, src: str, answer: CcmJoinResult) -> bool:
        """File an answer to the open round; False when it is for no open question."""
        rnd = self.current
        if rnd is None or answer.round != rnd.number or src not in rnd.proposal \
                or src in rnd.answers:
            return False
        rnd.answers[src] = answer
        return True

    def reported(self, src: str, msg: CcmStateAnnounced, members: tuple[str, ...],
                 reach: frozenset[str]) -> bool:
        """Does `src`'s announcement call for a new round?  `members`: our view; `reach`:
        the peers we hear.  Of a peer's reach only the nodes we hear matter: no
        round of ours can include the others (nor should one follow their death)."""
        known = reach | {self.local}
        rnd = self.current
        if rnd is not None:
            answer = rnd.answers.get(src)
            if answer is None:  # its answer, when it comes, carries the news
                return src not in rnd.proposal and self._wants(src, msg, members, known)
            if answer.accepted:
                return (msg.leader != self.local or msg.waiting
                        or known.intersection(msg.reach) != known.intersection(answer.reach))
            return msg.leader == self.local
        left = src in members and msg.leader != self.local
        return left or self._wants(src, msg, members, known)

    def _wants(self, src: str, msg: CcmStateAnnounced, members: tuple[str, ...],
               known: frozenset[str]) -> bool:
        if msg.leader == self.local:
            assigned = self._assigned.get(src)
            return msg.waiting or assigned is None or assigned[0] != msg.instance or (
                known & assigned[1] != known.intersection(msg.reach))
        # Mutually reachable, outside our view, and it would follow us if invited
        # (it excluded us after a timeout, or a lost message kept it out).
        return self.local in msg.reach and self.local < msg.leader and src not in members

    def _kept(self, members: tuple[str, ...],
              views: set[tuple[int, tuple[str, ...]]]) -> int | None:
        """The instance these members already share, if any: no new view then."""
        if len(views) == 1:
            instance, old = next(iter(views))
            if old == members and instance > 0:
                return instance
        # We gave exactly them an instance last time and some missed the decision:
        # they catch up to it, as long as nobody has moved past it since, and none
        # lost its state (a restarted ccm means a new instance: its node may have
        # restarted more than ccm).
        last = self._groups.get(members)
        if last is not None and all(0 < instance <= last for instance, _ in views):
            return last
        return None

    def shrinkable(self, survivors: frozenset[str], instance: int) -> bool:
        """May our group of `instance` lose members without a round?  Yes when each of
        `survivors` took part in our last decision of it and reported them all: a death
        then asks nothing new of anyone (each checks its own reach when it adopts)."""
        if self.current is not None or len(survivors) < 2:
            return False
        group = {n for n, (inst, _) in self._assigned.items() if inst == instance}
        return survivors < group and all(survivors <= self._assigned[n][1] for n in survivors)

    def shrink(self, survivors: frozenset[str], max_instance: int) -> Decision:
        """Decide our group minus the dead (see :meth:`shrinkable`) as a new instance."""
        group = CcmGroup(max_instance + 1, tuple(sorted(survivors)))
        self._assigned = {n: (group.instance, self._assigned[n][1]) for n in group.members}
        self._groups = {group.members: group.instance}
        number = self.next_number()
        return Decision(number, group, CcmViewDecided(number, (group,), group.instance),
                        frozenset(), group.instance)

    def decide(self, reach: frozenset[str], own_instance: int, own_members: tuple[str, ...],
               max_instance: int) -> Decision:
        """Close the open round: cliques of the accepting nodes, one group each."""
        rnd = self.current
        if rnd is None:
            raise RuntimeError("no open round to decide")
        self.current = None
        accepted = {n: a for n, a in rnd.answers.items() if a.accepted}
        reports = {n: frozenset(a.reach) for n, a in accepted.items()}
        reports[self.local] = reach | {self.local}
        views = {n: (a.instance, a.members) for n, a in accepted.items()}
        views[self.local] = (own_instance, own_members)  # (0, ()) before our first view
        top = max([max_instance, *(a.max_instance for a in accepted.values())])
        groups: list[CcmGroup] = []
        for members in partition(reports, adjacency(reports)):
            kept = self._kept(members, {views[n] for n in members})
            if kept is None:
                top += 1
            groups.append(CcmGroup(top if kept is None else kept, members))
        self._assigned = {n: (g.instance, reports[n]) for g in groups for n in g.members}
        self._groups = {g.members: g.instance for g in groups}
        message = CcmViewDecided(rnd.number, tuple(groups), top) if accepted else None
        own = next(g for g in groups if self.local in g.members)
        return Decision(rnd.number, own, message, rnd.missing, top)
