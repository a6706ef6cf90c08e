"""Whole clusters of real crmd services on the in-memory simulator (crmdsim.py).

Each test drives the real shell, cores and wire messages through a failure
and checks who runs the service address, in virtual time: no sockets, no
sleeping.  The lab tier (tests/lab/test_failover.py) repeats the important
ones against real processes.
"""

from __future__ import annotations

from cluster.bus.messages.common import ErrorResult, OkResult
from cluster.bus.messages.crmd import (
    CleanupResource,
    ClearStandby,
    GroupStateChanged,
    Standby,
    Takeover,
)
from cluster.cli.status.json_out import render_json
from cluster.cli.status.pacemaker_xml import render_xml
from cluster.cli.status.text import render_text
from cluster.cli.status.view import StatusView

from .crmdsim import HARESOURCES, VIP, CrmdSim

HTTPD = "httpd"
GROUP = (VIP, HTTPD)
TWO_GROUPS = HARESOURCES + "node2 IPaddr::10.231.1.201/24/eth0 mysqld\n"
VIP2 = "IPaddr::10.231.1.201/24/eth0"


def started(sim: CrmdSim, auto_failback: str = "off") -> CrmdSim:
    for name in sim.names:
        sim.boot(name)
    sim.form_view(sim.names)
    sim.run_until(lambda: sim.holds("node1", GROUP))
    return sim


def test_cold_start_runs_the_group_on_its_preferred_node_only() -> None:
    sim = started(CrmdSim())
    sim.run_for(3.0)
    assert sim.owners() == ["node1"]
    assert sim.owners(HTTPD) == ["node1"]
    assert sim.max_owners[VIP] == 1
    status = sim.status("node2")
    assert status.dc == "node1"
    assert [(r.id, r.state, r.node) for r in status.resources] == [
        ("IPaddr::10.231.1.200_24_eth0", "started", "node1"), ("httpd", "started", "node1")]


def test_nothing_is_reported_or_started_before_a_formed_view() -> None:
    sim = CrmdSim()
    sim.boot("node1")
    sim.run_for(2.0)
    assert sim.owners() == []
    assert sim.status("node1").formed is False


def test_power_off_moves_the_group_when_the_view_changes() -> None:
    sim = started(CrmdSim())
    sim.kill("node1")
    sim.run_for(0.5)                                    # deadtime passes
    changed = sim.loop.now
    sim.form_view(["node2"])
    done = sim.run_until(lambda: sim.holds("node2", GROUP))
    assert done - changed < 0.2
    assert sim.max_owners[VIP] == 1
    events = sim.contexts["node2"].publishers[0].events
    assert any(isinstance(e, GroupStateChanged) and e.state == "started" for _t, e in events)


def test_graceful_shutdown_hands_over_before_the_membership_changes() -> None:
    sim = started(CrmdSim())
    sim.run_for(1.0)
    begin = sim.loop.now
    sim.services["node1"].shutdown()
    sim.run_until(lambda: sim.contexts["node1"].finished)
    sim.services["node1"].close()
    sim.kill("node1", power_off=False)
    done = sim.run_until(lambda: sim.holds("node2", GROUP))
    assert done - begin < 0.3, "no deadtime wait, no view change needed"
    assert sim.max_owners[VIP] == 1
    sim.form_view(["node2"])
    sim.run_for(2.0)
    assert sim.owners() == ["node2"]


def test_shutdown_waits_for_the_stops_and_reports_holding_nothing() -> None:
    sim = started(CrmdSim())
    sim.services["node1"].shutdown()
    sim.run_until(lambda: sim.contexts["node1"].finished)
    assert sim.owners() == [] or sim.owners() == ["node2"]
    assert "node1" not in sim.owners()
    status = sim.status("node2")
    assert [n.leaving for n in status.nodes if n.name == "node1"] == [True]


def _failover_and_return(auto_failback: str) -> CrmdSim:
    sim = started(CrmdSim(auto_failback=auto_failback))
    sim.kill("node1")
    sim.form_view(["node2"])
    sim.run_until(lambda: sim.holds("node2", GROUP))
    sim.boot("node1")
    sim.form_view(["node1", "node2"])
    return sim


def test_auto_failback_on_brings_the_group_home() -> None:
    sim = _failover_and_return("on")
    sim.run_until(lambda: sim.holds("node1", GROUP))
    assert sim.owners() == ["node1"]
    assert sim.max_owners[VIP] == 1


def test_auto_failback_legacy_brings_the_group_home() -> None:
    sim = _failover_and_return("legacy")
    sim.run_until(lambda: sim.holds("node1", GROUP))
    assert sim.max_owners[VIP] == 1


def test_auto_failback_off_leaves_it_where_it_runs() -> None:
    sim = _failover_and_return("off")
    sim.run_for(5.0)
    assert sim.owners() == ["node2"]


def test_hb_standby_and_hb_takeover_move_the_group() -> None:
    sim = started(CrmdSim(auto_failback="on"))
    reply = sim.request("node1", Standby("all", 30.0))
    assert reply.value is None, "answered once the move completed"
    sim.run_until(lambda: reply.value is not None)
    assert isinstance(reply.value, OkResult), reply.value
    assert "on node2" in reply.value.detail
    assert sim.owners() == ["node2"]
    assert [n.state for n in sim.status("node2").nodes] == ["standby", "online"]
    sim.run_for(3.0)
    assert sim.owners() == ["node2"], "standby holds even with auto_failback on"
    reply = sim.request("node1", Takeover("all", 30.0))
    sim.run_until(lambda: reply.value is not None)
    assert isinstance(reply.value, OkResult), reply.value
    assert sim.owners() == ["node1"]
    assert [n.state for n in sim.status("node1").nodes] == ["online", "online"]
    assert sim.max_owners[VIP] == 1


def test_the_last_change_names_the_tool_and_node_on_every_node() -> None:
    sim = started(CrmdSim())
    boot = sim.status("node2").last_change
    assert boot is not None and boot.tool == "cluster-mcp"
    reply = sim.request("node1", Standby("all", 30.0, "crm_standby"))
    sim.run_until(lambda: reply.value is not None)
    sim.run_until(lambda: (c := sim.status("node2").last_change) is not None
                  and c.tool == "crm_standby")
    change = sim.status("node2").last_change
    assert change is not None and change.node == "node1" and change.when >= boot.when
    assert sim.status("node1").last_change == change
    reply = sim.request("node2", Takeover("all", 30.0))
    sim.run_until(lambda: reply.value is not None)
    sim.run_until(lambda: (c := sim.status("node1").last_change) is not None
                  and (c.tool, c.node) == ("hb_takeover", "node2"))


def test_clear_standby_lifts_it_without_moving_anything() -> None:
    sim = started(CrmdSim(auto_failback="on"))
    reply = sim.request("node1", Standby("all", 30.0))
    sim.run_until(lambda: reply.value is not None)
    cleared = sim.request("node1", ClearStandby())
    assert isinstance(cleared.value, OkResult) and cleared.value.detail == "standby lifted"
    sim.run_until(lambda: [n.state for n in sim.status("node2").nodes] == ["online", "online"])
    sim.run_for(3.0)
    assert sim.owners() == ["node2"], "lifting standby moves nothing by itself"
    again = sim.request("node1", ClearStandby())
    assert isinstance(again.value, OkResult) and "not in standby" in again.value.detail


def test_hb_standby_foreign_gives_back_only_the_other_nodes_groups() -> None:
    sim = CrmdSim(haresources=TWO_GROUPS)
    sim.boot("node1")
    sim.boot("node2")
    sim.form_view(["node1"])                             # node2 not seen yet: node1 takes all
    sim.run_until(lambda: sim.holds("node1", (VIP, VIP2)))
    sim.form_view(["node1", "node2"])
    sim.run_for(2.0)
    assert sim.owners(VIP2) == ["node1"], "auto_failback off: it stays"
    reply = sim.request("node1", Standby("foreign", 30.0))
    sim.run_until(lambda: reply.value is not None)
    assert isinstance(reply.value, OkResult), reply.value
    assert sim.owners(VIP2) == ["node2"]
    assert sim.owners(VIP) == ["node1"]


def test_hb_takeover_failback_brings_home_groups_back() -> None:
    sim = CrmdSim(haresources=TWO_GROUPS)
    sim.boot("node2")
    sim.form_view(["node2"])
    sim.run_until(lambda: sim.holds("node2", (VIP, VIP2)))
    sim.boot("node1")
    sim.form_view(["node1", "node2"])
    sim.run_for(2.0)
    reply = sim.request("node1", Takeover("failback", 30.0))
    sim.run_until(lambda: reply.value is not None)
    assert isinstance(reply.value, OkResult), reply.value
    assert sim.owners(VIP) == ["node1"]
    assert sim.owners(VIP2) == ["node2"]


def test_standby_is_refused_with_auto_failback_legacy() -> None:
    sim = started(CrmdSim(auto_failback="legacy"))
    reply = sim.request("node1", Standby("all", 30.0))
    assert isinstance(reply.value, ErrorResult)
    assert reply.value.message == "Standby mode only implemented when nice_failback on"


def test_standby_is_refused_when_no_other_node_can_take_over() -> None:
    sim = started(CrmdSim())
    sim.kill("node2")
    sim.form_view(["node1"])
    sim.run_for(1.0)
    reply = sim.request("node1", Standby("all", 30.0))
    assert isinstance(reply.value, ErrorResult) and reply.value.code == "no_peer"


def test_a_killed_service_is_restarted_in_place_then_moved_after_the_threshold() -> None:
    sim = started(CrmdSim())
    ops = sim.executors["node1"].ops
    for failures in (1, 2):
        sim.running["node1"].discard(HTTPD)            # the daemon dies
        sim.run_until(lambda: HTTPD in sim.running.get("node1", set()))
        sim.run_until(lambda: sim.status("node1").resources[1].state == "started")
        assert sim.owners() == ["node1"], f"restarted in place after failure {failures}"
    assert ops.count((VIP, "start")) == 3
    sim.running["node1"].discard(HTTPD)
    sim.run_until(lambda: sim.holds("node2", GROUP))
    assert sim.owners() == ["node2"]
    assert sim.max_owners[VIP] == 1
    status = sim.status("node2")
    assert [f.action for f in status.failed_actions] == ["monitor"] * 3
    reply = sim.request("node2", CleanupResource(HTTPD))
    assert isinstance(reply.value, OkResult)
    sim.run_until(lambda: not sim.status("node2").failed_actions)


def test_a_start_failure_counts_and_moves_the_group() -> None:
    sim = CrmdSim()
    sim.fail_start["node1"] = {HTTPD}
    started_sim = sim
    for name in sim.names:
        sim.boot(name)
    sim.form_view(sim.names)
    started_sim.run_until(lambda: sim.holds("node2", GROUP))
    assert sim.executors["node1"].ops.count((HTTPD, "start")) == 3
    assert "node1" not in sim.owners()


def test_stonith_configured_but_unavailable_keeps_the_group_stopped() -> None:
    sim = started(CrmdSim(stonith=True))
    sim.kill("node1")
    sim.form_view(["node2"])
    sim.run_for(5.0)
    assert sim.owners() == []
    status = sim.status("node2")
    assert any("waiting for STONITH of node1" in n for n in status.notices)
    assert [n.unclean for n in status.nodes] == [True, False]
    text = render_text(StatusView(status))
    assert "UNCLEAN (offline)" in text
    assert "STONITH unavailable in this simulation" in text
    assert set(sim.fence_requests) == {"node1"}
    assert len(sim.fence_requests) > 1, "fencing is retried"


def test_confirmed_fencing_lets_the_takeover_happen() -> None:
    sim = started(CrmdSim(stonith=True))
    sim.fence_ok = True
    sim.cut("node1", "node2")                            # node1 still runs: only STONITH helps
    sim.form_view(["node2"])
    sim.run_until(lambda: sim.holds("node2", GROUP))
    assert sim.fence_requests == ["node1"]
    assert sim.max_owners[VIP] == 1, "node1 was fenced before node2 started it"


def test_graceful_shutdown_needs_no_fencing_even_with_stonith() -> None:
    sim = started(CrmdSim(stonith=True))
    sim.services["node1"].shutdown()
    sim.run_until(lambda: sim.contexts["node1"].finished)
    sim.kill("node1", power_off=False)
    sim.form_view(["node2"])
    sim.run_until(lambda: sim.holds("node2", GROUP))


def test_partition_heal_stops_the_second_copy() -> None:
    sim = started(CrmdSim())
    sim.cut("node1", "node2")
    sim.form_view(["node1"])
    sim.form_view(["node2"])
    sim.run_until(lambda: sim.holds("node2", GROUP))     # split brain without STONITH
    assert (VIP, "reannounce") not in sim.executors["node1"].ops
    sim.heal()
    sim.form_view(["node1", "node2"])
    # The keeper tells the LAN again, once node2 has released the address (issue #13).
    sim.run_until(lambda: (VIP, "reannounce") in sim.executors["node1"].ops)
    assert sim.owners() == ["node1"] and sim.owners(HTTPD) == ["node1"]
    sim.run_for(3.0)
    assert sim.owners() == ["node1"]
    assert sim.executors["node1"].ops.count((VIP, "reannounce")) == 1
    assert (HTTPD, "reannounce") not in sim.executors["node1"].ops      # not an address
    assert all(action != "reannounce" for _, action in sim.executors["node2"].ops)


def test_a_restarted_crmd_adopts_running_groups_without_restarting_them() -> None:
    sim = started(CrmdSim())
    sim.kill("node1", power_off=False)
    sim.boot("node1")
    sim.form_view(["node1", "node2"])
    sim.run_for(3.0)
    assert sim.owners() == ["node1"]
    assert (VIP, "start") not in sim.executors["node1"].ops
    assert sim.status("node2").resources[0].node == "node1"


def _respawn_crmd(sim: CrmdSim, node: str) -> None:
    """crmd dies and cluster-mcp starts it again; the machine and its run directory stay."""
    sim.kill(node, power_off=False)
    sim.boot(node)
    sim.form_view(sim.names)


def test_a_respawned_crmd_stays_in_standby() -> None:
    """Without its memory the node would leave standby and, with auto_failback
    on, pull the group back: a failover caused by a daemon crash."""
    sim = started(CrmdSim(auto_failback="on"))
    reply = sim.request("node1", Standby("all", 30.0))
    sim.run_until(lambda: reply.value is not None)
    assert sim.owners() == ["node2"]
    _respawn_crmd(sim, "node1")
    sim.run_for(5.0)
    assert sim.owners() == ["node2"]
    assert [n.state for n in sim.status("node1").nodes] == ["standby", "online"]
    assert [n.state for n in sim.status("node2").nodes] == ["standby", "online"]
    assert sim.max_owners[VIP] == 1


def test_a_respawned_crmd_keeps_its_fail_counts_and_failed_actions() -> None:
    """node1 failed to start the group three times; a respawned crmd must not
    offer it again (auto_failback on would otherwise bring it home to fail)."""
    sim = CrmdSim(auto_failback="on")
    sim.fail_start["node1"] = {HTTPD}
    for name in sim.names:
        sim.boot(name)
    sim.form_view(sim.names)
    sim.run_until(lambda: sim.holds("node2", GROUP))
    failed = sim.status("node1").failed_actions
    assert len(failed) == 3
    _respawn_crmd(sim, "node1")
    sim.run_for(5.0)
    assert sim.owners() == ["node2"]
    assert (VIP, "start") not in sim.executors["node1"].ops
    assert sim.status("node1").failed_actions == failed
    sim.fail_start["node1"].clear()                    # the admin repaired it
    reply = sim.request("node1", CleanupResource(HTTPD))
    assert isinstance(reply.value, OkResult)
    sim.run_until(lambda: sim.holds("node1", GROUP))  # auto_failback on: home again
    assert sim.memories["node1"].saved.fail_counts == {}
    assert sim.max_owners[VIP] == 1


def test_a_powered_off_node_comes_back_without_standby() -> None:
    """A new run of the stack starts clean (cluster-mcp empties the run
    directory), as Heartbeat's hb_standby did not survive a restart either."""
    sim = started(CrmdSim(auto_failback="on"))
    reply = sim.request("node1", Standby("all", 30.0))
    sim.run_until(lambda: reply.value is not None)
    sim.kill("node1")
    sim.form_view(["node2"])
    sim.boot("node1")
    sim.form_view(sim.names)
    sim.run_until(lambda: sim.holds("node1", GROUP))
    assert sim.max_owners[VIP] == 1


def test_no_quorum_stops_everything() -> None:
    sim = CrmdSim(("node1", "node2", "node3"))
    for name in sim.names:
        sim.boot(name)
    sim.form_view(sim.names)
    sim.run_until(lambda: sim.holds("node1", GROUP))
    sim.cut("node1", "node2")
    sim.cut("node1", "node3")
    sim.form_view(["node1"], quorate=False)
    sim.form_view(["node2", "node3"])
    sim.run_until(lambda: sim.owners() == ["node2"])
    assert sim.max_owners[VIP] <= 2


def test_status_renders_as_json_xml_and_text() -> None:
    sim = started(CrmdSim())
    status = sim.status("node1")
    data = render_json(StatusView(status))
    assert set(data) == {"nodes", "resources", "membership", "failed_actions", "last_change"}
    assert data["last_change"]["tool"] == "cluster-mcp"
    assert data["nodes"] == [{"name": "node1", "state": "online"},
                             {"name": "node2", "state": "online"}]
    assert data["resources"][0] == {"id": "IPaddr::10.231.1.200_24_eth0", "group": VIP,
                                    "agent": "IPaddr", "state": "started", "node": "node1"}
    assert data["membership"] == {"instance": 1, "members": ["node1", "node2"],
                                  "quorate": True}
    xml = render_xml(StatusView(status))
    assert 'name="node1" id="node1" with_quorum="true"' in xml
    text = render_text(StatusView(status))
    assert "Current DC: node1 - partition with quorum" in text
    assert "Online: [ node1 node2 ]" in text
    assert "* Resource Group: " + VIP + ":" in text
    assert "httpd\t(httpd):\t Started node1" in text
