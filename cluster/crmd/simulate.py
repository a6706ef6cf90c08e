"""What-if: what the policy would do if nodes failed or went standby (``crm_simulate``).

Role: a pure function over the live :class:`~cluster.crmd.state.ClusterState`.
:func:`simulate` changes a copy of it as the events would (a failed node
leaves the view, which gets the next instance and ccm's quorum rule; a standby
node gets a standby intent), then runs :func:`~cluster.crmd.policy.decide`
round after round, applying each action as if it had succeeded (a fence
powers the node off, a stop stops, a start or restart runs the group) until
the plan is empty.  The actions, in the order the DC would take them, and the
placement before and after are the result; nothing is sent anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from cluster.bus.messages.crmd import SimulatedAction
from cluster.ccm.views import has_quorum
from cluster.crmd.policy import Fence, PolicyConfig, Restart, Start, Stop, decide
from cluster.crmd.state import ClusterState, GroupState, GroupStatus, NodeInfo, View

__all__ = ["Simulation", "placement", "simulate"]

_MAX_ROUNDS = 32


@dataclass(frozen=True, slots=True)
class Simulation:
    before: dict[str, str]          # group key -> node it runs on ("" = nowhere)
    after: dict[str, str]
    actions: tuple[SimulatedAction, ...]
    notes: tuple[str, ...]          # the final plan's: why something cannot run


def placement(state: ClusterState, config: PolicyConfig) -> dict[str, str]:
    """Where each group is started (members only; "" = nowhere)."""
    out = {}
    for group in config.groups:
        out[group.key] = ",".join(n for n in state.members
                                  if state.node(n).state_of(group.key) is GroupState.STARTED)
    return out


def _set(info: NodeInfo, key: str, state: GroupState, since: int) -> NodeInfo:
    report = info.report
    if report is None:
        return info
    old = report.group(key)
    groups = dict(report.groups)
    groups[key] = GroupStatus(state, old.fail_count, since, old.resources)
    return replace(info, report=replace(report, groups=groups))


def _after_events(state: ClusterState, config: PolicyConfig, fail: Iterable[str],
                  standby: Iterable[str]) -> ClusterState:
    view = state.view
    assert view is not None
    failed = set(fail)
    members = frozenset(view.members - failed)
    instance = view.instance + 1
    nodes = dict(state.nodes)
    for name in failed:
        nodes[name] = replace(state.node(name), member=False)
    for name in members:
        info = state.node(name)
        if info.report is not None:
            nodes[name] = replace(info, report=replace(info.report, instance=instance))
    intents = replace(state.intents,
                      standby=state.intents.standby | frozenset(standby))
    quorate = has_quorum(len(members), len(config.nodes))
    return replace(state, view=View(instance, members, quorate), nodes=nodes,
                   in_flight=frozenset(), intents=intents)


def simulate(state: ClusterState, config: PolicyConfig, fail: Iterable[str] = (),
             standby: Iterable[str] = ()) -> Simulation:
    """The DC's actions after ``fail`` nodes die and ``standby`` nodes go standby."""
    before = placement(state, config)
    current = _after_events(state, config, fail, standby)
    actions: list[SimulatedAction] = []
    notes: tuple[str, ...] = ()
    for _ in range(_MAX_ROUNDS):
        plan = decide(current, config)
        notes = plan.notes
        if not plan.actions:
            break
        nodes = dict(current.nodes)
        instance = plan.instance or 0
        for action in plan.actions:
            if isinstance(action, Fence):
                actions.append(SimulatedAction("fence", "", action.node, action.reason))
                nodes[action.node] = replace(nodes.get(action.node, NodeInfo(action.node)),
                                             fenced=True)
                continue
            word = {Start: "start", Stop: "stop", Restart: "restart"}[type(action)]
            actions.append(SimulatedAction(word, action.group, action.node, action.reason))
            result = GroupState.STOPPED if isinstance(action, Stop) else GroupState.STARTED
            nodes[action.node] = _set(nodes.get(action.node, NodeInfo(action.node)),
                                      action.group, result, instance)
        current = replace(current, nodes=nodes)
    return Simulation(before, placement(current, config), tuple(actions), notes)
