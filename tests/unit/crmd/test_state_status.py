"""Status snapshots and the operator tools' edges: crm_status, hb_standby, hb_takeover."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cluster.bus.messages.crmd import FailedAction, NodeState, ResourceState, StatusResult
from cluster.cli import crm_status, hb_standby
from cluster.cli.output import EXIT_NOT_RUNNING
from cluster.cli.status.json_out import render_json
from cluster.cli.status.pacemaker_xml import render_xml
from cluster.cli.status.text import render_text
from cluster.cli.status.view import Extras, StatusView
from cluster.config.haresources import parse_haresources
from cluster.crmd.localnode import monitor_interval, resolve_target
from cluster.crmd.moves import LEGACY_REFUSAL, Refused, plan_standby, plan_takeover
from cluster.crmd.policy import Plan, PolicyConfig
from cluster.crmd.report import build_status
from cluster.crmd.state import ClusterState, GroupState, GroupStatus, NodeInfo, NodeReport, View

GROUPS = parse_haresources("node1 IPaddr::10.0.0.1/24/eth0 httpd\nnode2 10.0.0.2 nfs\n",
                           "haresources", ("node1", "node2"))
G1, G2 = GROUPS[0].key, GROUPS[1].key


def _state(g1_on: str | None = "node1", standby: str = "") -> ClusterState:
    view = View(4, frozenset({"node1", "node2"}))
    def report(name: str) -> NodeReport:
        groups = {}
        if g1_on == name:
            groups[G1] = GroupStatus(GroupState.STARTED, 0, 1, ("started", "started"))
        return NodeReport(4, 1, groups, standby=standby if name == "node1" else "")
    nodes = {n: NodeInfo(n, member=True, member_since=1, report=report(n))
             for n in ("node1", "node2")}
    return ClusterState("node1", 10.0, view, nodes)


def _config(auto_failback: str = "off") -> PolicyConfig:
    return PolicyConfig(GROUPS, ("node1", "node2"), auto_failback)


def test_build_status_lists_every_resource_once() -> None:
    status = build_status(_state(), _config(), Plan("node1", 4, notes=("a note",)), {},
                          ("fencing note",))
    assert [(r.id, r.state, r.node) for r in status.resources] == [
        ("IPaddr::10.0.0.1_24_eth0", "started", "node1"), ("httpd", "started", "node1"),
        ("IPaddr::10.0.0.2", "stopped", None), ("nfs", "stopped", None)]
    assert status.groups == (G1, G2)
    assert status.notices == ("a note", "fencing note")
    assert [n.state for n in status.nodes] == ["online", "online"]


def test_build_status_shows_standby() -> None:
    status = build_status(_state(standby="all"), _config(), Plan("node1", 4), {})
    assert [(n.name, n.state, n.standby) for n in status.nodes] == [
        ("node1", "standby", "all"), ("node2", "online", "")]


def _status(**overrides: object) -> StatusResult:
    values: dict[str, object] = dict(
        local="node1", dc="node1", instance=3, members=("node1",), quorate=True, formed=True,
        stonith=False,
        nodes=(NodeState("node1", "online", True, False, "", False),
               NodeState("node2", "offline", False, False, "", False)),
        groups=("g",),
        resources=(ResourceState("g", "g", "g", "IPaddr", "failed", "node1"),),
        failed_actions=(FailedAction("node1", "g", "g", "IPaddr", "monitor", 1.0,
                                     "not running", 7, "", 0.0, 0.02),),
        notices=())
    values.update(overrides)
    return StatusResult(**values)  # type: ignore[arg-type]


def test_text_output_has_the_crm_mon_sections() -> None:
    text = render_text(StatusView(_status()))
    assert "Current DC: node1 - partition with quorum" in text
    assert "Membership: instance 3, members [ node1 ]" in text
    assert "2 nodes configured" in text
    assert "Online: [ node1 ]" in text
    assert "OFFLINE: [ node2 ]" in text
    assert "g\t(IPaddr):\t FAILED node1" in text
    assert "Failed Resource Actions:" in text
    assert "g 1s-interval monitor on node1 returned 'not running'" in text


def test_text_output_without_quorum_or_dc() -> None:
    text = render_text(StatusView(_status(dc=None, quorate=False)))
    assert "Current DC: NONE - partition WITHOUT quorum" in text


def test_json_output_has_exactly_the_documented_keys() -> None:
    data = render_json(StatusView(_status()))
    assert list(data) == ["nodes", "resources", "membership", "failed_actions"]
    assert data["resources"] == [{"id": "g", "group": "g", "agent": "IPaddr",
                                  "state": "failed", "node": "node1"}]
    assert data["failed_actions"][0]["action"] == "monitor"
    json.dumps(data)


def test_xml_output_is_shaped_like_crm_mon() -> None:
    import xml.etree.ElementTree as ET
    root = ET.fromstring(render_xml(StatusView(_status())))
    assert root.tag == "pacemaker-result"
    assert root.find("summary/current_dc").get("name") == "node1"  # type: ignore[union-attr]
    assert root.find("nodes/node[@name='node2']").get("online") == "false"  # type: ignore[union-attr]
    assert root.find("resources/group/resource").get("failed") == "true"  # type: ignore[union-attr]
    assert root.find("failures/failure").get("task") == "monitor"  # type: ignore[union-attr]
    assert root.find("status").get("code") == "0"  # type: ignore[union-attr]


@pytest.mark.parametrize("argv", [[], ["--output-as=json"]])
def test_crm_status_without_the_stack_exits_12(tmp_path: Path, argv: list[str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert crm_status.main(["--run-dir", str(tmp_path), *argv]) == EXIT_NOT_RUNNING
    err = capsys.readouterr().err
    assert "crm_status: the cluster stack is not running" in err


@pytest.mark.parametrize("main", [hb_standby.main_standby, hb_standby.main_takeover])
def test_move_tools_without_the_stack_exit_12(tmp_path: Path, main: object) -> None:
    assert main(["--run-dir", str(tmp_path), "local"]) == EXIT_NOT_RUNNING  # type: ignore[operator]


def test_standby_refusals() -> None:
    refused = plan_standby(_config("legacy"), _state(), "all", False, 0.0, 10.0)
    assert refused == Refused("refused", LEGACY_REFUSAL)
    refused = plan_standby(_config(), _state(), "some", False, 0.0, 10.0)
    assert isinstance(refused, Refused) and refused.code == "bad_request"
    refused = plan_standby(_config(), _state(), "all", True, 0.0, 10.0)
    assert isinstance(refused, Refused) and "shutting down" in refused.message


def test_standby_waits_only_for_the_groups_held_here() -> None:
    waiter = plan_standby(_config(), _state(), "all", False, 5.0, 10.0)
    assert not isinstance(waiter, Refused)
    assert waiter.groups == (G1,)
    assert waiter.deadline == 15.0
    assert not waiter.complete(_state())
    assert waiter.complete(_state(g1_on="node2"))
    nothing = plan_standby(_config(), _state(), "foreign", False, 5.0, 10.0)
    assert not isinstance(nothing, Refused) and nothing.groups == ()


def test_takeover_failback_means_local_groups() -> None:
    state = _state(g1_on="node2")
    waiter = plan_takeover(_config(), state, "failback", False, 0.0, 10.0)
    assert not isinstance(waiter, Refused)
    assert waiter.groups == (G1,)
    assert not waiter.complete(state)
    assert waiter.complete(_state(g1_on="node1"))


def test_cleanup_targets() -> None:
    assert resolve_target(GROUPS, "") == (G1, G2)
    assert resolve_target(GROUPS, "httpd") == (G1,)
    assert resolve_target(GROUPS, "IPaddr::10.0.0.1_24_eth0") == (G1,)
    assert resolve_target(GROUPS, G2) == (G2,)
    assert resolve_target(GROUPS, "nope") is None


def test_monitor_interval_follows_deadtime() -> None:
    from cluster.config.hacf import parse_hacf
    def ha(deadtime: str) -> object:
        return parse_hacf(f"node a b\nbcast eth0\nkeepalive 100ms\ndeadtime {deadtime}\n",
                         "ha.cf")
    assert monitor_interval(ha("500ms")) == 1.0  # type: ignore[arg-type]
    assert monitor_interval(ha("2")) == 4.0  # type: ignore[arg-type]
    assert monitor_interval(ha("30")) == 10.0  # type: ignore[arg-type]


def test_ping_nodes_and_monitors_join_text_and_json() -> None:
    from cluster.bus.messages.hbcomm import LinkInfo, NodeInfo
    from cluster.bus.messages.mon import MonServiceStatus

    status = _status()
    router = NodeInfo("10.0.0.254", "dead", "ping", (LinkInfo("10.0.0.254", "dead"),))
    web = MonServiceStatus(
        watch="servers", service="ping", description="", monitor="icmp", hosts=("a", "b"),
        status="failed", running=False, interval=1.0, last_check=1.0, next_check=2.0,
        last_success=0.5, last_failure=1.0, first_failure=1.0, summary="b", detail="",
        retval=1, consecutive_failures=1, runs=2, failures=1, alerts_sent=1,
        alerts_pending=0, alerts_lost=0, history=(), downtimes=())
    extras = Extras((router,), (web,))
    text = render_text(StatusView(status, extras))
    assert "Ping Nodes:\n  * 10.0.0.254: UNREACHABLE" in text
    assert "Service Monitors:\n  * servers/ping: failed (b)" in text
    data = render_json(StatusView(status, extras))
    assert data["ping_nodes"] == [{"name": "10.0.0.254", "state": "dead"}]
    assert data["monitors"][0]["status"] == "failed"
    assert list(render_json(StatusView(status))) == ["nodes", "resources", "membership",
                                                   "failed_actions"]
