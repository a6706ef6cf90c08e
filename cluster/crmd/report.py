"""Between crmd's cores and the wire: reports, status snapshots and log wording.

Role: pure conversions.  :func:`to_report` turns a peer's
:class:`~cluster.bus.messages.crmd.NodeResources` into the
:class:`~cluster.crmd.state.NodeReport` the tracker folds (raising
``ValueError`` on a state word it does not know); :func:`local_message`
builds our own broadcast from :class:`~cluster.crmd.transition.LocalGroups`;
:func:`build_status` assembles the :class:`StatusResult` that ``crm_status``
prints (:func:`newest_change` picks its "Last change"); :func:`group_line`
spells a group as Heartbeat's ResourceManager logs it
(``node1 IPaddr::10.0.0.1/24/eth0 httpd``); :func:`policy_config` reads
the policy's inputs out of the configuration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cluster.bus.messages.crmd import (
    FailCount,
    FailedAction,
    GroupReport,
    LastChange,
    NodeResources,
    NodeState,
    ResourceState,
    StatusResult,
)
from cluster.config.confdir import ClusterConfig
from cluster.config.haresources import ResourceGroup
from cluster.crmd.policy import Fence, Plan, PolicyConfig
from cluster.crmd.state import ClusterState, GroupState, GroupStatus, NodeReport
from cluster.crmd.transition import LocalGroups

__all__ = [
    "LocalFlags",
    "build_status",
    "group_line",
    "local_message",
    "newest_change",
    "pending",
    "policy_config",
    "to_report",
]

#: A report carries at most this many failed actions (newest kept): one datagram.
MAX_REPORTED_FAILURES = 32


def policy_config(config: ClusterConfig, failure_threshold: int) -> PolicyConfig:
    ha = config.ha
    return PolicyConfig(groups=config.groups, nodes=ha.nodes, auto_failback=ha.auto_failback,
                        stonith=bool(ha.stonith_hosts or ha.stonith),
                        failure_threshold=failure_threshold, initdead=ha.initdead,
                        failure_timeout=ha.failure_timeout)


def group_line(group: ResourceGroup) -> str:
    return " ".join((group.node, *(r.token for r in group.resources)))


@dataclass(frozen=True, slots=True)
class LocalFlags:
    """What this node says about itself besides its groups."""

    node: str
    seq: int
    instance: int
    joined: int
    leaving: bool
    standby: str
    wants: frozenset[str]
    standby_seq: int = 0
    last_change: LastChange | None = None
    boot: str = ""


def to_report(msg: NodeResources) -> NodeReport:
    groups = {g.key: GroupStatus(GroupState(g.state), g.fail_count, g.since, g.resources)
              for g in msg.groups}
    return NodeReport(instance=msg.instance, joined=msg.joined, groups=groups,
                      leaving=msg.leaving, standby=msg.standby, wants=frozenset(msg.wants),
                      standby_seq=msg.standby_seq, boot=msg.boot)


def local_message(flags: LocalFlags, local: LocalGroups,
                  failures: Sequence[FailedAction]) -> NodeResources:
    groups = []
    for key in local.keys:
        status = local.status(key)
        words = tuple(state.value for state in local.resources(key))
        groups.append(GroupReport(key, status.state.value, status.fail_count, status.since,
                                  words))
    return NodeResources(node=flags.node, seq=flags.seq, instance=flags.instance,
                         joined=flags.joined, leaving=flags.leaving, standby=flags.standby,
                         wants=tuple(sorted(flags.wants)), groups=tuple(groups),
                         failures=tuple(failures[-MAX_REPORTED_FAILURES:]),
                         standby_seq=flags.standby_seq, last_change=flags.last_change,
                         boot=flags.boot)


def _node_states(state: ClusterState, names: Iterable[str],
                 keys: Sequence[str]) -> list[NodeState]:
    out = []
    for name in names:
        info = state.node(name)
        standby = info.standby or ("all" if name in state.intents.standby else "")
        word = ("standby" if standby else "online") if info.member else "offline"
        unclean = (not info.member and info.member_since is not None
                   and any(info.may_hold(key, (key, name) in state.in_flight) for key in keys))
        out.append(NodeState(name, word, info.member, info.leaving, standby, unclean))
    return out


def pending(state: ClusterState, plan: Plan) -> list[str]:
    """Actions the plan wants now or that are under way (crm_resource --wait)."""
    out = [f"{type(a).__name__.lower()} {a.group} on {a.node}" for a in plan.actions
           if not isinstance(a, Fence)]
    out += [f"fence {a.node}" for a in plan.actions if isinstance(a, Fence)]
    for name in state.members:
        report = state.node(name).trusted_report
        if report is None:
            continue
        out += [f"{status.state.value} {key} on {name}" for key, status in report.groups.items()
                if status.state in (GroupState.STARTING, GroupState.STOPPING)]
    out += [f"start {key} on {node} (in flight)" for key, node in sorted(state.in_flight)]
    return out


def _resources(state: ClusterState, group: ResourceGroup) -> list[ResourceState]:
    holders = []
    for name in state.members:
        report = state.node(name).trusted_report
        if report is not None and report.group(group.key).state.active:
            holders.append((name, report.group(group.key)))
    out = []
    for index, spec in enumerate(group.resources):
        found = False
        for name, status in holders:
            words = status.resources
            word = words[index] if index < len(words) else "unknown"
            if word == "stopped":
                continue
            if word == "started" and status.state in (GroupState.STARTING, GroupState.STOPPING):
                word = status.state.value
            elif word == "unknown":
                word = "failed" if status.state is GroupState.FAILED else status.state.value
            out.append(ResourceState(spec.id, spec.token, group.key, spec.agent, word, name))
            found = True
        if not found:
            out.append(ResourceState(spec.id, spec.token, group.key, spec.agent, "stopped",
                                     None))
    return out


def _fail_counts(state: ClusterState, config: PolicyConfig,
                 failures: Mapping[str, Sequence[FailedAction]]) -> list[FailCount]:
    """Every non-zero fail count in the nodes' latest reports, with its last failure."""
    out = []
    for name in sorted(state.nodes):
        report = state.node(name).report
        if report is None:
            continue
        for group in config.groups:
            count = report.group(group.key).fail_count
            if count == 0:
                continue
            last = max((f.when for f in failures.get(name, ()) if f.group == group.key),
                       default=0.0)
            timeout = config.failure_timeout
            expires = last + timeout if timeout is not None and last else None
            out.append(FailCount(name, group.key, count, config.failure_threshold,
                                 count >= config.failure_threshold, last, expires))
    return out


def newest_change(changes: Iterable[LastChange | None]) -> LastChange | None:
    """The cluster's "Last change": the newest any node reported."""
    return max((c for c in changes if c is not None), key=lambda c: c.when, default=None)


def build_status(state: ClusterState, config: PolicyConfig, plan: Plan,
                 failures: Mapping[str, Sequence[FailedAction]],
                 notices: Sequence[str] = (),
                 last_change: LastChange | None = None) -> StatusResult:
    view = state.view
    names = sorted(set(config.nodes) | set(state.members))
    resources = [r for group in config.groups for r in _resources(state, group)]
    failed = [f for name in sorted(failures) for f in failures[name]]
    keys = [g.key for g in config.groups]
    return StatusResult(
        local=state.local, dc=plan.dc, instance=view.instance if view else None,
        members=state.members, quorate=view.quorate if view else False,
        formed=view is not None, stonith=config.stonith,
        nodes=tuple(_node_states(state, names, keys)),
        groups=tuple(keys), resources=tuple(resources),
        failed_actions=tuple(failed), notices=(*plan.notes, *notices),
        last_change=last_change, fail_counts=tuple(_fail_counts(state, config, failures)),
        failure_threshold=config.failure_threshold,
        maintenance=state.intents.maintenance, unmanaged=tuple(sorted(state.intents.unmanaged)),
        constraints=state.intents.constraints, pending=tuple(pending(state, plan)))
