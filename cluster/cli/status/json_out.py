"""``crm_status --output-as=json``: our own stable shape for scripts.

Exactly ``nodes``, ``resources``, ``membership``, ``failed_actions``; then
``ping_nodes`` and ``monitors`` when there are any, ``last_change`` when
known, ``fail_counts`` when any (or with ``-f``), ``bans`` with ``-L``;
``maintenance``, ``unmanaged`` and ``constraints`` (moves and bans) when set.
"""

from __future__ import annotations

from typing import Any

from cluster.bus.messages.crmd import FailedAction, ResourceState
from cluster.cli.status.view import StatusView

__all__ = ["render_json"]


def _failed(failed: FailedAction) -> dict[str, Any]:
    return {"resource": failed.resource, "group": failed.group, "node": failed.node,
            "action": failed.action, "interval": failed.interval, "outcome": failed.outcome,
            "rc": failed.rc, "detail": failed.detail, "time": failed.when,
            "duration": failed.duration}


def _state(res: ResourceState) -> str:
    if res.state in ("started", "stopped"):
        return res.state
    return "started" if res.state in ("starting", "stopping") else "failed"


def render_json(view: StatusView) -> dict[str, Any]:
    status, extras = view.status, view.extras
    data: dict[str, Any] = {
        "nodes": [{"name": n.name, "state": n.state} for n in status.nodes],
        "resources": [{"id": r.id, "group": r.group, "agent": r.agent, "state": _state(r),
                       "node": r.node} for r in status.resources],
        "membership": {"instance": status.instance, "members": list(status.members),
                       "quorate": status.quorate},
        "failed_actions": [_failed(f) for f in status.failed_actions],
    }
    if extras.ping_nodes or extras.monitors:
        data["ping_nodes"] = [{"name": n.name, "state": "up" if n.status == "ping" else "dead"}
                              for n in extras.ping_nodes]
        data["monitors"] = [{"watch": m.watch, "service": m.service, "status": m.status,
                             "summary": m.summary, "last_failure": m.last_failure}
                            for m in extras.monitors]
    if status.last_change is not None:
        change = status.last_change
        data["last_change"] = {"time": change.when, "tool": change.tool, "node": change.node}
    if view.sections.fail_counts or status.fail_counts:
        data["fail_counts"] = [{"node": c.node, "group": c.group, "count": c.count,
                                "threshold": c.threshold, "banned": c.banned,
                                "last_failure": c.last_failure or None, "expires": c.expires}
                               for c in status.fail_counts]
    if view.sections.bans:
        data["bans"] = [{"id": b.id, "group": b.group, "node": b.node,
                         "expires": b.expires or None} for b in view.bans()]
    if status.maintenance:
        data["maintenance"] = True
    if status.unmanaged:
        data["unmanaged"] = list(status.unmanaged)
    if status.constraints:
        data["constraints"] = [{"id": c.id, "kind": c.kind, "group": c.group, "node": c.node,
                                "expires": c.expires or None} for c in status.constraints]
    return data
