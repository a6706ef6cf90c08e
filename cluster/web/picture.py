"""The cluster as the page shows it: crmd's status and hbcomm's nodes as one JSON-able dict.

Pure: :func:`cluster_picture` turns the two bus answers into plain data (what
the browser renders and what /metrics counts), so the page, the metrics and
the timeline read the same facts.
"""

from __future__ import annotations

from typing import Any

from cluster.bus.messages.crmd import StatusResult
from cluster.bus.messages.hbcomm import NodesResult

Picture = dict[str, Any]

_ACTIVE = ("started", "starting", "stopping")


def group_holder(status: StatusResult, group: str) -> str | None:
    """The node where every resource of `group` is started, if there is one."""
    members = [r for r in status.resources if r.group == group]
    nodes = {r.node for r in members if r.state == "started"}
    if len(nodes) == 1 and all(r.state == "started" for r in members):
        return next(iter(nodes))
    return None


def _group_state(status: StatusResult, group: str) -> str:
    states = {r.state for r in status.resources if r.group == group}
    if states == {"started"}:
        return "started"
    if "failed" in states:
        return "failed"
    if states & set(_ACTIVE):
        return "moving"
    return "stopped"


def cluster_picture(status: StatusResult, nodes: NodesResult | None) -> Picture:
    """One snapshot of the cluster (see the module docstring)."""
    links = {n.name: n for n in nodes.nodes} if nodes is not None else {}
    node_rows = []
    for n in status.nodes:
        info = links.get(n.name)
        node_rows.append({
            "name": n.name, "state": n.state, "member": n.member, "standby": n.standby,
            "unclean": n.unclean, "leaving": n.leaving, "dc": n.name == status.dc,
            "heartbeat": info.status if info is not None else "unknown",
            "links": [{"name": link.name, "status": link.status}
                      for link in (info.links if info is not None else ())],
        })
    groups = []
    for key in status.groups:
        groups.append({
            "key": key, "state": _group_state(status, key), "node": group_holder(status, key),
            "resources": [{"id": r.id, "agent": r.agent, "state": r.state, "node": r.node}
                          for r in status.resources if r.group == key],
            "managed": key not in status.unmanaged,
            "constraints": [{"kind": c.kind, "node": c.node, "expires": c.expires}
                            for c in status.constraints if c.group == key],
        })
    return {
        "local": status.local, "dc": status.dc, "instance": status.instance,
        "quorate": status.quorate, "formed": status.formed, "stonith": status.stonith,
        "members": list(status.members), "nodes": node_rows, "groups": groups,
        "ping_nodes": [{"name": n.name, "status": n.status} for n in
                       (nodes.nodes if nodes is not None else ()) if n.type == "ping"],
        "maintenance": status.maintenance,
        "fail_counts": [{"node": f.node, "group": f.group, "count": f.count,
                         "banned": f.banned} for f in status.fail_counts],
        "failure_threshold": status.failure_threshold,
        "failed_actions": [{"node": f.node, "group": f.group, "resource": f.resource,
                            "action": f.action, "outcome": f.outcome, "rc": f.rc,
                            "when": f.when, "detail": f.detail}
                           for f in status.failed_actions],
        "notices": list(status.notices),
        "last_change": None if status.last_change is None else {
            "when": status.last_change.when, "tool": status.last_change.tool,
            "node": status.last_change.node},
    }
