"""crm_resource's moves, bans and --why, as pure functions of the state.

Role: bookkeeping for the service, like :mod:`cluster.crmd.moves` for
hb_standby.  :func:`plan_constrain` checks a ``--move``/``--ban``/``--clear``
against the configuration, the state and the intent store and returns the
intent entries to write with the text crm_resource prints (Pacemaker's
wording), or a :class:`~cluster.crmd.moves.Refused`.  :func:`explain` is
``--why``: where the group runs and, node by node, why it may or may not
run there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from cluster.config.haresources import ResourceGroup
from cluster.crmd.intent import IntentStore, ban_id, prefer_id
from cluster.crmd.moves import Refused
from cluster.crmd.policy import Fence, Plan, PolicyConfig, why_unusable
from cluster.crmd.state import ClusterState, GroupState

__all__ = ["Change", "ConstrainPlan", "explain", "plan_constrain", "running_on"]


@dataclass(frozen=True, slots=True)
class Change:
    """One intent entry to write: (kind, group, node) = value."""

    kind: str
    group: str
    node: str
    value: str
    expires: float = 0.0


@dataclass(frozen=True, slots=True)
class ConstrainPlan:
    changes: tuple[Change, ...]
    text: str


def running_on(state: ClusterState, key: str) -> list[str]:
    """Members whose trusted report shows ``key`` started."""
    return [n for n in state.members if state.node(n).state_of(key) is GroupState.STARTED]


def _until(expires: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(expires))


def _ban_warning(key: str, node: str) -> str:
    return (f"WARNING: Creating rsc_location constraint '{ban_id(key, node)}' with a score "
            f"of -INFINITY for resource {key} on {node}.\n"
            f"\tThis will prevent {key} from running on {node} until the constraint is "
            "removed using the clear option or by editing the CIB with an appropriate tool\n"
            f"\tThis will be the case even if {node} is the last node in the cluster")


def _prefer_warning(key: str, node: str) -> str:
    return (f"WARNING: Creating rsc_location constraint '{prefer_id(key)}' with a score "
            f"of INFINITY for resource {key} on {node}.\n"
            f"\tThis will keep {key} on {node} whenever {node} can run it, until the "
            "constraint is removed using the clear option")


def plan_constrain(config: PolicyConfig, state: ClusterState, store: IntentStore,
                   action: str, key: str, node: str, expires: float) -> ConstrainPlan | Refused:
    """--move / --ban / --clear of group ``key`` (``expires``: wall clock, 0 = never)."""
    if node and node not in config.nodes:
        return Refused("unknown_node", f"No node named '{node}' in the cluster "
                       f"(nodes: {', '.join(config.nodes)})")
    if action == "clear":
        changes, lines = [], []
        names = [node] if node else list(config.nodes)
        for name in names:
            if store.get("ban", key, name) is not None:
                changes.append(Change("ban", key, name, ""))
                lines.append(f"Removing constraint: {ban_id(key, name)}")
        prefer = store.get("prefer", key)
        if prefer is not None and (not node or prefer.value == node):
            changes.append(Change("prefer", key, "", ""))
            lines.append(f"Removing constraint: {prefer_id(key)}")
        return ConstrainPlan(tuple(changes), "\n".join(lines))
    if action not in ("move", "ban"):
        return Refused("bad_request", f"unknown action {action!r} (move, ban or clear)")
    where = running_on(state, key)
    if action == "move" and node:
        if where == [node]:
            return Refused("refused", f"Error performing operation: {key} is already "
                           f"active on {node}")
        changes = [Change("prefer", key, "", node, expires)]
        if store.get("ban", key, node) is not None:
            changes.append(Change("ban", key, node, ""))
        text = _prefer_warning(key, node)
    else:
        target = node or (where[0] if len(where) == 1 else "")
        if not target:
            why = "active on several nodes" if where else "not active"
            return Refused("refused", f"Resource '{key}' not moved: {why} and no "
                           "preferred location specified.")
        changes = [Change("ban", key, target, "ban", expires)]
        text = _ban_warning(key, target)
    if expires:
        text = f"Migration will take effect until: {_until(expires)}\n{text}"
    return ConstrainPlan(tuple(changes), text)


def explain(config: PolicyConfig, state: ClusterState, plan: Plan,
            group: ResourceGroup) -> str:
    """crm_resource --why: where ``group`` runs, and why (not) on each node."""
    key = group.key
    intents = state.intents
    where = running_on(state, key)
    lines = [f"Resource {key} is running on: {', '.join(where)}" if where
             else f"Resource {key} is not running"]
    if intents.maintenance:
        lines.append("  maintenance-mode is on: nothing is started or stopped")
    if key in intents.unmanaged:
        lines.append(f"  {key} is unmanaged: it is left as it is")
    preferred = intents.preferred(key)
    if preferred is not None:
        lines.append(f"  {prefer_id(key)} moves it to {preferred}")
    for name in sorted(set(config.nodes) | set(state.members)):
        reason = why_unusable(state, config, name, key)
        notes = []
        if name == group.node:
            notes.append("its preferred node (haresources)")
        report = state.node(name).trusted_report
        if report is not None and report.group(key).fail_count:
            notes.append(f"fail count {report.group(key).fail_count} of "
                         f"{config.failure_threshold}")
        if reason is None:
            lines.append(f"  {name}: may run it" + (f"; {'; '.join(notes)}" if notes else ""))
        else:
            lines.append(f"  {name}: cannot run it: {reason}"
                         + (f"; {'; '.join(notes)}" if notes else ""))
    for action in plan.actions:
        if not isinstance(action, Fence) and action.group == key:
            lines.append(f"  next: {type(action).__name__.lower()} on {action.node}: "
                         f"{action.reason}")
    lines += [f"  {note}" for note in plan.notes if key in note]
    return "\n".join(lines)
