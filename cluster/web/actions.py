"""Operator actions: the dashboard's names for the requests the CLI tools send to crmd.

One table, :data:`ACTIONS`: each entry turns (node, group, who) into the request
``crm_standby``, ``hb_takeover``, ``crm_resource`` or ``crm_attribute`` would
send.  Take over is ``hb_takeover``'s request, which only the node it names
can carry out, so it runs there (relayed over the cluster when that is not
this node); every other request is the operator's intent, which any node's
crmd records for the whole cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cluster.bus.messages.crmd import (
    CleanupResource,
    Constrain,
    SetMaintenance,
    SetManaged,
    SetStandby,
    Takeover,
)

#: crmd may take this long to move a group; the page waits for the answer.
MOVE_TIMEOUT = 60.0
_QUICK = 10.0


@dataclass(frozen=True, slots=True)
class Action:
    build: Callable[[str, str, str], object]   # (node, group, client) -> crmd request
    needs_node: bool
    needs_group: bool
    runs_on_node: bool = False                 # only the named node's crmd can do it
    disruptive: bool = False                   # the page asks for confirmation
    reply_timeout: float = _QUICK


ACTIONS: dict[str, Action] = {
    "standby": Action(lambda node, _g, _w: SetStandby(node, True), True, False,
                      disruptive=True),
    "online": Action(lambda node, _g, _w: SetStandby(node, False), True, False),
    "takeover": Action(lambda _n, _g, who: Takeover("all", MOVE_TIMEOUT, who), True, False,
                       runs_on_node=True, disruptive=True, reply_timeout=MOVE_TIMEOUT + 5),
    "cleanup": Action(lambda node, group, who: CleanupResource(group, node, client=who),
                      False, True),
    "move": Action(lambda node, group, _w: Constrain("move", group, node), True, True,
                   disruptive=True),
    "ban": Action(lambda node, group, _w: Constrain("ban", group, node), True, True,
                  disruptive=True),
    "clear": Action(lambda _n, group, _w: Constrain("clear", group), False, True),
    "maintenance-on": Action(lambda _n, _g, _w: SetMaintenance(True), False, False,
                             disruptive=True),
    "maintenance-off": Action(lambda _n, _g, _w: SetMaintenance(False), False, False),
    "manage": Action(lambda _n, group, _w: SetManaged(group, True), False, True),
    "unmanage": Action(lambda _n, group, _w: SetManaged(group, False), False, True,
                       disruptive=True),
}

#: Requests a peer's dashboard may ask this node's crmd for (see RemoteAction).
RELAYABLE = (Takeover,)


def client_name(user: str) -> str:
    """How crmd records who acted ("Last change ... by cluster-web (alice)")."""
    return f"cluster-web ({user})"
