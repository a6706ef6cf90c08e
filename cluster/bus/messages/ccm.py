"""Messages of ccm, the membership daemon (``ccm.ctl``, ``ccm.pub``).

Local interface: topic ``view`` on ``ccm.pub`` carries ViewChanged each time
the agreed membership changes; GetView answers with the current one (the
snapshot a subscriber asks for right after subscribing).  ccm's messages to
its peers on other nodes travel through hbcomm as cluster messages of type
``ccm`` whose body is one encoded message of this module.
"""

from __future__ import annotations

from dataclasses import dataclass

from cluster.bus.catalogue import message


@message
@dataclass(frozen=True, slots=True)
class ViewChanged:
    """The membership every member agreed on.

    `instance` only grows and is the same on every member of the view.
    `members` is sorted.  `quorate` follows Heartbeat's majority:twonodes
    rule.  `formed` is False until this node has completed its first
    agreement (start-up, before hbcomm's comm-up): nobody may act on a view
    that is not formed.
    """

    instance: int
    members: tuple[str, ...]
    quorate: bool
    leader: str
    formed: bool = True


@message
@dataclass(frozen=True, slots=True)
class GetView:
    """Ask for the current view; the reply is a ViewChanged."""


# --- ccm to ccm, across nodes (cluster messages of type "ccm") ----------------
#
# The protocol is described in cluster/ccm/membership.py.  `reach` is the
# set of nodes the sender's hbcomm reports "up"/"active", sorted, the sender
# included; `max_instance` is the highest instance the sender has seen, so
# every message spreads it and a restarted ccm never reuses a lower one.


@message
@dataclass(frozen=True, slots=True)
class CcmStateAnnounced:
    """A ccm's state, on every change and every announce interval: a follower's to
    its leader, a coordinator's (or a ccm that just started) to every node.

    `leader` is the node this ccm wants to coordinate its membership (the
    lowest name it can follow); `instance`/`members` its current view
    (0 and () before its first).  `waiting` asks the leader for a round.
    `reply_wanted` asks every peer to answer with its own state (a ccm that
    just started).
    """

    reach: tuple[str, ...]
    leader: str
    instance: int
    members: tuple[str, ...]
    max_instance: int
    waiting: bool = False
    reply_wanted: bool = False


@message
@dataclass(frozen=True, slots=True)
class CcmJoin:
    """A coordinator opens a round: the proposed nodes are asked to answer."""

    round: int
    proposal: tuple[str, ...]
    max_instance: int


@message
@dataclass(frozen=True, slots=True)
class CcmJoinResult:
    """Answer to CcmJoin.  `accepted` False: the sender follows `leader` instead."""

    round: int
    accepted: bool
    leader: str
    reach: tuple[str, ...]
    max_instance: int
    instance: int
    members: tuple[str, ...]


@message
@dataclass(frozen=True, slots=True)
class CcmGroup:
    """One view of a decision: these members adopt this instance."""

    instance: int
    members: tuple[str, ...]


@message
@dataclass(frozen=True, slots=True)
class CcmViewDecided:
    """The coordinator's decision for a round: every participant is in one group.
    Also without a round, when members of its last decision died: one group, the rest."""

    round: int
    groups: tuple[CcmGroup, ...]
    max_instance: int
