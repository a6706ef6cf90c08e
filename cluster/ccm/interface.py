"""What crosses the edge of ccm's core: its configuration, checked messages, effects.

Role: the vocabulary between :class:`cluster.ccm.membership.Membership` and
its shell.  In: :class:`MembershipConfig` (from ha.cf) and peer messages,
which :func:`problem` checks first.  Out: :class:`Send` (a message for hbcomm
to carry), :class:`ViewPublished` (a new view for ``ccm.pub``, with how long
agreement took) and :class:`MessageDropped` (for the shell to count and log
at a limited rate).

Why the checks: the codec guarantees a catalogued type with exactly its
fields, but not the field *types*: a peer running other code (or a corrupted
but authenticated packet) could send ``members=5``.  Pure, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from cluster.bus.messages.ccm import (
    CcmGroup,
    CcmJoin,
    CcmJoinResult,
    CcmStateAnnounced,
    CcmViewDecided,
    ViewChanged,
)

__all__ = ["MAX_INSTANCE", "CcmMessage", "Effect", "MembershipConfig", "MessageDropped", "Send",
           "ViewPublished", "problem"]

CcmMessage = CcmStateAnnounced | CcmJoin | CcmJoinResult | CcmViewDecided

_ANNOUNCE_FLOOR = 1.0  # seconds between periodic announcements at the least


@dataclass(frozen=True, slots=True)
class MembershipConfig:
    """`nodes` are ha.cf's node lines (the quorum total); timers scale with keepalive."""

    local: str
    nodes: tuple[str, ...]
    keepalive: float

    @property
    def total(self) -> int:
        return len(set(self.nodes) | {self.local})

    @property
    def join_timeout(self) -> float:  # Heartbeat's CCM allows 5 keepalives per update
        return 5 * self.keepalive

    @property
    def decision_timeout(self) -> float:  # join_timeout + 2: the decision must be lost
        return 7 * self.keepalive

    @property
    def wait_timeout(self) -> float:  # > join_timeout + round_gap: it does not invite us
        return 8 * self.keepalive

    @property
    def announce_interval(self) -> float:
        """Periodic announcements repair what a lost message broke.  hbcomm already
        retransmits, so losses are rare: at short keepalives a second is soon enough,
        and each announcement wakes every ccm it reaches (most of an idle ccm's CPU)."""
        return max(10 * self.keepalive, _ANNOUNCE_FLOOR)

    @property
    def quiet_time(self) -> float:  # > the skew of two hbcomms' detections of one change
        return 2 * self.keepalive

    @property
    def round_gap(self) -> float:  # restarts during a change burst: at most 2 per keepalive
        return self.keepalive / 2


@dataclass(frozen=True, slots=True)
class Send:
    dest: str | None  # None: every node (hbcomm's broadcast)
    message: CcmMessage


@dataclass(frozen=True, slots=True)
class ViewPublished:
    view: ViewChanged
    coordinator: str       # the node whose round decided it (this one on the fast path)
    elapsed: float | None  # seconds from the event that made the last view stale
    cause: str             # that event, for the log


@dataclass(frozen=True, slots=True)
class MessageDropped:
    src: str
    reason: str


Effect = Send | ViewPublished | MessageDropped

# Instances and rounds stay exact in msgpack and in every language's doubles.
MAX_INSTANCE = 2**53
_MAX_NODES = 1024
_MAX_NAME = 255


def _number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_INSTANCE


def _name(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= _MAX_NAME


def _names(value: object, empty: bool = True) -> bool:
    return (isinstance(value, tuple) and (empty or bool(value)) and len(value) <= _MAX_NODES
            and all(_name(v) for v in value) and len(set(value)) == len(value))


def _group(value: object) -> bool:
    return (isinstance(value, CcmGroup) and _number(value.instance) and value.instance > 0
            and _names(value.members, empty=False))


def _state_problem(msg: CcmStateAnnounced) -> str | None:
    if not (_names(msg.reach, empty=False) and _name(msg.leader) and _names(msg.members)):
        return "bad node names"
    if not (_number(msg.instance) and _number(msg.max_instance)):
        return "bad instance"
    if not (isinstance(msg.reply_wanted, bool) and isinstance(msg.waiting, bool)):
        return "bad flag"
    return None


def _result_problem(msg: CcmJoinResult) -> str | None:
    if not (_names(msg.reach, empty=False) and _name(msg.leader) and _names(msg.members)):
        return "bad node names"
    if not (_number(msg.round) and _number(msg.instance) and _number(msg.max_instance)):
        return "bad number"
    if not isinstance(msg.accepted, bool):
        return "bad accepted"
    return None


def problem(msg: object) -> str | None:
    """Why `msg` cannot be used, or None when it can."""
    if isinstance(msg, CcmStateAnnounced):
        return _state_problem(msg)
    if isinstance(msg, CcmJoin):
        if not (_number(msg.round) and _number(msg.max_instance)):
            return "bad number"
        return None if _names(msg.proposal, empty=False) else "bad proposal"
    if isinstance(msg, CcmJoinResult):
        return _result_problem(msg)
    if isinstance(msg, CcmViewDecided):
        if not (_number(msg.round) and _number(msg.max_instance)):
            return "bad number"
        groups = msg.groups
        if not (isinstance(groups, tuple) and groups and all(_group(g) for g in groups)):
            return "bad groups"
        seen = [n for g in groups for n in g.members]
        return None if len(seen) == len(set(seen)) else "a node in two groups"
    return f"unexpected message type {type(msg).__name__}"
