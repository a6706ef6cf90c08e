"""Operator moves: what hb_standby and hb_takeover ask of the local crmd.

Role: pure bookkeeping for the service.  :func:`plan_standby` and
:func:`plan_takeover` check a request against the configuration and the
current cluster state and say what changes (the node's standby classes, the
groups it wants) or why the request is refused; a :class:`MoveWaiter` then
says, after every state change, whether the move is complete, so the service
can answer the deferred request.

Theory of operation.  Moves are not commands to the DC: they change what this
node *reports* about itself, and the DC's level-triggered policy does the
rest.  ``hb_standby R`` adds the classes R (all | local | foreign, from this
node's point of view; failback = foreign) to the node's standby set: the
policy sheds those groups to another usable node and places nothing there
while another node can take it.  Standby lasts until ``hb_takeover`` on this
node clears it, or crmd restarts.  ``hb_takeover R`` clears R from the
standby set and adds the groups of R that run elsewhere to the node's
*wants*: the policy moves a wanted group here (stop there, start here); a
want is dropped once the group runs here, or when the request times out.
``hb_takeover failback`` means local here (bring my groups home), not
Heartbeat's accidental "all".  With ``auto_failback legacy`` both are refused
as Heartbeat refuses standby: ``Standby mode only implemented when
nice_failback on``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cluster.config.haresources import ResourceGroup
from cluster.crmd.policy import PolicyConfig, usable
from cluster.crmd.state import ClusterState, GroupState, standby_covers

__all__ = ["LEGACY_REFUSAL", "MoveWaiter", "Refused", "plan_standby", "plan_takeover"]

LEGACY_REFUSAL = "Standby mode only implemented when nice_failback on"


@dataclass(frozen=True, slots=True)
class Refused:
    code: str
    message: str


@dataclass
class MoveWaiter:
    """One deferred hb_standby/hb_takeover request."""

    kind: str                   # standby | takeover
    which: str
    groups: tuple[str, ...]
    deadline: float

    def where(self, state: ClusterState) -> dict[str, str | None]:
        """The member each group is started on (None: nowhere yet)."""
        out: dict[str, str | None] = {}
        for key in self.groups:
            out[key] = None
            for name in state.members:
                if state.node(name).state_of(key) is GroupState.STARTED:
                    out[key] = name
        return out

    def complete(self, state: ClusterState) -> bool:
        places = self.where(state)
        local = state.local
        if self.kind == "takeover":
            return all(node == local for node in places.values())
        held = state.node(local).state_of
        return all(held(key) in (GroupState.STOPPED, None) and places[key] not in (None, local)
                   for key in self.groups)

    def describe(self, state: ClusterState) -> str:
        parts = [f"{key} {'on ' + node if node else 'not running'}"
                 for key, node in self.where(state).items()]
        return ", ".join(parts)


def covered(groups: Sequence[ResourceGroup], which: str, node: str) -> tuple[str, ...]:
    return tuple(g.key for g in groups if standby_covers(which, node, g.node))


def _common_refusal(config: PolicyConfig, state: ClusterState, which: str,
                    leaving: bool) -> Refused | None:
    if which not in ("all", "local", "foreign", "failback"):
        return Refused("bad_request", f"unknown resource set {which!r} "
                       "(all, local, foreign or failback)")
    if config.auto_failback == "legacy":
        return Refused("refused", LEGACY_REFUSAL)
    if leaving:
        return Refused("refused", "this node is shutting down")
    if state.view is None:
        return Refused("not_ready", "no membership view has formed yet")
    return None


def plan_standby(config: PolicyConfig, state: ClusterState, which: str, leaving: bool,
                 now: float, timeout: float) -> Refused | MoveWaiter:
    """hb_standby: the groups to wait for (those held here now), or why not."""
    refusal = _common_refusal(config, state, which, leaving)
    if refusal is not None:
        return refusal
    local = state.local
    keys = covered(config.groups, which, local)
    held = tuple(k for k in keys
                 if state.node(local).state_of(k) not in (None, GroupState.STOPPED))
    stuck = [k for k in held
             if not any(usable(state, config, n, k) for n in state.members if n != local)]
    if stuck:
        return Refused("no_peer", f"no other node can take over {', '.join(stuck)}; "
                       "standby not set")
    return MoveWaiter("standby", which, held, now + timeout)


def plan_takeover(config: PolicyConfig, state: ClusterState, which: str, leaving: bool,
                  now: float, timeout: float) -> Refused | MoveWaiter:
    """hb_takeover: the groups to bring here (not yet started here), or why not."""
    refusal = _common_refusal(config, state, which, leaving)
    if refusal is not None:
        return refusal
    local = state.local
    keys = covered(config.groups, "local" if which == "failback" else which, local)
    report = state.node(local).trusted_report
    banned = [k for k in keys if report is not None
              and report.group(k).fail_count >= config.failure_threshold]
    if banned:
        return Refused("banned", f"this node is banned for {', '.join(banned)} by failures; "
                       "clean them up first")
    wanted = tuple(k for k in keys if state.node(local).state_of(k) is not GroupState.STARTED)
    return MoveWaiter("takeover", which, wanted, now + timeout)
