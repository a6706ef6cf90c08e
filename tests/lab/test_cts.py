"""Pacemaker's Cluster Test Suite scenarios, on 2 to 5 namespace nodes.

Each scenario breaks a running site (:mod:`cluster.lab.site`: RPS-10 per
node, shared disk, VIP and web server preferred on node1, auto_failback on)
and then runs the audits of `Site.audit` on every node: membership agrees,
the group runs exactly once where the rules say (crmd's view, the kernel's
address and mount tables, what the client is served), and a stopped node
left no process, socket or address behind.  The site's observers must never
have seen the address or the disk on two nodes.  The rules: the group runs on
its preferred node when that is up, else on the lowest-named node that has it;
with three or more nodes only a strict majority runs anything
(``no-quorum-policy=stop``); two nodes always have quorum.

Mapping to CTS (reference cts-scenarios.md): StartOnebyOne / StopOnebyOne /
SimulStart / SimulStop, RestartTest, ComponentFail, ResourceRecover,
SplitBrainTest (with fencing), a node frozen past deadtime (Heartbeat's
"paused node"), StandbyTest, and Reattach (the stack of every node dies at
once under running resources and comes back: the group is adopted, not
restarted).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from cluster.lab import Lab, wait_for
from cluster.lab.site import Site, SiteOptions

_TIMEOUT = 60.0
SiteFactory = Callable[..., Site]


@pytest.fixture
def make_site(lab: Lab) -> Iterator[SiteFactory]:
    made: list[Site] = []

    def build(nodes: int, **options: object) -> Site:
        site = Site(lab, SiteOptions(nodes=nodes, serial=False, ipfail=False,
                                     **options))  # type: ignore[arg-type]
        made.append(site)
        return site

    yield build
    for site in made:
        site.close()
    for site in made:
        site.assert_safe()


def _quorate(up: list[str], total: int) -> bool:
    return (total == 2 and bool(up)) or 2 * len(up) > total


def _no_fencing(site: Site) -> bool:
    return all(switch.commands == [] for switch in site.switches.values())


def _boot_all(site: Site) -> float:
    """Start every node at once; when the group was first seen running."""
    site.start()
    site.audit(up=site.names, holder="node1")
    return site.vip_observer.timeline[-1].first


def _gaps_since(site: Site, since: float) -> list[object]:
    """Moments nobody held the address (after `since`)."""
    return [gap for gap in site.vip_observer.gaps() if gap.end > since]


@pytest.mark.parametrize("nodes", [2, 3, 5])
def test_start_stop_one_by_one_and_all_at_once(make_site: SiteFactory, nodes: int) -> None:
    site = make_site(nodes, watchdog=False)
    up: list[str] = []
    for name in site.names:                                   # StartOnebyOne
        site.start(name)
        up.append(name)
        site.audit(up=up, holder="node1" if _quorate(up, nodes) else None)
    # Gaining quorum shoots the nodes never heard of (startup fencing, which CTS
    # tolerates too): they are powered on again by the next start.  From here on
    # nothing in this scenario is a reason to shoot anybody.
    fenced = {owner: len(switch.commands) for owner, switch in site.switches.items()}
    for name in reversed(site.names):                         # StopOnebyOne
        site.stop(name)
        up.remove(name)
        site.audit(up=up, holder="node1" if up and _quorate(up, nodes) else None)
    site.start()                                              # SimulStart
    site.audit(up=site.names, holder="node1")
    site.stop()                                               # SimulStop
    site.audit(up=[], holder=None)
    assert {owner: len(switch.commands) for owner, switch in site.switches.items()} == fenced


def test_restart_a_node_and_kill_every_daemon_in_turn(make_site: SiteFactory) -> None:
    """RestartTest + ComponentFail: nothing fails over, every daemon comes back."""
    site = make_site(3, deadtime_ms=2000, keepalive_ms=200)
    serving = _boot_all(site)
    site.stop("node2")
    site.audit(up=["node1", "node3"], holder="node1")
    site.start("node2")
    site.audit(up=site.names, holder="node1")
    node1 = site.nodes["node1"]
    httpd_pid = (node1.run_dir / "httpd.pid").read_text()
    for daemon in ("crmd", "ccm", "hbcomm", "stonithd", "watchdog"):
        title = f"cluster: {daemon}"
        old = site.kill_daemon("node1", title)
        wait_for(lambda t=title, o=old: node1.pid_of(t) not in (None, o),
                 _TIMEOUT, message=f"{daemon} respawned")
        site.audit(up=site.names, holder="node1")
        assert f"{daemon}" in site.log("node1", "mcp")
    assert site.vip_observer.moves() == 0 and not _gaps_since(site, serving), "a needless failover"
    assert (node1.run_dir / "httpd.pid").read_text() == httpd_pid, "httpd was restarted"
    assert _no_fencing(site)


def test_failed_resource_is_recovered_in_place(make_site: SiteFactory) -> None:
    """ResourceRecover: the web server dies; it is restarted on node1 and counted once."""
    site = make_site(3, watchdog=False)
    _boot_all(site)
    node1 = site.nodes["node1"]
    pid = (node1.run_dir / "httpd.pid").read_text().strip()
    node1.run(["kill", "-9", pid])
    wait_for(lambda: (node1.run_dir / "httpd.pid").exists()
             and (node1.run_dir / "httpd.pid").read_text().strip() not in ("", pid),
             _TIMEOUT, message="httpd restarted")
    site.audit(up=site.names, holder="node1")
    status = site.status("node2")
    assert status is not None
    failed = [f for f in status.failed_actions if f.action == "monitor"]
    assert len(failed) == 1 and failed[0].node == "node1", status.failed_actions
    assert site.vip_observer.moves() == 0


@pytest.mark.parametrize("cut", ["node3", "node1"])
def test_partition_heals(make_site: SiteFactory, cut: str) -> None:
    """SplitBrainTest with fencing: one node is cut off from the other two.

    A cut-off bystander is not shot (it holds nothing) and rejoins when the
    cable is back.  A cut-off holder is fenced by the majority before the group
    starts there; booted again it rejoins and the group fails back."""
    site = make_site(3, watchdog=False)
    _boot_all(site)
    node = site.nodes[cut]
    node.block(site.hb)
    rest = [n for n in site.names if n != cut]
    if cut == "node3":
        site.audit(up=rest, holder="node1", cut_off=["node3"])  # alone: no quorum, holds nothing
        status = site.status("node3")
        assert status is not None and not status.quorate and status.members == ("node3",)
        node.unblock(site.hb)
        assert _no_fencing(site)
    else:
        wait_for(lambda: not node.powered, _TIMEOUT, message="node1 fenced")
        site.audit(up=rest, holder="node2")
        node.unblock(site.hb)
        site.start("node1")
    site.audit(up=site.names, holder="node1")


def test_paused_node_longer_than_deadtime(make_site: SiteFactory) -> None:
    """A frozen bystander is only declared dead and welcomed back; a frozen holder
    may wake up holding the group, so it is fenced before the group moves."""
    site = make_site(3, watchdog=False)
    _boot_all(site)
    deadtime = site.options.deadtime_ms / 1000
    site.nodes["node3"].pause()
    site.audit(up=["node1", "node2"], holder="node1", cut_off=["node3"])
    time.sleep(deadtime)                     # a fault's duration: frozen past deadtime
    site.nodes["node3"].resume()
    site.audit(up=site.names, holder="node1")
    assert _no_fencing(site)
    site.nodes["node1"].pause()
    wait_for(lambda: not site.nodes["node1"].powered, _TIMEOUT, message="node1 fenced")
    site.audit(up=["node2", "node3"], holder="node2")
    site.start("node1")
    site.audit(up=site.names, holder="node1")


def test_standby_and_back(make_site: SiteFactory) -> None:
    """Standby survives a crmd crash on the standby node (no move back), then
    hb_takeover brings the group home."""
    site = make_site(3, watchdog=False)
    _boot_all(site)
    done = site.tool("node1", "standby", "all")
    assert done.returncode == 0, done.stdout + done.stderr
    site.audit(up=site.names, holder="node2")
    moves = site.vip_observer.moves()
    node1 = site.nodes["node1"]
    old = site.kill_daemon("node1", "cluster: crmd")
    wait_for(lambda: node1.pid_of("cluster: crmd") not in (None, old), _TIMEOUT,
             message="crmd respawned")
    wait_for(lambda: "left: standby [all]" in site.log("node1", "crmd"), _TIMEOUT,
             message="the respawned crmd recalls its standby")
    site.audit(up=site.names, holder="node2")
    for name in site.names:
        status = site.status(name)
        assert status is not None
        assert {n.name: n.state for n in status.nodes}["node1"] == "standby", name
    assert site.vip_observer.moves() == moves, "the group moved after a crmd crash"
    done = site.tool("node1", "takeover", "all")
    assert done.returncode == 0, done.stdout + done.stderr
    site.audit(up=site.names, holder="node1")


def test_whole_stack_restarted_under_running_resources(make_site: SiteFactory) -> None:
    """Reattach: every node's stack dies at once (the resources keep running) and
    starts again: the group is found running on node1 and adopted, not restarted."""
    site = make_site(3, watchdog=False, stonith=False, filesystem=False)
    serving = _boot_all(site)
    node1 = site.nodes["node1"]
    httpd_pid = (node1.run_dir / "httpd.pid").read_text()
    for name in site.names:
        site.mcp[name].kill()
    for name in site.names:
        for pid, line in site.nodes[name].processes().items():
            if line.startswith("cluster: "):
                site.nodes[name].run(["kill", "-9", str(pid)], check=False)
    wait_for(lambda: all(not line.startswith("cluster: ")
                         for n in site.nodes.values() for line in n.processes().values()),
             _TIMEOUT, message="every stack gone")
    assert node1.has_address(site.vip) and site.answer() == "node1"
    starts_before = _start_decisions(site)
    site.start()
    site.audit(up=site.names, holder="node1")
    assert (node1.run_dir / "httpd.pid").read_text() == httpd_pid, "httpd was restarted"
    assert not _gaps_since(site, serving), "the address was dropped"
    assert _start_decisions(site) == starts_before, "the group was started again"
    assert "probe httpd: ok" in site.log("node1", "crmd")      # found running: adopted


def _start_decisions(site: Site) -> int:
    """How many times any crmd decided to start or stop the group."""
    return sum(site.log(name, "crmd").count(verb) for name in site.names
               for verb in ("): start ", "): stop "))
