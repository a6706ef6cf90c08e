"""``stonith -m -t TYPE``: cluster-glue's metadata document for every type we offer."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cluster.cli import stonith
from cluster.stonithd.metadata import metadata_xml
from cluster.stonithd.outcome import Code, Deadline, Outcome
from cluster.stonithd.registry import BUILTIN_TYPES

PLUGIN = """\
#!/bin/sh
case $1 in
getconfignames) echo ipaddr; echo secret ;;
getinfo-devid) echo "Example PDU" ;;
getinfo-devdescr) echo "An example power switch & its outlets" ;;
getinfo-xml) cat <<XML
<parameters>
<parameter name="ipaddr" unique="1" required="1">
<content type="string" />
<shortdesc lang="en">Address</shortdesc>
</parameter>
</parameters>
XML
;;
*) exit 1 ;;
esac
"""
BARE = "#!/bin/sh\n[ \"$1\" = getconfignames ] && echo hostlist\nexit 0\n"


def _install(conf: Path, name: str, text: str) -> None:
    directory = conf / "stonith" / "external"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text)
    (directory / name).chmod(0o755)


def _parse(document: str | Outcome) -> ET.Element:
    assert isinstance(document, str), document
    head, _, body = document.partition("<resource-agent")
    assert head == '<?xml version="1.0"?>\n<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">\n'
    return ET.fromstring("<resource-agent" + body)


@pytest.mark.parametrize("device_type", sorted(BUILTIN_TYPES))
def test_every_builtin_type_has_glues_metadata_shape(device_type: str) -> None:
    agent = _parse(metadata_xml(device_type, None, Deadline(5.0)))
    assert agent.get("name") == device_type
    assert agent.findtext("version") == "1.0"
    assert agent.findtext("shortdesc") == f"{device_type} STONITH device"
    assert agent.findtext("longdesc") == BUILTIN_TYPES[device_type][2]
    params = [p.get("name") for p in agent.iterfind("parameters/parameter")]
    assert params == list(BUILTIN_TYPES[device_type][0])
    for param in agent.iterfind("parameters/parameter"):
        assert param.get("required") == "1"
        assert param.find("content") is not None and param.findtext("longdesc")
    actions = {a.get("name"): a.attrib for a in agent.iterfind("actions/action")}
    assert set(actions) == {"start", "stop", "status", "monitor", "meta-data"}
    assert actions["monitor"]["interval"] == "3600"
    assert agent.findtext("special[@tag='heartbeat']/version") == "2.0"


@pytest.mark.slow
def test_an_external_plugin_describes_itself(tmp_path: Path) -> None:
    _install(tmp_path, "pdu", PLUGIN)
    agent = _parse(metadata_xml("external/pdu", tmp_path, Deadline(10.0)))
    assert agent.findtext("shortdesc") == "Example PDU"
    assert agent.findtext("longdesc") == "An example power switch & its outlets"
    assert [p.get("name") for p in agent.iterfind("parameters/parameter")] == ["ipaddr"]


@pytest.mark.slow
def test_a_plugin_without_getinfo_falls_back_to_its_config_names(tmp_path: Path) -> None:
    _install(tmp_path, "bare", BARE)
    agent = _parse(metadata_xml("external/bare", tmp_path, Deadline(10.0)))
    assert agent.findtext("shortdesc") == "external/bare STONITH device"
    assert [p.get("name") for p in agent.iterfind("parameters/parameter")] == ["hostlist"]


def test_the_cli_prints_it_and_refuses_an_unknown_type(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert stonith.main(["-t", "meatware", "-m"]) == 0
    assert _parse(capsys.readouterr().out).get("name") == "meatware"
    assert stonith.main(["-t", "nosuch", "-m"]) == int(Code.BADCONFIG)
    assert "unknown device type 'nosuch'" in capsys.readouterr().err
