"""``crm_status``: cluster status for people and scripts (like ``crm_mon -1``).

One GetStatus request to the local crmd, answered from memory (no agent is
run), printed as ``crm_mon -1`` text, as JSON (``--output-as=json``: exactly
``nodes``, ``resources``, ``membership``, ``failed_actions``) or as XML shaped
like ``crm_mon --output-as=xml`` where the concepts match.  When the stack is
not running the tool says so on stderr and exits 12 (cl_status's timeout
code), never printing a partial picture.
"""

from __future__ import annotations

import argparse
import contextlib
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cluster.bus.client import BusError, request
from cluster.bus.messages.crmd import FailedAction, GetStatus, StatusResult
from cluster.bus.messages.hbcomm import GetNodes, NodeInfo, NodesResult
from cluster.bus.messages.mon import MonServiceStatus, get_mon_status
from cluster.cli.output import EXIT_OK, emit_json, run_tool
from cluster.runtime.paths import add_run_dir_argument

TOOL = "crm_status"
_TIMEOUT = 2.0
_EXTRA_TIMEOUT = 0.5   # ping nodes and monitors are extras: never hold the answer up


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=TOOL, description="Show the cluster's status.")
    add_run_dir_argument(parser)
    parser.add_argument("--output-as", choices=("text", "json", "xml"), default="text")
    parser.add_argument("-1", "--one-shot", action="store_true",
                        help="print once and exit (the only mode; accepted for crm_mon users)")
    return parser


def _interval(seconds: float) -> str:
    if seconds <= 0:
        return ""
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{int(seconds * 1000)}ms"


def _action_name(failed: FailedAction) -> str:
    return "probe" if failed.action == "probe" else failed.action


def _failed_line(failed: FailedAction) -> str:
    interval = _interval(failed.interval)
    prefix = f"{interval}-interval " if interval else ""
    when = time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(failed.when))
    detail = f" ({failed.detail})" if failed.detail else ""
    return (f"{failed.resource} {prefix}{_action_name(failed)} on {failed.node} returned "
            f"'{failed.outcome}'{detail} at {when} after {int(failed.duration * 1000)}ms")


@dataclass(frozen=True, slots=True)
class Extras:
    """What other daemons add to the picture: ping nodes (hbcomm), service monitors (mon)."""

    ping_nodes: tuple[NodeInfo, ...] = ()
    monitors: tuple[MonServiceStatus, ...] = ()


def gather_extras(run_dir: Path) -> Extras:
    """Ping nodes and Mon services, when those daemons run here; never fails the tool."""
    ping: tuple[NodeInfo, ...] = ()
    monitors: tuple[MonServiceStatus, ...] = ()
    try:
        nodes = request(run_dir, "hbcomm", GetNodes(), timeout=_EXTRA_TIMEOUT)
        if isinstance(nodes, NodesResult):
            ping = tuple(n for n in nodes.nodes if n.type == "ping")
    except BusError:
        pass
    with contextlib.suppress(BusError):
        monitors = get_mon_status(run_dir, timeout=_EXTRA_TIMEOUT).services
    return Extras(ping, monitors)


def _extras_text(extras: Extras) -> list[str]:
    lines: list[str] = []
    if extras.ping_nodes:
        lines += ["", "Ping Nodes:"]
        for node in extras.ping_nodes:
            state = "reachable" if node.status == "ping" else "UNREACHABLE"
            lines.append(f"  * {node.name}: {state}")
    if extras.monitors:
        lines += ["", "Service Monitors:"]
        for svc in extras.monitors:
            summary = f" ({svc.summary})" if svc.summary and svc.status == "failed" else ""
            lines.append(f"  * {svc.watch}/{svc.service}: {svc.status}{summary}")
    return lines


def _extras_json(extras: Extras) -> dict[str, Any]:
    return {
        "ping_nodes": [{"name": n.name, "state": "up" if n.status == "ping" else "dead"}
                       for n in extras.ping_nodes],
        "monitors": [{"watch": m.watch, "service": m.service, "status": m.status,
                      "summary": m.summary, "last_failure": m.last_failure}
                     for m in extras.monitors],
    }


def resource_lines(status: StatusResult) -> list[str]:
    """Groups and their resources as crm_mon lists them (also ``crm_resource --list``)."""
    lines = []
    for key in status.groups:
        lines.append(f"  * Resource Group: {key}:")
        managed = "" if key not in status.unmanaged and not status.maintenance \
            else " (unmanaged)"
        for res in (r for r in status.resources if r.group == key):
            word = {"started": "Started", "stopped": "Stopped", "failed": "FAILED",
                    "starting": "Starting", "stopping": "Stopping"}.get(res.state, res.state)
            where = f" {res.node}" if res.node else ""
            lines.append(f"    * {res.id}\t({res.agent}):\t {word}{where}{managed}")
    return lines


def constraint_lines(status: StatusResult) -> list[str]:
    """crm_resource's moves and bans (crm_mon -L shows the bans as below)."""
    if not status.constraints:
        return []
    lines = ["", "Location Constraints (crm_resource --move/--ban):"]
    for c in status.constraints:
        until = (f" until {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(c.expires))}"
                 if c.expires else "")
        what = (f"prevents {c.group} from running on {c.node}" if c.kind == "ban"
                else f"moves {c.group} to {c.node}")
        lines.append(f"  * {c.id}\t{what}{until}")
    return lines


def render_text(status: StatusResult, extras: Extras | None = None) -> str:
    quorum = "partition with quorum" if status.quorate else "partition WITHOUT quorum"
    lines = ["Cluster Summary:", "  * Stack: cluster (crmd is running)",
             f"  * Current DC: {status.dc or 'NONE'}"
             + (f" - {quorum}" if status.formed else "")]
    if status.formed:
        lines.append(f"  * Membership: instance {status.instance}, "
                     f"members [ {' '.join(status.members)} ]")
    else:
        lines.append("  * Membership: not formed yet")
    lines.append(f"  * Last updated: {time.strftime('%a %b %d %H:%M:%S %Y')} "
                 f"on {status.local}")
    count = len(status.nodes)
    lines.append(f"  * {count} node{'s' if count != 1 else ''} configured")
    count = len({(r.group, r.id) for r in status.resources})
    lines.append(f"  * {count} resource instance{'s' if count != 1 else ''} configured")
    if not status.stonith:
        lines.append("  * STONITH: none configured (shared disks are not protected)")
    if status.maintenance:
        lines += ["", "              *** Resource management is DISABLED ***",
                  "  The cluster will not attempt to start, stop or recover services"]
    lines += ["", "Node List:"]
    for node in status.nodes:
        if node.state == "standby":
            lines.append(f"  * Node {node.name}: standby [{node.standby}]")
        elif node.state == "online" and node.leaving:
            lines.append(f"  * Node {node.name}: online (shutting down)")
        elif node.state == "offline" and node.unclean:
            lines.append(f"  * Node {node.name}: UNCLEAN (offline)")
    online = [n.name for n in status.nodes if n.state == "online" and not n.leaving]
    offline = [n.name for n in status.nodes if n.state == "offline" and not n.unclean]
    if online:
        lines.append(f"  * Online: [ {' '.join(online)} ]")
    if offline:
        lines.append(f"  * OFFLINE: [ {' '.join(offline)} ]")
    lines += ["", "Full List of Resources:", *resource_lines(status)]
    lines += constraint_lines(status)
    lines += _extras_text(extras or Extras())
    if status.notices:
        lines += ["", "Notices:"] + [f"  * {notice}" for notice in status.notices]
    if status.failed_actions:
        lines += ["", "Failed Resource Actions:"]
        lines += [f"  * {_failed_line(f)}" for f in status.failed_actions]
    return "\n".join(lines)


def _failed_json(failed: FailedAction) -> dict[str, Any]:
    return {"resource": failed.resource, "group": failed.group, "node": failed.node,
            "action": failed.action, "interval": failed.interval, "outcome": failed.outcome,
            "rc": failed.rc, "detail": failed.detail, "time": failed.when,
            "duration": failed.duration}


def render_json(status: StatusResult, extras: Extras | None = None) -> dict[str, Any]:
    """The four documented keys, then ping_nodes and monitors when there are any."""
    data = {
        "nodes": [{"name": n.name, "state": n.state} for n in status.nodes],
        "resources": [{"id": r.id, "group": r.group, "agent": r.agent,
                       "state": r.state if r.state in ("started", "stopped") else
                       ("started" if r.state in ("starting", "stopping") else "failed"),
                       "node": r.node} for r in status.resources],
        "membership": {"instance": status.instance, "members": list(status.members),
                       "quorate": status.quorate},
        "failed_actions": [_failed_json(f) for f in status.failed_actions],
    }
    if extras is not None and (extras.ping_nodes or extras.monitors):
        data.update(_extras_json(extras))
    return data


def _bool(value: bool) -> str:
    return "true" if value else "false"


def render_xml(status: StatusResult) -> str:
    root = ET.Element("pacemaker-result", {"api-version": "2.x",
                                           "request": "crm_status --output-as=xml"})
    summary = ET.SubElement(root, "summary")
    ET.SubElement(summary, "stack", {"type": "cluster", "pacemakerd-state": "running"})
    ET.SubElement(summary, "current_dc", {
        "present": _bool(status.dc is not None), "name": status.dc or "",
        "with_quorum": _bool(status.quorate)})
    ET.SubElement(summary, "membership", {"instance": str(status.instance or 0),
                                          "members": " ".join(status.members)})
    ET.SubElement(summary, "nodes_configured", {"number": str(len(status.nodes))})
    ET.SubElement(summary, "resources_configured", {"number": str(len(status.resources))})
    ET.SubElement(summary, "cluster_options", {"stonith-enabled": _bool(status.stonith),
                                               "no-quorum-policy": "stop"})
    nodes = ET.SubElement(root, "nodes")
    for node in status.nodes:
        running = sum(1 for r in status.resources if r.node == node.name)
        ET.SubElement(nodes, "node", {
            "name": node.name, "online": _bool(node.member), "standby": _bool(bool(node.standby)),
            "unclean": _bool(node.unclean), "shutdown": _bool(node.leaving),
            "is_dc": _bool(node.name == status.dc), "resources_running": str(running),
            "type": "member"})
    resources = ET.SubElement(root, "resources")
    for key in status.groups:
        members = [r for r in status.resources if r.group == key]
        group = ET.SubElement(resources, "group", {"id": key,
                                                   "number_resources": str(len(members))})
        for res in members:
            role = "Started" if res.state in ("started", "starting", "stopping") else "Stopped"
            element = ET.SubElement(group, "resource", {
                "id": res.id, "resource_agent": res.agent, "role": role,
                "active": _bool(res.node is not None), "failed": _bool(res.state == "failed"),
                "managed": "true", "nodes_running_on": "1" if res.node else "0"})
            if res.node:
                ET.SubElement(element, "node", {"name": res.node})
    if status.failed_actions:
        failures = ET.SubElement(root, "failures")
        for failed in status.failed_actions:
            ET.SubElement(failures, "failure", {
                "op_key": f"{failed.resource}_{failed.action}_{int(failed.interval * 1000)}",
                "node": failed.node, "exitstatus": failed.outcome, "exitreason": failed.detail,
                "exitcode": str(failed.rc if failed.rc is not None else ""),
                "interval": str(int(failed.interval * 1000)), "task": failed.action,
                "last-rc-change": time.strftime("%Y-%m-%d %H:%M:%S",
                                                time.localtime(failed.when))})
    ET.SubElement(root, "status", {"code": "0", "message": "OK"})
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def body() -> int:
        status = request(args.run_dir, "crmd", GetStatus(), timeout=_TIMEOUT)
        assert isinstance(status, StatusResult)
        if args.output_as == "xml":
            print('<?xml version="1.0"?>')
            print(render_xml(status))
            return EXIT_OK
        extras = gather_extras(args.run_dir)
        if args.output_as == "json":
            emit_json(render_json(status, extras))
        else:
            print(render_text(status, extras))
        return EXIT_OK

    return run_tool(TOOL, body)


if __name__ == "__main__":
    raise SystemExit(main())
