"""crm_status's renderers: crm_mon's text, Pacemaker's API XML (schema-checked), JSON, watch."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.bus.messages.crmd import (
    Constraint,
    FailCount,
    FailedAction,
    LastChange,
    NodeState,
    ResourceState,
    StatusResult,
)
from cluster.cli import cibadmin, crm_status
from cluster.cli.output import EXIT_NOT_RUNNING
from cluster.cli.status.cib import render_cib
from cluster.cli.status.json_out import render_json
from cluster.cli.status.pacemaker_xml import API_VERSION, render_xml
from cluster.cli.status.text import render_text
from cluster.cli.status.view import Sections, StatusView
from cluster.cli.status.watch import watch

SCHEMA = Path(f"/usr/share/pacemaker/api/api-result-{API_VERSION}.rng")
VIP = "IPaddr::10.0.0.1/24/eth0"
NOW = 1796304209.0              # Thu Dec  3 13:23:29 2026 UTC
FAILED_AT = NOW - 60


@pytest.fixture(autouse=True)
def _utc() -> Iterator[None]:
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def _status(**overrides: object) -> StatusResult:
    values: dict[str, object] = dict(
        local="node1", dc="node1", instance=3, members=("node1", "node2"), quorate=True,
        formed=True, stonith=False,
        nodes=(NodeState("node1", "online", True, False, "", False),
               NodeState("node2", "standby", True, False, "all", False),
               NodeState("node3", "offline", False, False, "", True)),
        groups=(VIP, "IPaddr::10.0.0.2"),
        resources=(ResourceState("IPaddr::10.0.0.1_24_eth0", VIP, VIP, "IPaddr", "started",
                                 "node1"),
                   ResourceState("httpd", "httpd", VIP, "httpd", "failed", "node1"),
                   ResourceState("IPaddr::10.0.0.2", "IPaddr::10.0.0.2", "IPaddr::10.0.0.2",
                                 "IPaddr", "stopped", None)),
        failed_actions=(FailedAction("node1", VIP, "httpd", "httpd", "monitor", 1.0,
                                     "not running", 7, "", FAILED_AT, 0.02),),
        notices=(),
        last_change=LastChange(NOW - 3600, "hb_standby", "node2"),
        fail_counts=(FailCount("node1", VIP, 2, 3, False, 0.0, None),), failure_threshold=3,
        constraints=(Constraint("cli-ban-web-on-node3", "ban", VIP, "node3", 0.0),))
    values.update(overrides)
    return StatusResult(**values)  # type: ignore[arg-type]


def _view(status: StatusResult | None = None, **sections: bool) -> StatusView:
    return StatusView(status or _status(), sections=Sections(**sections), now=NOW)


GOLDEN_TEXT = f"""\
Cluster Summary:
  * Stack: cluster (crmd is running)
  * Current DC: node1 - partition with quorum
  * Membership: instance 3, members [ node1 node2 ]
  * Last updated: Thu Dec  3 13:23:29 2026 on node1
  * Last change:  Thu Dec  3 12:23:29 2026 by hb_standby on node2
  * 3 nodes configured
  * 3 resource instances configured
  * STONITH: none configured (shared disks are not protected)

Node List:
  * Node node2: standby [all]
  * Node node3: UNCLEAN (offline)
  * Online: [ node1 ]

Full List of Resources:
  * Resource Group: {VIP}:
    * IPaddr::10.0.0.1_24_eth0\t(IPaddr):\t Started node1
    * httpd\t(httpd):\t FAILED node1
  * Resource Group: IPaddr::10.0.0.2:
    * IPaddr::10.0.0.2\t(IPaddr):\t Stopped

Migration Summary:
  * Node: node1:
    * {VIP}: migration-threshold=3 fail-count=2 last-failure='Thu Dec  3 13:22:29 2026'

Negative Location Constraints:
  * cli-ban-web-on-node3\tprevents {VIP} from running on node3

Failed Resource Actions:
  * httpd 1s-interval monitor on node1 returned 'not running' at Thu Dec  3 13:22:29 2026 \
after 20ms"""


def test_text_with_every_section_is_crm_mons_layout() -> None:
    assert render_text(_view(fail_counts=True, inactive=True, bans=True)) == GOLDEN_TEXT


def test_text_by_default_lists_active_resources_only() -> None:
    text = render_text(_view())
    assert "Active Resources:\n  * Resource Group: " + VIP + ":" in text
    assert "Stopped" not in text and "10.0.0.2" not in text
    assert "Migration Summary" not in text and "Negative Location" not in text
    nothing = _status(resources=(ResourceState("IPaddr::10.0.0.2", "IPaddr::10.0.0.2",
                                               "IPaddr::10.0.0.2", "IPaddr", "stopped", None),))
    assert "Active Resources:\n  * No active resources" in render_text(_view(nothing))


def _xmllint(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("xmllint") is None or not SCHEMA.exists():
        pytest.skip("needs xmllint (libxml2-utils) and Pacemaker's API schema "
                    "(pacemaker-common), which .ci/run installs")
    doc = tmp_path / "status.xml"
    doc.write_text(text, encoding="utf-8")
    return subprocess.run(["xmllint", "--noout", "--relaxng", str(SCHEMA), str(doc)],
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("status", [
    _status(),
    _status(dc=None, quorate=False, formed=False, instance=None, members=(),
            last_change=None, fail_counts=(), failed_actions=(), constraints=()),
    _status(failed_actions=(FailedAction("node1", VIP, "httpd", "httpd", "start", 0.0,
                                         "timed out", None, "killed after 20s", FAILED_AT,
                                         20.0),)),
    _status(resources=(ResourceState("httpd", "httpd", VIP, "httpd", "starting", "node2"),)),
], ids=["everything", "no-view", "timeout", "pending"])
def test_xml_is_valid_against_pacemakers_schema(status: StatusResult, tmp_path: Path) -> None:
    done = _xmllint(render_xml(_view(status, bans=True)), tmp_path)
    assert done.returncode == 0, done.stderr


def test_the_schema_check_catches_what_pacemaker_rejects(tmp_path: Path) -> None:
    root = ET.fromstring(render_xml(_view()))
    summary = root.find("summary")
    assert summary is not None
    ET.SubElement(summary, "membership", {"instance": "3"})     # what the old output had
    done = _xmllint(ET.tostring(root, encoding="unicode"), tmp_path)
    assert done.returncode != 0


def test_xml_carries_what_ha_cluster_exporter_reads() -> None:
    root = ET.fromstring(render_xml(_view()))
    assert root.get("api-version") == API_VERSION
    change = root.find("summary/last_change")
    assert change is not None and change.attrib == {
        "time": "Thu Dec  3 12:23:29 2026", "user": "", "client": "hb_standby",
        "origin": "node2"}
    assert time.mktime(time.strptime(change.attrib["time"], "%a %b %d %H:%M:%S %Y")) == \
        NOW - 3600
    options = root.find("summary/cluster_options")
    assert options is not None and options.get("stonith-enabled") == "false"
    nodes = {n.get("name"): n.attrib for n in root.iterfind("nodes/node")}
    assert nodes["node1"]["is_dc"] == "true" and nodes["node1"]["resources_running"] == "2"
    assert nodes["node2"]["standby"] == "true" and nodes["node2"]["online"] == "true"
    assert nodes["node3"]["online"] == "false" and nodes["node3"]["unclean"] == "true"
    groups = root.findall("resources/group")
    assert [g.get("id") for g in groups] == [VIP, "IPaddr::10.0.0.2"]
    httpd = root.find("resources/group/resource[@id='httpd']")
    assert httpd is not None and httpd.get("failed") == "true"
    stopped = groups[1].find("resource")
    assert stopped is not None and stopped.get("role") == "Stopped"
    assert stopped.get("active") == "false"
    history = root.find("node_history/node[@name='node1']/resource_history")
    assert history is not None and history.get("fail-count") == "2"
    assert history.get("migration-threshold") == "3" and history.get("id") == VIP
    ban = root.find("bans/ban")
    assert ban is not None and ban.get("node") == "node3"


def test_json_keeps_its_keys_and_adds_the_asked_sections() -> None:
    data = render_json(_view())
    assert list(data) == ["nodes", "resources", "membership", "failed_actions", "last_change",
                          "fail_counts", "constraints"]
    assert data["last_change"] == {"time": NOW - 3600, "tool": "hb_standby", "node": "node2"}
    data = render_json(_view(fail_counts=True, bans=True))
    assert data["fail_counts"] == [{"node": "node1", "group": VIP, "count": 2, "threshold": 3,
                                   "banned": False, "last_failure": None, "expires": None}]
    assert data["bans"] == [{"id": "cli-ban-web-on-node3", "group": VIP, "node": "node3",
                             "expires": None}]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_watch_redraws_a_bounded_number_of_times() -> None:
    pictures = iter(["one", "two", "three"])
    naps: list[float] = []
    out = io.StringIO()
    watch(lambda: next(pictures), 2.0, out, count=3, sleep=naps.append)
    assert out.getvalue() == "one\n\n\f\ntwo\n\n\f\nthree\n"
    assert naps == [2.0, 2.0]


def test_watch_on_a_terminal_restores_it_after_ctrl_c() -> None:
    def snapshot() -> str:
        return "picture"

    def interrupted(_seconds: float) -> None:
        raise KeyboardInterrupt

    out = _Tty()
    watch(snapshot, 1.0, out, sleep=interrupted)
    text = out.getvalue()
    assert text.startswith("\x1b[?1049h") and "picture" in text
    assert text.endswith("\x1b[?25h\x1b[?1049l")


def test_cib_has_what_ha_cluster_exporter_reads() -> None:
    root = ET.fromstring(render_cib(_status()))
    props = {p.get("name"): p.get("value")
             for p in root.iterfind("configuration/crm_config/cluster_property_set/nvpair")}
    assert props == {"cluster-infrastructure": "heartbeat", "stonith-enabled": "false",
                     "migration-threshold": "3"}
    assert [n.get("uname") for n in root.iterfind("configuration/nodes/node")] == [
        "node1", "node2", "node3"]
    standby = root.find("configuration/nodes/node[@uname='node2']/instance_attributes/nvpair")
    assert standby is not None and standby.get("value") == "on"
    web = root.find("configuration/resources/group")
    assert web is not None and web.get("id") == VIP
    assert [(p.get("id"), p.get("class"), p.get("type")) for p in web] == [
        ("IPaddr::10.0.0.1_24_eth0", "heartbeat", "IPaddr"), ("httpd", "heartbeat", "httpd")]
    ban = root.find("configuration/constraints/rsc_location")
    assert ban is not None and ban.attrib == {"id": "cli-ban-web-on-node3", "rsc": VIP,
                                              "node": "node3", "score": "-INFINITY"}


def test_watch_ends_on_sigterm_like_ctrl_c() -> None:
    def terminated(_seconds: float) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    out = _Tty()
    watch(lambda: "picture", 1.0, out, sleep=terminated)
    assert out.getvalue().endswith("\x1b[?25h\x1b[?1049l")
    assert signal.getsignal(signal.SIGTERM) == before


@pytest.mark.parametrize("argv", [["-X", "--inactive"], ["--output-as=xml", "-f", "-L"],
                                  ["-1", "-r"]])
def test_crm_mons_flags_are_accepted_and_no_stack_exits_12(
        tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert crm_status.main(["--run-dir", str(tmp_path), *argv]) == EXIT_NOT_RUNNING
    assert cibadmin.main(["--run-dir", str(tmp_path), "--query", "--local"]) == \
        EXIT_NOT_RUNNING
    err = capsys.readouterr().err
    assert "crm_status: the cluster stack is not running" in err
    assert "cibadmin: the cluster stack is not running" in err
