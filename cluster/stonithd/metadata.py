"""``stonith -m -t TYPE``: a device type's metadata, as cluster-glue prints it.

The document is an OCF ``resource-agent`` (``ra-api-1.dtd``) named after the
type: long and short description, the parameters (one per configuration
name, all required, in positional order), the actions glue's stonith
resource agent offers, and the ``heartbeat`` special tag.  Built-in types
describe themselves here; ``external/NAME`` scripts are asked
(``getinfo-devdescr``, ``getinfo-devid``, ``getinfo-xml``) as glue asks them,
falling back to their configuration names; fence agents list theirs.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from cluster.stonithd.external import ExternalPlugin, find_external
from cluster.stonithd.outcome import Deadline, Outcome
from cluster.stonithd.registry import config_names, describe_type

__all__ = ["metadata_xml"]

#: What each built-in parameter means, for people reading the metadata.
_PARAMETERS = {
    "hostlist": ("Hosts", "The hosts this device can fence, separated by spaces or commas."),
    "serial_to_targets": ("Serial port and outlets",
                          "The serial device the switch is on (/dev/ttyS1), then NODE OUTLET "
                          "pairs: which outlet powers which node."),
}
_ACTIONS = (("start", "20", None), ("stop", "15", None), ("status", "20", None),
            ("monitor", "20", "3600"), ("meta-data", "15", None))


def _desc(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag, {"lang": "en"}).text = text


def _parameters(names: tuple[str, ...]) -> ET.Element:
    params = ET.Element("parameters")
    for name in names:
        short, long = _PARAMETERS.get(name, (name, f"The device's {name} setting."))
        param = ET.SubElement(params, "parameter", {"name": name, "unique": "0",
                                                    "required": "1"})
        ET.SubElement(param, "content", {"type": "string"})
        _desc(param, "shortdesc", short)
        _desc(param, "longdesc", long)
    return params


def _external_parameters(script: Path, deadline: Deadline) -> ET.Element | None:
    text = ExternalPlugin.info(script, "xml", deadline)
    if text is None:
        return None
    try:
        element = ET.fromstring(text)
    except ET.ParseError:
        return None
    return element if element.tag == "parameters" else None


def metadata_xml(device_type: str, conf_dir: Path | None, deadline: Deadline) -> str | Outcome:
    """The metadata document of ``device_type``, or why there is none."""
    names = config_names(device_type, conf_dir, deadline)
    if isinstance(names, Outcome):
        return names
    long = describe_type(device_type)
    short = f"{device_type} STONITH device"
    params: ET.Element | None = None
    script = (find_external(device_type.partition("/")[2], conf_dir)
              if device_type.startswith("external/") else None)
    if script is not None:
        long = ExternalPlugin.info(script, "devdescr", deadline) or long
        short = ExternalPlugin.info(script, "devid", deadline) or short
        params = _external_parameters(script, deadline)
    agent = ET.Element("resource-agent", {"name": device_type})
    ET.SubElement(agent, "version").text = "1.0"
    _desc(agent, "longdesc", long)
    _desc(agent, "shortdesc", short)
    agent.append(params if params is not None else _parameters(names))
    actions = ET.SubElement(agent, "actions")
    for name, timeout, interval in _ACTIONS:
        attrs = {"name": name, "timeout": timeout}
        if interval is not None:
            attrs["interval"] = interval
        ET.SubElement(actions, "action", attrs)
    special = ET.SubElement(agent, "special", {"tag": "heartbeat"})
    ET.SubElement(special, "version").text = "2.0"
    ET.indent(agent)
    return ('<?xml version="1.0"?>\n<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">\n'
            + ET.tostring(agent, encoding="unicode") + "\n")
