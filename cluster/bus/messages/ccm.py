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
