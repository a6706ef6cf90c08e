"""crm_resource, crm_standby and maintenance mode on whole simulated clusters (crmdsim.py).

The intent requests go to the real crmd services; the checks are on what the
fake agents ran, in virtual time.  The lab tier (tests/lab/test_operator.py)
repeats the acceptance cases against real processes.
"""

from __future__ import annotations

from cluster.bus import codec
from cluster.bus.messages.common import ErrorResult, OkResult
from cluster.bus.messages.crmd import (
    MTYPE,
    CleanupResource,
    Command,
    Constrain,
    SetMaintenance,
    SetManaged,
    SetStandby,
    Simulate,
    SimulationResult,
    WhyGroup,
)
from cluster.bus.messages.hbcomm import SendToCluster
from cluster.cli.crm_simulate import render
from cluster.cli.status.text import render_text
from cluster.cli.status.view import StatusView

from .crmdsim import VIP, CrmdSim
from .test_policy_cluster import GROUP, HTTPD, started


def ok(sim: CrmdSim, node: str, msg: object) -> str:
    reply = sim.request(node, msg).value
    assert isinstance(reply, OkResult), reply
    return reply.detail


def test_maintenance_mode_leaves_a_dead_service_alone_then_starts_only_it() -> None:
    sim = started(CrmdSim())
    ops = sim.executors["node1"].ops
    ok(sim, "node2", SetMaintenance(True))                 # asked on the other node
    sim.run_until(lambda: sim.status("node1").maintenance)
    sim.running["node1"].discard(HTTPD)
    before = len(ops)
    sim.run_for(10.0)
    assert ops[before:] == [] and not sim.holds("node1", [HTTPD])
    ok(sim, "node1", SetMaintenance(False))
    sim.run_until(lambda: sim.holds("node1", GROUP))
    sim.run_for(3.0)
    assert [op for op in ops[before:] if op[1] != "probe"] == [(HTTPD, "start")]
    assert sim.status("node2").fail_counts == ()


def test_a_stack_restart_in_maintenance_restarts_nothing() -> None:
    sim = started(CrmdSim())
    ok(sim, "node1", SetMaintenance(True))
    sim.run_until(lambda: sim.status("node2").maintenance)
    sim.services["node1"].shutdown()
    sim.run_until(lambda: sim.contexts["node1"].finished)
    sim.services["node1"].close()
    sim.kill("node1", power_off=False)
    sim.form_view(["node2"])
    sim.run_for(3.0)
    assert sim.owners() == ["node1"]                       # still running, untouched
    sim.boot("node1")
    sim.form_view(["node1", "node2"])
    sim.run_for(5.0)
    actions = {op[1] for n in sim.names for op in sim.executors[n].ops}
    assert actions <= {"probe", "start"} and sim.executors["node2"].ops == [
        op for op in sim.executors["node2"].ops if op[1] == "probe"]
    assert [op for op in sim.executors["node1"].ops if op[1] != "probe"] == []
    assert sim.owners() == ["node1"] and sim.status("node1").maintenance


def test_intent_set_on_both_sides_of_a_split_agrees_after_the_heal() -> None:
    sim = started(CrmdSim())
    sim.cut("node1", "node2")
    ok(sim, "node1", SetManaged(VIP, False))
    sim.run_for(0.5)
    ok(sim, "node2", SetStandby("node1", True))            # later: both kept (other keys)
    ok(sim, "node2", SetManaged(VIP, True))                # later than node1's: wins
    sim.heal()
    sim.run_for(12.0)
    files = {n: sim.intent_files[n].saved for n in sim.names}
    assert files["node1"] == files["node2"]
    status = sim.status("node1")
    assert status.unmanaged == () and [n.state for n in status.nodes] == ["standby", "online"]
    sim.run_until(lambda: sim.holds("node2", GROUP))


def test_ban_moves_it_clear_lets_it_stay_and_standby_forever_survives_power_off() -> None:
    sim = started(CrmdSim())
    sim.run_for(1.0)                                       # node2 has node1's report
    text = ok(sim, "node2", Constrain("ban", HTTPD))       # where it runs: node1
    assert f"cli-ban-{VIP}-on-node1" in text
    sim.run_until(lambda: sim.holds("node2", GROUP))
    assert [c.id for c in sim.status("node1").constraints] == [f"cli-ban-{VIP}-on-node1"]
    why = ok(sim, "node1", WhyGroup(VIP))
    assert "node1: cannot run it: banned by cli-ban" in why
    cleared = ok(sim, "node1", Constrain("clear", VIP))
    assert cleared == f"Removing constraint: cli-ban-{VIP}-on-node1"
    ok(sim, "node1", Constrain("move", VIP, "node1"))
    sim.run_until(lambda: sim.holds("node1", GROUP))
    reply = sim.request("node1", Constrain("move", VIP, "node1")).value
    assert isinstance(reply, ErrorResult)
    ok(sim, "node2", SetStandby("node1", True))
    sim.run_until(lambda: sim.holds("node2", GROUP))
    for name in sim.names:
        sim.kill(name)
    for name in sim.names:
        sim.boot(name)
    sim.form_view(sim.names)
    sim.run_until(lambda: sim.holds("node2", GROUP))
    sim.run_for(3.0)
    assert sim.owners() == ["node2"]
    ok(sim, "node2", SetStandby("node1", False))
    sim.run_until(lambda: sim.holds("node1", GROUP))       # cli-prefer still holds


def test_cleanup_brings_back_a_group_banned_everywhere_by_failures() -> None:
    sim = started(CrmdSim())
    for node in ("node1", "node2"):
        for _ in range(3):
            sim.run_until(lambda n=node: sim.holds(n, GROUP))  # type: ignore[misc]
            sim.running[node].discard(HTTPD)
            sim.run_until(lambda n=node: HTTPD not in sim.running.get(n, set()) and
                          not sim.holds(n, [HTTPD]))  # type: ignore[misc]
            sim.run_for(2.0)
    sim.run_until(lambda: sim.owners() == [] and len(sim.status("node1").fail_counts) == 2)
    sim.run_for(3.0)
    assert sim.owners() == []
    text = ok(sim, "node2", CleanupResource(HTTPD))
    assert text == f"Cleaned up {VIP} on node1\nCleaned up {VIP} on node2"
    sim.run_until(lambda: sim.holds("node1", GROUP))
    assert sim.status("node2").fail_counts == ()


def test_crm_status_shows_maintenance_unmanaged_moves_and_bans() -> None:
    sim = started(CrmdSim())
    sim.run_for(1.0)
    ok(sim, "node1", SetManaged(VIP, False))
    ok(sim, "node1", Constrain("ban", VIP, "node2", lifetime=3600.0))
    sim.run_for(0.5)                                       # to node2 through "hbcomm"
    text = render_text(StatusView(sim.status("node2")))
    assert "(unmanaged)" in text and "Resource management is DISABLED" not in text
    assert f"cli-ban-{VIP}-on-node2\tprevents {VIP} from running on node2 until " in text
    ok(sim, "node1", SetMaintenance(True))
    assert "*** Resource management is DISABLED ***" in render_text(StatusView(sim.status("node1")))


def test_standby_with_lifetime_reboot_ends_when_that_node_restarts() -> None:
    sim = started(CrmdSim())
    sim.run_for(1.0)
    ok(sim, "node2", SetStandby("node1", True, "reboot"))
    sim.run_until(lambda: sim.holds("node2", GROUP))
    sim.kill("node1")
    sim.form_view(["node2"])
    sim.run_for(1.0)
    sim.boot("node1")                                      # a new stack run: a new boot id
    sim.form_view(sim.names)
    sim.run_until(lambda: [n.state for n in sim.status("node2").nodes] == ["online"] * 2)
    assert sim.intent_files["node1"].saved.entries[0].value == "on"   # kept, no longer holds


def test_crm_simulate_node_fail_and_standby_from_the_live_state() -> None:
    sim = started(CrmdSim(stonith=True))
    sim.run_for(1.0)
    reply = sim.request("node2", Simulate(node_fail=("node1",))).value
    assert isinstance(reply, SimulationResult)
    assert reply.before == {VIP: "node1"} and reply.after == {VIP: "node2"}
    assert [(a.action, a.node) for a in reply.actions] == [("fence", "node1"), ("start", "node2")]
    text = render(reply, ["node1"], [])
    assert f"  * Move       {VIP}\t( node1 -> node2 )" in text
    assert text.index("Fencing node1") < text.index(f"Resource action: {VIP} start on node2")
    reply = sim.request("node1", Simulate(standby=("node1",))).value
    assert isinstance(reply, SimulationResult)
    assert [(a.action, a.node) for a in reply.actions] == [("stop", "node1"), ("start", "node2")]
    both = sim.request("node1", Simulate(node_fail=("node2",), standby=("node1",))).value
    assert isinstance(both, SimulationResult) and both.after == {VIP: ""}
    assert any("cannot run anywhere" in note for note in both.notes)
    assert sim.owners() == ["node1"]                       # nothing was done
    bad = sim.request("node1", Simulate(node_fail=("node9",))).value
    assert isinstance(bad, ErrorResult) and "node9" in bad.message


def test_a_node_in_standby_refuses_a_start_from_a_dc_that_does_not_know_it_yet() -> None:
    """cluster-mcp --standby records the standby before crmd starts; should the DC's
    order overtake the intent on its way, the node refuses and sends the intent."""
    sim = started(CrmdSim())
    ok(sim, "node1", SetStandby("node2", True))
    sim.run_until(lambda: sim.status("node1").nodes[1].state == "standby")
    before = len(sim.executors["node2"].ops)
    order = Command(sim.instance, VIP, "start", 99)
    sim.deliver("node1", SendToCluster(MTYPE, codec.encode(order), "node2"))
    sim.run_for(3.0)
    assert [op for op in sim.executors["node2"].ops[before:] if op[1] != "probe"] == []
    assert sim.owners() == ["node1"]
