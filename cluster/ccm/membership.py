"""Consensus membership: node reachability in, agreed views out (reference 6.1).

Role: the sans-I/O core of ccm.  Inputs: hbcomm's node statuses
(:meth:`Membership.hbcomm_snapshot`, :meth:`Membership.node_status`), peer
ccms' decoded messages (:meth:`Membership.received`; types in
:mod:`cluster.bus.messages.ccm`) and time (:meth:`Membership.tick` at
:meth:`Membership.next_deadline`), each with ``now``.  Outputs: effects
(:mod:`cluster.ccm.interface`): messages to send, views to publish, messages
dropped.  The shell (:mod:`cluster.ccm.service`) does the I/O, the logging
and the persistence of :attr:`Membership.max_instance`.

Theory of operation.  Each node follows a *leader*: the lowest name among
itself and the peers hbcomm calls up/active that it has not found *silent*
(their ccm does not answer) nor *excluded* (they would not take it); the
rules are in :mod:`cluster.ccm.peers`.  A node that is its own leader is a
*coordinator*; only coordinators decide views, and only after hbcomm's
comm-up.  Phases (one table, ``_EDGES``): IDLE, LEADING (a round is
open), WAITING (asked our leader for a round), FOLLOWING (answered a round).

* Fast path: a coordinator whose only candidate is itself forms the view
  {self} at once, without a message (a two-node failover adds no delay).
* Round: the coordinator broadcasts ``CcmJoin(round, proposal)``; each
  proposed node answers ``CcmJoinResult``: accepted (with its reach, view and
  max instance) only if the coordinator is its own leader, else refused.
  When all have answered (or after ``join_timeout``: the mute ones are marked
  silent) the coordinator partitions the accepting nodes into cliques of
  mutual reach (:mod:`cluster.ccm.connectivity`) and broadcasts
  ``CcmViewDecided``: each group gets ``max instance of all participants +
  1`` (+2, ...), or keeps the one it already shares (:mod:`cluster.ccm.rounds`).
  A node adopts a group only from the round it accepted, never going back:
  instances only grow and are equal on every member.
* Shrink: when members of a coordinator's last decision die and nothing
  else changed, it decides the rest at once (``CcmViewDecided`` without a
  round, :meth:`Rounds.shrink`): a follower takes it only from its leader,
  the coordinator of its view, when it drops members only, it hears every
  one left and the instance is new to it; otherwise it asks for a round.  A
  death at N nodes costs N receptions, not the N^2 of everyone asking.
* Requests: a node announces its state (``CcmStateAnnounced``: reach,
  leader, view, max instance, ``waiting``) on every change and every
  ``announce_interval``; a follower only to its leader (unless it follows
  another than the lowest node it hears).  A follower whose view's members
  or leader changed, or that was dropped, announces ``waiting`` until its
  leader's Join comes; what hbcomm told it, it holds for ``quiet_time``
  first, since its leader's hbcomm most likely saw the same and acts on it.
  A coordinator opens a round when its candidates change or an announcement
  disagrees with its last decision (a follower's reach among the nodes the
  coordinator hears, or view; a member that left; a mutually reachable node
  that would rather follow it); a member's report of a loss it has not seen
  itself waits ``quiet_time`` for its own hbcomm.  Changes during a round
  restart it, at most once per ``round_gap`` (no storms).
* Convergence without flapping: a follower that waits ``wait_timeout`` in
  vain excludes its leader (a one-way cut) and follows the next; one with no
  decision within ``decision_timeout`` asks again; a FOLLOWING node sends
  nothing but its answer (a view about to change would read as
  disagreement).  Periodic announcements repair what a lost message broke.
* Restart: a ccm starts from the persisted max instance and asks peers for
  theirs; every message carries ``max_instance``, a decision takes the max.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from cluster.bus.messages.ccm import (
    CcmGroup,
    CcmJoin,
    CcmJoinResult,
    CcmStateAnnounced,
    CcmViewDecided,
    ViewChanged,
)
from cluster.ccm.interface import (
    CcmMessage,
    Effect,
    MembershipConfig,
    MessageDropped,
    Send,
    problem,
)
from cluster.ccm.peers import Peers
from cluster.ccm.rounds import Decision, Rounds
from cluster.ccm.views import Views, has_quorum

__all__ = ["Membership", "Phase", "has_quorum"]

_REACHABLE = frozenset({"up", "active"})


class Phase(enum.Enum):
    IDLE = "idle"
    LEADING = "leading"
    WAITING = "waiting"
    FOLLOWING = "following"


_I, _L, _W, _F = Phase.IDLE, Phase.LEADING, Phase.WAITING, Phase.FOLLOWING
_EDGES = frozenset({
    (_I, _L), (_L, _L),            # IDLE|LEADING -> LEADING: we coordinate (again: news came)
    (_L, _I), (_F, _I), (_W, _I),  # X -> IDLE: decided or adopted; or we lead now
    (_I, _W), (_L, _W), (_F, _W), (_W, _W),  # X -> WAITING: ask our (new) leader for a round
    (_I, _F), (_L, _F), (_W, _F), (_F, _F),  # X -> FOLLOWING: our leader's Join came
})


class Membership:
    """One node's membership state machine; see the module docstring."""

    def __init__(self, config: MembershipConfig, now: float, max_instance: int = 0,
                 first_round: int = 1) -> None:
        self.config = config
        self.max_instance = max_instance
        self.phase = Phase.IDLE
        self._rounds = Rounds(config.local, first_round)
        self._peers = Peers(config.local)
        self._comm_up = False
        self._views = Views(config.local, now)
        self._stale = True                # a round is needed (or: ask our leader for one)
        self._following: tuple[str, int] | None = None
        self._waiting_on: str | None = None
        self._deadline: float | None = None
        self._resend_at: float | None = None
        self._announce_at = now + config.announce_interval
        self._quiet_until = now           # a follower holds hbcomm's news until then
        self._held = False                # an announcement waits for _quiet_until
        self._answered: tuple[str, ...] = ()  # the reach our last accepted answer told
        self._proposal: tuple[str, ...] = ()  # the nodes of the round we follow
        self._refused: str | None = None  # the last coordinator whose Join we refused
        self._hello = True                # our first announcement asks peers for theirs
        self._announced: tuple[object, ...] = ()  # what our last announcement said
        self._next_round_at = now

    # -- queries -----------------------------------------------------------
    @property
    def view(self) -> ViewChanged:
        """The current view as published (a placeholder with formed=False at first)."""
        return self._views.published(self.config.total)

    def leader(self) -> str:
        """The node we follow: the lowest of us and the peers we may follow."""
        return self._peers.leader()

    def next_deadline(self) -> float:
        times = [self._announce_at, self._deadline, self._resend_at]
        if self._held:
            times.append(self._quiet_until)  # then say what the leader did not ask for
        if self._stale and self._comm_up and self.leader() == self.config.local:
            times.append(self._next_round_at)
        return min(t for t in times if t is not None)

    # -- inputs ------------------------------------------------------------
    def hbcomm_snapshot(self, statuses: Mapping[str, str], comm_up: bool,
                        now: float) -> list[Effect]:
        """A GetNodes result (at start, and whenever the shell reconciles)."""
        reach = frozenset(n for n, s in statuses.items()
                          if s in _REACHABLE and n != self.config.local)
        if self._peers.set_reach(reach):  # not quiet: no peer's hbcomm saw this with us
            self._mark_stale(now, "hbcomm snapshot")
        self._set_comm_up(comm_up, now)
        return self._finish(now, [])

    def node_status(self, node: str, status: str, now: float) -> list[Effect]:
        """hbcomm's NodeStatusChanged: a peer is reachable while "up" or "active";
        this node turns "active" at comm up (and "up" again when hbcomm restarts)."""
        if node == self.config.local:
            self._set_comm_up(status == "active", now)
        else:
            reach = self._peers.reach
            reach = reach | {node} if status in _REACHABLE else reach - {node}
            if self._peers.set_reach(reach):
                self._heard_change(now)
                if self._view_broken():
                    self._mark_stale(now, f"node {node} {status}")
        return self._finish(now, [])

    def received(self, src: str, msg: object, now: float) -> list[Effect]:
        """A decoded ccm message from `src` (our own broadcasts come back: ignored)."""
        if src == self.config.local:
            return []
        why = problem(msg)
        if why is not None or not isinstance(msg, CcmMessage):
            return [MessageDropped(src, why or "not a ccm message")]
        out: list[Effect] = []
        self._peers.heard(src, msg)
        if isinstance(msg, CcmStateAnnounced):
            self._on_state(src, msg, now, out)
        elif isinstance(msg, CcmJoin):
            self._on_join(src, msg, now, out)
        elif isinstance(msg, CcmJoinResult):
            rnd = self._rounds.current
            if (self.phase is Phase.LEADING and self._rounds.record(src, msg)
                    and rnd is not None and not rnd.missing and not self._stale):
                self._decide(now, out)  # every answer is in
        elif isinstance(msg, CcmViewDecided):
            self._on_decided(src, msg, now)
        self.max_instance = max(self.max_instance, msg.max_instance)
        return self._finish(now, out)

    def tick(self, now: float) -> list[Effect]:
        """Timers: call at (or after) :meth:`next_deadline`."""
        out: list[Effect] = []
        due = self._deadline is not None and now >= self._deadline
        if self.phase is Phase.LEADING and due and not self._stale:
            self._decide(now, out)  # the mute ones are left out, marked silent
        elif self.phase is Phase.FOLLOWING and due:
            self._mark_stale(now, "no decision from the leader")
        elif self.phase is Phase.WAITING and due and self._waiting_on is not None:
            self._peers.give_up(self._waiting_on)  # it does not invite us: follow another
            self._mark_stale(now, f"leader {self._waiting_on} does not answer")
        elif self._resend_at is not None and now >= self._resend_at:
            self._resend_at = None
            rnd = self._rounds.current
            if self.phase is Phase.LEADING and rnd is not None:  # ask the mute ones again
                out.extend(Send(node, rnd.join) for node in sorted(rnd.missing))
            else:
                self._announce(now, out)
        if now >= self._announce_at:  # not in a round: a view about to change misleads
            if self.phase in (Phase.LEADING, Phase.FOLLOWING) or self._held:
                self._announce_at = now + self.config.announce_interval
            else:
                self._announce(now, out)
        return self._finish(now, out)

    def reconfigure(self, config: MembershipConfig, now: float) -> list[Effect]:
        """ha.cf reloaded: the node list (quorum total) or keepalive may differ."""
        if config.local != self.config.local:
            raise ValueError("the local node name cannot change while running")
        self.config = config
        return self._finish(now, [])

    # -- message handlers --------------------------------------------------
    def _on_state(self, src: str, msg: CcmStateAnnounced, now: float,
                  out: list[Effect]) -> None:
        local = self.config.local
        reply = msg.reply_wanted
        view = self._views.current
        if self.leader() == local:
            members = view.members if view is not None else ()
            rnd = self._rounds.current
            if msg.waiting and rnd is not None and src in rnd.missing:
                out.append(Send(src, rnd.join))  # it waits for a Join: ours was lost
            elif src in self._peers.reach and self._rounds.reported(src, msg, members,
                                                                        self._peers.reach):
                if src in members and not self._peers.reach & set(members) <= set(msg.reach):
                    # A member lost one we still hear: our hbcomm will likely follow.
                    self._next_round_at = max(self._next_round_at,
                                              now + self.config.quiet_time)
                self._mark_stale(now, f"report from {src}")
        else:
            reply = reply or msg.leader == local  # it thinks we lead: tell it whom we follow
            if (self.phase is Phase.WAITING and src == self._waiting_on
                    and msg.leader != src and msg.leader in self._peers.excluded):
                # Our leader follows a node that would not take us: neither will it.
                self._peers.excluded.add(src)
                self._mark_stale(now, f"{src} follows {msg.leader}")
            elif (self.phase is Phase.IDLE and view is not None and src in view.members
                    and src in self._peers.reach and msg.instance > view.instance):
                self._mark_stale(now, f"{src} moved on to instance {msg.instance}")
        if reply and self.phase is not Phase.FOLLOWING:  # see _finish: not while following
            out.append(Send(src, self._state(False)))

    def _on_join(self, src: str, msg: CcmJoin, now: float, out: list[Effect]) -> None:
        local = self.config.local
        if local not in msg.proposal:
            if self.leader() == src:
                out.append(Send(src, self._state(False)))  # it may think us silent
                if not (self.phase is Phase.WAITING and self._waiting_on == src):
                    self._mark_stale(now, f"left out by {src}")
            return
        self._peers.excluded.discard(src)  # it invites us
        leader = self.leader()
        if src != leader or src not in self._peers.reach:
            self._refused = src  # should we follow it after all, it wants to hear at once
            out.append(Send(src, self._answer(msg.round, False, leader)))
            return
        self._refused = None
        self._views.stale(now, f"round of {src}")
        self._rounds.abandon()
        self._rounds.forget()
        self._following = (src, msg.round)
        self._enter(Phase.FOLLOWING, now + self.config.decision_timeout)
        self._stale = False  # our answer carries everything we know
        answer = self._answer(msg.round, True, leader)
        self._answered, self._proposal = answer.reach, msg.proposal
        out.append(Send(src, answer))

    def _on_decided(self, src: str, msg: CcmViewDecided, now: float) -> None:
        local = self.config.local
        mine = next((g for g in msg.groups if local in g.members), None)
        if self.phase is Phase.FOLLOWING and self._following == (src, msg.round):
            if mine is None:
                self._mark_stale(now, f"left out by {src}")
            elif self._adopt(mine, src, msg.round, now):
                self._announced = self._key(self._answered)  # the leader knows it all
            return
        view = self._views.current
        if view is None or view.coordinator != src or view.round == msg.round:
            return
        if mine is None:
            if self.phase is Phase.IDLE:
                self._mark_stale(now, f"dropped by {src}")
        elif self._takes_shrink(src, mine, len(msg.groups)):
            if self._adopt(mine, src, msg.round, now):
                self._announced = self._key()  # just what its decision assumed
        elif self.phase is Phase.IDLE:
            self._mark_stale(now, f"cannot take {src}'s view without a round")

    def _takes_shrink(self, src: str, mine: CcmGroup, groups: int) -> bool:
        """A decision without a round (members died): ours to take when it comes from
        our leader, only drops members of our view, and we hear every one left."""
        view = self._views.current
        waiting = self.phase is Phase.WAITING and self._waiting_on == src
        return (groups == 1 and view is not None and src == self.leader()
                and (self.phase is Phase.IDLE or waiting)
                and set(mine.members) < set(view.members)
                and set(mine.members) - {self.config.local} <= self._peers.reach
                and mine.instance > self.max_instance)

    # -- coordinating ------------------------------------------------------
    def _decide(self, now: float, out: list[Effect]) -> None:
        self._decided(self._rounds.decide(self._peers.reach, self._views.instance,
                                          self._views.members, self.max_instance), now, out)

    def _decided(self, decision: Decision, now: float, out: list[Effect]) -> None:
        self._peers.mute(decision.silent)
        self.max_instance = max(self.max_instance, decision.max_instance)
        if decision.message is not None:
            out.append(Send(None, decision.message))
        if self.phase is not Phase.IDLE:
            self._enter(Phase.IDLE, None)
        self._adopt(decision.own, self.config.local, decision.number, now)

    def _advance_coordinator(self, now: float, out: list[Effect]) -> None:
        local = self.config.local
        if self.phase in (Phase.WAITING, Phase.FOLLOWING):
            self._following = self._waiting_on = None
            self._enter(Phase.IDLE, None)
            self._mark_stale(now, "we lead")
        if not self._comm_up:  # before comm up nobody knows who is alive: do not decide
            if self.phase is Phase.LEADING:
                self._rounds.abandon()
                self._enter(Phase.IDLE, None)
            return
        if not self._stale:
            return
        invited = self._peers.invitees()
        if invited == {local}:  # the fast path: nobody to agree with, no message
            self._rounds.abandon()
            self._rounds.forget()
            self._stale = False
            alone = self._views.members == (local,)  # then nothing changes
            instance = self._views.instance if alone else self.max_instance + 1
            self._adopt(CcmGroup(instance, (local,)), local, self._rounds.next_number(), now)
        elif self.phase is Phase.IDLE and self._rounds.shrinkable(invited, self._views.instance):
            # Members died, nothing else changed: decide the rest at once, no round.
            self._stale = False
            self._decided(self._rounds.shrink(invited, self.max_instance), now, out)
        elif now >= self._next_round_at:
            join = self._rounds.open(invited, self.max_instance)
            self._following = None
            self._enter(Phase.LEADING, now + self.config.join_timeout)
            self._resend_at = now + self.config.join_timeout / 2
            self._stale = False
            self._next_round_at = now + self.config.round_gap
            out.append(Send(None, join))

    # -- following ---------------------------------------------------------
    def _advance_follower(self, leader: str, now: float, out: list[Effect]) -> None:
        # Whom we act for now; a different leader means we must ask it for a round.
        owner = {Phase.LEADING: self.config.local, Phase.WAITING: self._waiting_on,
                 Phase.FOLLOWING: self._following[0] if self._following else None,
                 Phase.IDLE: view.coordinator if (view := self._views.current) else None,
                 }[self.phase]
        if owner is not None and owner != leader:
            self._rounds.abandon()
            self._mark_stale(now, f"{leader} leads")
        if self._stale:  # ask our leader for a round (see _finish), then wait for its Join
            self._stale = False
            self._rounds.forget()
            self._waiting_on = leader
            start = max(now, self._quiet_until)
            self._enter(Phase.WAITING, start + self.config.wait_timeout)
            self._resend_at = start + self.config.wait_timeout / 2

    # -- the driver --------------------------------------------------------
    def _finish(self, now: float, out: list[Effect]) -> list[Effect]:
        """After every input: act on what changed, announce it, publish the view."""
        leader = self.leader()
        if leader == self.config.local:
            self._advance_coordinator(now, out)
        else:
            self._advance_follower(leader, now, out)
        # Not while FOLLOWING: our answer told the leader, and a view about to change
        # would read as disagreement.  A higher max_instance alone waits for the next.
        # A follower holds what hbcomm told it for quiet_time: its leader, a member of
        # its view, most likely saw the same and asks everyone at once (N answers, not
        # N^2).  A node joining has news of its own: it tells it at once.
        changed = self.phase is not Phase.FOLLOWING and self._key() != self._announced
        if (changed and now < self._quiet_until and leader != self._refused
                and leader != self.config.local and leader in self._views.members):
            self._held = True
        elif changed:
            self._announce(now, out)
        else:
            self._held = False
        published = self._views.publish(now, self.config.total)
        if published is not None:
            out.append(published)
        if not self._stale and self.phase is Phase.IDLE:
            self._views.settled()
        return out

    def _adopt(self, group: CcmGroup, coordinator: str, number: int, now: float) -> bool:
        if not self._views.adopt(group, coordinator, number):
            self._mark_stale(now, "decision older than our view")  # never go back
            return False
        self.max_instance = max(self.max_instance, group.instance)
        self._following = None
        if self.phase is not Phase.IDLE:
            self._enter(Phase.IDLE, None)
        return True

    # -- helpers -----------------------------------------------------------
    def _set_comm_up(self, comm_up: bool, now: float) -> None:
        if comm_up != self._comm_up:
            self._comm_up = comm_up
            if comm_up:
                self._views.formed = True
                self._quiet_until = now  # our news, not our peers': say it at once
                self._mark_stale(now, "comm up")

    def _heard_change(self, now: float) -> None:
        """hbcomm told us of a peer: hold our news for quiet_time from the first change
        of a burst (a burst that goes on must not silence us)."""
        if now >= self._quiet_until:
            self._quiet_until = now + self.config.quiet_time

    def _view_broken(self) -> bool:
        """Does our reach call for a round?  Not when it lost only nodes outside our view,
        or outside the round we answered: their death was decided before our hbcomm saw
        it.  A coordinator always asks."""
        view = self._views.current
        if self.leader() == self.config.local or view is None:
            return True
        members = self._proposal if self.phase is Phase.FOLLOWING else view.members
        return self._peers.reach != set(members) - {self.config.local}

    def _mark_stale(self, now: float, cause: str) -> None:
        self._stale = True
        self._views.stale(now, cause)

    def _enter(self, phase: Phase, deadline: float | None) -> None:
        if (self.phase, phase) not in _EDGES:
            raise RuntimeError(f"ccm: impossible transition {self.phase.name} -> {phase.name}")
        self.phase = phase
        self._deadline = deadline
        self._resend_at = None

    def _state(self, reply_wanted: bool) -> CcmStateAnnounced:
        return CcmStateAnnounced(
            reach=tuple(sorted(self._peers.reach | {self.config.local})), leader=self.leader(),
            instance=self._views.instance, members=self._views.members,
            max_instance=self.max_instance, waiting=self.phase is Phase.WAITING,
            reply_wanted=reply_wanted)

    def _key(self, reach: tuple[str, ...] | None = None) -> tuple[object, ...]:
        """What an announcement must tell when it changes (`reach`: as of our answer).
        An idle follower's reach beyond its view matters to nobody (a change there
        that does makes it wait, and then it tells all)."""
        state = self._state(False)
        reach = state.reach if reach is None else reach
        if state.leader != self.config.local and self.phase is Phase.IDLE:
            reach = tuple(n for n in reach if n in state.members or n == self.config.local)
        return reach, state.leader, state.instance, state.members, state.waiting

    def _audience(self) -> str | None:
        """Whom our announcements are for: a follower's only to its leader (N messages
        per change and per interval, not N^2), unless it just started (it asks everyone)
        or follows other than the lowest reachable node (that one may want to know)."""
        leader = self.leader()
        if self._hello or leader == self.config.local or leader != min(
                self._peers.reach | {self.config.local}):
            return None
        return leader

    def _answer(self, number: int, accepted: bool, leader: str) -> CcmJoinResult:
        state = self._state(False)
        return CcmJoinResult(number, accepted, leader, state.reach, self.max_instance,
                             state.instance, state.members)

    def _announce(self, now: float, out: list[Effect]) -> None:
        self._announced = self._key()
        self._held = False
        out.append(Send(self._audience(), self._state(self._hello)))
        self._hello = False
        self._announce_at = now + self.config.announce_interval
