"""``crm_mon --output-as=xml``: Pacemaker's API result, schema version 2.25.

Valid against ``api-result-2.25.rng`` (Debian bookworm's pacemaker-common
2.1.5 ships it: ``/usr/share/pacemaker/api/``); that version is what
``api-version`` says.  Mapping: a haresources group is a ``group``, its
resources ``resource`` elements with crm_mon's flags; a node's id is its name
(Heartbeat nodes have no numeric id); fail counts are per group, so
``node_history`` carries one ``resource_history`` per group with a fail count
(what ``ha_cluster_exporter`` turns into ``ha_cluster_pacemaker_fail_count``).
Inactive resources are always listed, as crm_mon does in XML.
``last_change`` uses ctime's format, which the exporter parses as Go's
``time.ANSIC``; its ``user`` is empty (requests do not carry one) and
``client`` is the tool.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from cluster.bus.messages.crmd import FailedAction, ResourceState
from cluster.cli.status.view import StatusView, ctime, is_active

__all__ = ["API_VERSION", "bool_word", "render_xml"]

API_VERSION = "2.25"
#: crm_mon's "INFINITY" for a ban's score.
_MINUS_INFINITY = "-1000000"
_ROLES = {"started": "Started", "starting": "Started", "stopping": "Started",
          "failed": "Started"}
_PENDING = {"starting": "Starting", "stopping": "Stopping"}


def bool_word(value: bool) -> str:
    return "true" if value else "false"


def _summary(root: ET.Element, view: StatusView) -> None:
    status = view.status
    summary = ET.SubElement(root, "summary")
    ET.SubElement(summary, "stack", {"type": "heartbeat"})
    if status.dc is not None:
        ET.SubElement(summary, "current_dc", {
            "present": "true", "version": "", "name": status.dc, "id": status.dc,
            "with_quorum": bool_word(status.quorate)})
    else:
        ET.SubElement(summary, "current_dc", {"present": "false"})
    ET.SubElement(summary, "last_update", {"time": ctime(view.now)})
    change = status.last_change
    ET.SubElement(summary, "last_change", {
        "time": ctime(change.when if change is not None else view.now), "user": "",
        "client": change.tool if change is not None else "",
        "origin": change.node if change is not None else ""})
    ET.SubElement(summary, "nodes_configured", {"number": str(len(status.nodes))})
    ET.SubElement(summary, "resources_configured", {
        "number": str(len(status.resources)), "disabled": "0", "blocked": "0"})
    ET.SubElement(summary, "cluster_options", {
        "stonith-enabled": bool_word(status.stonith), "symmetric-cluster": "true",
        "no-quorum-policy": "stop", "maintenance-mode": bool_word(status.maintenance),
        "stop-all-resources": "false", "stonith-timeout-ms": "0",
        "priority-fencing-delay-ms": "0"})


def _nodes(root: ET.Element, view: StatusView) -> None:
    nodes = ET.SubElement(root, "nodes")
    for node in view.status.nodes:
        ET.SubElement(nodes, "node", {
            "name": node.name, "id": node.name, "online": bool_word(node.member),
            "standby": bool_word(bool(node.standby)), "standby_onfail": "false",
            "maintenance": "false", "pending": "false", "unclean": bool_word(node.unclean),
            "shutdown": bool_word(node.leaving), "expected_up": bool_word(node.member),
            "is_dc": bool_word(node.name == view.status.dc),
            "resources_running": str(view.running_on(node.name)), "type": "member"})


def _resource(parent: ET.Element, res: ResourceState, managed: bool) -> None:
    attrs = {"id": res.id, "resource_agent": res.agent,
             "role": _ROLES.get(res.state, "Stopped"), "active": bool_word(is_active(res)),
             "orphaned": "false", "blocked": "false", "managed": bool_word(managed),
             "failed": bool_word(res.state == "failed"), "failure_ignored": "false",
             "nodes_running_on": "1" if res.node else "0"}
    if res.state in _PENDING:
        attrs["pending"] = _PENDING[res.state]
    element = ET.SubElement(parent, "resource", attrs)
    if res.node:
        ET.SubElement(element, "node", {"name": res.node, "id": res.node, "cached": "true"})


def _resources(root: ET.Element, view: StatusView) -> None:
    resources = ET.SubElement(root, "resources")
    for key in view.status.groups:
        members = view.members(key)
        group = ET.SubElement(resources, "group", {
            "id": key, "number_resources": str(len(members)),
            "managed": bool_word(view.managed(key)), "disabled": "false"})
        for res in members:
            _resource(group, res, view.managed(key))


def _node_history(root: ET.Element, view: StatusView) -> None:
    status = view.status
    history = ET.SubElement(root, "node_history")
    for name in view.fail_count_nodes():
        node = ET.SubElement(history, "node", {"name": name})
        for count in (c for c in status.fail_counts if c.node == name):
            attrs = {"id": count.group, "orphan": "false",
                     "migration-threshold": str(status.failure_threshold),
                     "fail-count": str(count.count)}
            last = view.last_failure(name, count.group)
            if last is not None:
                attrs["last-failure"] = ctime(last.when)
            ET.SubElement(node, "resource_history", attrs)


def _failure(parent: ET.Element, failed: FailedAction) -> None:
    interval_ms = int(failed.interval * 1000)
    ET.SubElement(parent, "failure", {
        "op_key": f"{failed.resource}_{failed.action}_{interval_ms}", "node": failed.node,
        "exitstatus": failed.outcome, "exitreason": failed.detail,
        "exitcode": str(failed.rc if failed.rc is not None and failed.rc >= 0 else 1),
        "call": "0", "status": "Timed Out" if failed.outcome == "timed out" else "complete",
        "last-rc-change": ctime(failed.when), "queued": "0",
        "exec": str(int(failed.duration * 1000)), "interval": str(interval_ms),
        "task": failed.action})


def _bans(root: ET.Element, view: StatusView) -> None:
    bans = ET.SubElement(root, "bans")
    for ban in view.bans():
        ET.SubElement(bans, "ban", {
            "id": ban.id, "resource": ban.group, "node": ban.node, "weight": _MINUS_INFINITY,
            "promoted-only": "false", "master_only": "false"})


def render_xml(view: StatusView, request: str = "crm_status --output-as=xml") -> str:
    root = ET.Element("pacemaker-result", {"api-version": API_VERSION, "request": request})
    _summary(root, view)
    _nodes(root, view)
    _resources(root, view)
    if view.status.fail_counts:
        _node_history(root, view)
    if view.status.failed_actions:
        failures = ET.SubElement(root, "failures")
        for failed in view.status.failed_actions:
            _failure(failures, failed)
    if view.sections.bans or view.bans():
        _bans(root, view)
    ET.SubElement(root, "status", {"code": "0", "message": "OK"})
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")
