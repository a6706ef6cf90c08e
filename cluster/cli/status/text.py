"""``crm_mon -1`` text: Cluster Summary, Node List, resources, optional sections.

Sections in crm_mon's order: the summary, the node list, "Active Resources"
(or "Full List of Resources" with ``-r``, which also lists stopped ones),
ping nodes and Mon services (ours), notices (why something cannot run),
"Migration Summary" (``-f``, or whenever a group is banned by failures),
the operator's moves and bans ("Negative Location Constraints" with ``-L``,
as crm_mon; without it, any there are, so nobody forgets one), "Failed
Resource Actions".
"""

from __future__ import annotations

from cluster.bus.messages.crmd import Constraint, FailCount, FailedAction, ResourceState
from cluster.cli.status.view import StatusView, ctime, is_active

__all__ = ["group_lines", "render_text"]

_WORDS = {"started": "Started", "stopped": "Stopped", "failed": "FAILED",
          "starting": "Starting", "stopping": "Stopping"}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def _interval(seconds: float) -> str:
    if seconds <= 0:
        return ""
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{int(seconds * 1000)}ms"


def _failed_line(failed: FailedAction) -> str:
    interval = _interval(failed.interval)
    prefix = f"{interval}-interval " if interval else ""
    detail = f" ({failed.detail})" if failed.detail else ""
    return (f"{failed.resource} {prefix}{failed.action} on {failed.node} returned "
            f"'{failed.outcome}'{detail} at {ctime(failed.when)} after "
            f"{int(failed.duration * 1000)}ms")


def _summary(view: StatusView) -> list[str]:
    status = view.status
    quorum = "partition with quorum" if status.quorate else "partition WITHOUT quorum"
    lines = ["Cluster Summary:", "  * Stack: cluster (crmd is running)",
             f"  * Current DC: {status.dc or 'NONE'}"
             + (f" - {quorum}" if status.formed else "")]
    if status.formed:
        lines.append(f"  * Membership: instance {status.instance}, "
                     f"members [ {' '.join(status.members)} ]")
    else:
        lines.append("  * Membership: not formed yet")
    lines.append(f"  * Last updated: {ctime(view.now)} on {status.local}")
    change = status.last_change
    if change is not None:
        lines.append(f"  * Last change:  {ctime(change.when)} by {change.tool} "
                     f"on {change.node}")
    lines.append(f"  * {_plural(len(status.nodes), 'node')} configured")
    count = len({(r.group, r.id) for r in status.resources})
    lines.append(f"  * {_plural(count, 'resource instance')} configured")
    if not status.stonith:
        lines.append("  * STONITH: none configured (shared disks are not protected)")
    if status.maintenance:
        lines += ["", "              *** Resource management is DISABLED ***",
                  "  The cluster will not attempt to start, stop or recover services"]
    return lines


def _nodes(view: StatusView) -> list[str]:
    lines = ["", "Node List:"]
    for node in view.status.nodes:
        if node.state == "standby":
            lines.append(f"  * Node {node.name}: standby [{node.standby}]")
        elif node.state == "online" and node.leaving:
            lines.append(f"  * Node {node.name}: online (shutting down)")
        elif node.state == "offline" and node.unclean:
            lines.append(f"  * Node {node.name}: UNCLEAN (offline)")
    online = [n.name for n in view.status.nodes if n.state == "online" and not n.leaving]
    offline = [n.name for n in view.status.nodes if n.state == "offline" and not n.unclean]
    if online:
        lines.append(f"  * Online: [ {' '.join(online)} ]")
    if offline:
        lines.append(f"  * OFFLINE: [ {' '.join(offline)} ]")
    return lines


def _resource_line(res: ResourceState, managed: bool) -> str:
    where = f" {res.node}" if res.node else ""
    flag = "" if managed else " (unmanaged)"
    return f"    * {res.id}\t({res.agent}):\t {_WORDS.get(res.state, res.state)}{where}{flag}"


def group_lines(view: StatusView, inactive: bool = True) -> list[str]:
    """Groups and their resources as crm_mon lists them (also ``crm_resource --list``)."""
    lines = []
    for key in view.status.groups:
        members = [r for r in view.members(key) if inactive or is_active(r)]
        if members:
            lines.append(f"  * Resource Group: {key}:")
            lines += [_resource_line(r, view.managed(key)) for r in members]
    return lines


def _resources(view: StatusView) -> list[str]:
    inactive = view.sections.inactive
    lines = ["", "Full List of Resources:" if inactive else "Active Resources:"]
    shown = group_lines(view, inactive)
    lines += shown
    if not shown:
        lines.append("  * No resources" if inactive else "  * No active resources")
    return lines


def _extras(view: StatusView) -> list[str]:
    lines: list[str] = []
    if view.extras.ping_nodes:
        lines += ["", "Ping Nodes:"]
        for node in view.extras.ping_nodes:
            state = "reachable" if node.status == "ping" else "UNREACHABLE"
            lines.append(f"  * {node.name}: {state}")
    if view.extras.monitors:
        lines += ["", "Service Monitors:"]
        for svc in view.extras.monitors:
            summary = f" ({svc.summary})" if svc.summary and svc.status == "failed" else ""
            lines.append(f"  * {svc.watch}/{svc.service}: {svc.status}{summary}")
    return lines


def _migration_summary(view: StatusView) -> list[str]:
    status = view.status
    lines = ["", "Migration Summary:"]
    for node in view.fail_count_nodes():
        lines.append(f"  * Node: {node}:")
        for count in (c for c in status.fail_counts if c.node == node):
            last = view.last_failure(node, count.group)
            when = count.last_failure or (last.when if last is not None else 0.0)
            since = f" last-failure='{ctime(when)}'" if when else ""
            lines.append(f"    * {count.group}: migration-threshold={count.threshold}"
                         f" fail-count={count.count}{since}{_ban_note(count)}")
    return lines


def _ban_note(count: FailCount) -> str:
    """Why the group may not run there, and until when (failure_timeout or a cleanup)."""
    if not count.banned:
        return ""
    if count.expires is not None:
        return f" (banned until {ctime(count.expires)}, failure_timeout)"
    return " (banned until a cleanup)"


def _constraint_line(c: Constraint) -> str:
    what = (f"prevents {c.group} from running on {c.node}" if c.kind == "ban"
            else f"moves {c.group} to {c.node}")
    until = f" until {ctime(c.expires)}" if c.expires else ""
    return f"  * {c.id}\t{what}{until}"


def _constraints(view: StatusView) -> list[str]:
    """crm_mon -L lists the bans; without -L every move and ban is shown when any exists."""
    if view.sections.bans:
        return ["", "Negative Location Constraints:",
                *(_constraint_line(c) for c in view.bans())]
    if not view.status.constraints:
        return []
    return ["", "Location Constraints (crm_resource --move/--ban):",
            *(_constraint_line(c) for c in view.status.constraints)]


def render_text(view: StatusView) -> str:
    status = view.status
    lines = _summary(view) + _nodes(view) + _resources(view) + _extras(view)
    if status.notices:
        lines += ["", "Notices:"] + [f"  * {notice}" for notice in status.notices]
    if view.sections.fail_counts or any(c.banned for c in status.fail_counts):
        lines += _migration_summary(view)
    lines += _constraints(view)
    if status.failed_actions:
        lines += ["", "Failed Resource Actions:"]
        lines += [f"  * {_failed_line(f)}" for f in status.failed_actions]
    return "\n".join(lines)
