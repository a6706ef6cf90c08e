"""``cibadmin --query``: the configuration as a Pacemaker CIB, for tools that read one.

What ``ha_cluster_exporter`` reads (and what it makes gauges of): cluster
properties (``crm_config``), nodes with their standby attribute, resources
(each haresources group a ``group`` of ``primitive`` elements: OCF agents as
class/provider/type, the others as class ``heartbeat``), and moves and bans
as ``rsc_location`` constraints scored ``INFINITY`` and ``-INFINITY``.  The ``status`` section is
left empty: crm_status is the tool for state.  Ids keep the haresources
spelling, so this is a faithful picture, not a CIB to load into Pacemaker.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from cluster.bus.messages.crmd import StatusResult
from cluster.cli.status.pacemaker_xml import bool_word

__all__ = ["render_cib"]


def _nvpair(parent: ET.Element, owner: str, name: str, value: str) -> None:
    ET.SubElement(parent, "nvpair", {"id": f"{owner}-{name}", "name": name, "value": value})


def _primitive(parent: ET.Element, res_id: str, agent: str) -> None:
    attrs = {"id": res_id}
    if agent.startswith("ocf:"):
        _, provider, kind = agent.split(":", 2)
        attrs.update({"class": "ocf", "provider": provider, "type": kind})
    else:
        attrs.update({"class": "heartbeat", "type": agent})
    ET.SubElement(parent, "primitive", attrs)


def render_cib(status: StatusResult) -> str:
    root = ET.Element("cib", {"validate-with": "pacemaker-3.0", "epoch": "0",
                              "num_updates": "0", "admin_epoch": "0",
                              "have-quorum": "1" if status.quorate else "0",
                              "dc-uuid": status.dc or ""})
    config = ET.SubElement(root, "configuration")
    options = ET.SubElement(ET.SubElement(config, "crm_config"), "cluster_property_set",
                            {"id": "cib-bootstrap-options"})
    _nvpair(options, "cib-bootstrap-options", "cluster-infrastructure", "heartbeat")
    _nvpair(options, "cib-bootstrap-options", "stonith-enabled", bool_word(status.stonith))
    if status.maintenance:
        _nvpair(options, "cib-bootstrap-options", "maintenance-mode", "true")
    if status.failure_threshold:
        _nvpair(options, "cib-bootstrap-options", "migration-threshold",
                str(status.failure_threshold))
    nodes = ET.SubElement(config, "nodes")
    for node in status.nodes:
        element = ET.SubElement(nodes, "node", {"id": node.name, "uname": node.name})
        if node.standby:
            attrs = ET.SubElement(element, "instance_attributes", {"id": f"nodes-{node.name}"})
            _nvpair(attrs, f"nodes-{node.name}", "standby", "on")
    resources = ET.SubElement(config, "resources")
    for key in status.groups:
        group = ET.SubElement(resources, "group", {"id": key})
        seen: set[str] = set()
        for res in status.resources:
            if res.group == key and res.id not in seen:
                seen.add(res.id)
                _primitive(group, res.id, res.agent)
    constraints = ET.SubElement(config, "constraints")
    for rule in status.constraints:
        score = "-INFINITY" if rule.kind == "ban" else "INFINITY"
        ET.SubElement(constraints, "rsc_location", {"id": rule.id, "rsc": rule.group,
                                                    "node": rule.node, "score": score})
    ET.SubElement(root, "status")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")
