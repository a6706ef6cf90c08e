"""CrmdService.reload on the in-memory cluster (crmdsim.py, virtual time): an edited
haresources changes only the groups that changed, on every node, and in maintenance
mode only once it ends; a failure_timeout added by a reload lets a group banned
everywhere come back."""

from __future__ import annotations

from cluster.bus.messages.common import OkResult
from cluster.bus.messages.crmd import SetMaintenance

from .crmdsim import HARESOURCES, VIP, CrmdSim, make_config

VIP2 = "IPaddr::10.231.1.202/24/eth0"
VIP3 = "IPaddr::10.231.1.203/24/eth0"
VIP5 = "IPaddr::10.231.1.205/24/eth0"
HTTPD = "httpd"


def _reload(sim: CrmdSim, haresources: str, extra: str = "") -> None:
    """What SIGHUP does on every node: the new files, then each service's reload."""
    for name, service in sim.services.items():
        config = make_config(name, sim.names, haresources, "off", False, "500ms", extra)
        sim.contexts[name].config = config
        service.reload(config)


def test_only_the_changed_groups_are_touched_on_any_node() -> None:
    before = HARESOURCES + f"node1 {VIP2}\nnode2 {VIP5}\n"
    sim = CrmdSim(haresources=before)
    sim.boot_all()
    sim.run_until(lambda: sim.holds("node1", (VIP, HTTPD, VIP2)) and sim.holds("node2", (VIP5,)))
    marks = {name: len(executor.ops) for name, executor in sim.executors.items()}
    _reload(sim, HARESOURCES + f"node1 {VIP2} {VIP3}\nnode2 {VIP3.replace('203', '204')}\n")
    vip4 = VIP3.replace("203", "204")
    sim.run_until(lambda: sim.holds("node1", (VIP, HTTPD, VIP2, VIP3))
                  and sim.holds("node2", (vip4,)) and not sim.owners(VIP5))
    sim.run_for(3.0)
    ops = {name: [op for op in executor.ops[marks[name]:] if op[1] != "monitor"]
           for name, executor in sim.executors.items()}
    assert [op for op in ops["node1"] if op[0] in (VIP, HTTPD)] == [], "the web group untouched"
    assert [op for op in ops["node2"] if op[0] in (VIP, HTTPD)] == []
    changed = [op for op in ops["node1"] if op[0] in (VIP2, VIP3)]
    assert changed == [(VIP2, "stop"), (VIP2, "probe"), (VIP3, "probe"), (VIP2, "start"),
                       (VIP3, "start")], "stopped with its old resources, then started anew"
    assert (VIP5, "stop") in ops["node2"] and (vip4, "start") in ops["node2"]
    keys = [r.group for r in sim.status("node1").resources]
    assert VIP5 not in keys and vip4 in keys
    assert all(count == 1 for count in sim.max_owners.values())


def test_a_failure_timeout_added_by_a_reload_brings_a_banned_group_back() -> None:
    sim = CrmdSim()
    sim.fail_start = {"node1": {HTTPD}, "node2": {HTTPD}}
    sim.boot_all()
    sim.run_until(lambda: all(c.banned for c in sim.status("node1").fail_counts)
                  and len(sim.status("node1").fail_counts) == 2 and not sim.owners(HTTPD),
                  timeout=120.0)
    sim.fail_start.clear()
    sim.run_for(30.0)
    assert not sim.owners(HTTPD), "banned everywhere and no failure_timeout: stays stopped"
    _reload(sim, HARESOURCES, "failure_timeout 10s\n")
    sim.run_until(lambda: any(sim.holds(n, (VIP, HTTPD)) for n in sim.names), timeout=20.0)
    assert sim.max_owners[VIP] == 1


def test_in_maintenance_mode_a_reload_changes_no_group_until_it_ends() -> None:
    before = HARESOURCES + f"node1 {VIP2}\n"
    sim = CrmdSim(haresources=before)
    sim.boot_all()
    sim.run_until(lambda: sim.holds("node1", (VIP, HTTPD, VIP2)))
    assert isinstance(sim.request("node1", SetMaintenance(True)).value, OkResult)
    sim.run_until(lambda: all(sim.status(n).maintenance for n in sim.names))
    mark = len(sim.executors["node1"].ops)
    _reload(sim, HARESOURCES + f"node1 {VIP2} {VIP3}\n")
    sim.run_for(10.0)
    assert sim.executors["node1"].ops[mark:] == [], "maintenance: nothing stopped or started"
    assert isinstance(sim.request("node1", SetMaintenance(False)).value, OkResult)
    sim.run_until(lambda: sim.holds("node1", (VIP, HTTPD, VIP2, VIP3)))
    ops = [op for op in sim.executors["node1"].ops[mark:] if op[1] not in ("probe", "monitor")]
    assert ops == [(VIP2, "stop"), (VIP2, "start"), (VIP3, "start")]
