"""Operator actions: the dashboard's names for the requests the CLI tools send to crmd.

One table, :data:`ACTIONS`: each entry turns (target, who) into the crmd
request ``hb_standby``, ``hb_takeover``, ``crm_standby -D`` or
``crm_resource --cleanup`` would send.  Standby, online and takeover act on
one node, so they run on that node (relayed over the cluster when it is not
this one); cleanup is cluster-wide.  Move, ban, clear, maintenance and
manage/unmanage get their rows here once crmd has requests for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cluster.bus.messages.crmd import CleanupResource, ClearStandby, Standby, Takeover

#: crmd may take this long to move a group; the page waits for the answer.
MOVE_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Action:
    build: Callable[[str, str], object]      # (target, client) -> crmd request
    per_node: bool                           # runs on the node it names
    disruptive: bool                         # the page asks for confirmation
    reply_timeout: float


ACTIONS: dict[str, Action] = {
    "standby": Action(lambda _t, who: Standby("all", MOVE_TIMEOUT, who), True, True,
                      MOVE_TIMEOUT + 5),
    "online": Action(lambda _t, who: ClearStandby(who), True, False, 10.0),
    "takeover": Action(lambda _t, who: Takeover("all", MOVE_TIMEOUT, who), True, True,
                       MOVE_TIMEOUT + 5),
    "cleanup": Action(lambda target, who: CleanupResource(target, who), False, False, 10.0),
}

#: Requests a peer's dashboard may ask this node's crmd for (see RemoteAction).
RELAYABLE = (Standby, ClearStandby, Takeover)


def client_name(user: str) -> str:
    """How crmd records who acted ("Last change ... by cluster-web (alice)")."""
    return f"cluster-web ({user})"
