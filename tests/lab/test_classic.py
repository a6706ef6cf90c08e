"""The six tests admins run before trusting an HA pair, on the classic two-node site.

The site (:mod:`cluster.lab.site`): a heartbeat LAN, a null-modem cable and a
public LAN with a router (ipfail's ping node) and a client; on node1 the group
``Filesystem`` (ext4 on a shared loop device) + ``IPaddr`` + a real web server;
every node has an RPS-10 simulator feeding its peer and a watchdog simulator.
Two observers watch the address and the mount from outside the whole time:
at the end of every test neither was ever held by two nodes.  `Site.audit`
checks, on every node, membership, where crmd says the group runs, the kernel's
view (address, mount), what the client is served, and that a stopped node left
no process, socket or address behind.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from cluster.bus.messages.stonithd import NodeFenced
from cluster.lab import Lab, wait_for
from cluster.lab.arpwatch import ArpWatch
from cluster.lab.events import Event, EventLog
from cluster.lab.site import Site, SiteOptions

_TIMEOUT = 60.0
PAIR = ["node1", "node2"]


@pytest.fixture
def site(lab: Lab) -> Iterator[Site]:
    new = Site(lab, SiteOptions(nodes=2))
    new.start()
    new.audit(up=PAIR, holder="node1")
    yield new
    new.close()
    new.assert_safe()


def _fenced(node: str) -> object:
    return lambda event: isinstance(event.msg, NodeFenced) and event.msg.node == node and \
        event.msg.ok


def _first_held_by(site: Site, name: str, since: float) -> float:
    return site.vip_observer.first_held_by(name, since)


def _took_over_after_fence(site: Site, fenced: Event, since: float) -> None:
    """node1 was off before node2 held anything; node2 holds it all now."""
    took = _first_held_by(site, "node2", since)
    last_n1 = max(s.last for s in site.vip_observer.timeline if "node1" in s.owners)
    assert fenced.at <= took and last_n1 <= took
    assert site.switches["node2"].commands == [("0", "T")]
    assert not site.nodes["node1"].powered


def test_1_pull_the_primarys_power(site: Site) -> None:
    """The backup fences the dead primary, takes over, and tells the LAN (gratuitous ARP)."""
    node2_mac = site.nodes["node2"].mac(site.public)
    with ArpWatch(site.client, "eth0", site.vip) as arp, \
            EventLog(site.nodes["node2"].run_dir, "stonithd", ["fence"]) as fences:
        cut = time.monotonic()
        site.power_off("node1")
        fenced = fences.wait_for(_fenced("node1"), _TIMEOUT, "node1 fenced")  # type: ignore[arg-type]
        served = site.wait_served_by("node2")
        announced = arp.wait_for_mac(node2_mac, _TIMEOUT, since=cut)
    _took_over_after_fence(site, fenced, cut)
    assert announced >= fenced.at     # announced by the new owner, after the fence
    site.audit(up=["node2"], holder="node2")
    assert "node node1 now reset." in site.log("node2", "stonithd")
    print(f"\npower off -> fenced {fenced.at - cut:.2f} s -> served by node2 {served - cut:.2f} s")


def test_2_hb_standby_on_the_primary_then_on_the_backup(site: Site) -> None:
    done = site.tool("node1", "standby", "all")
    assert done.returncode == 0, done.stdout + done.stderr
    site.audit(up=PAIR, holder="node2")
    done = site.tool("node2", "standby", "all")
    assert done.returncode == 0, done.stdout + done.stderr
    site.audit(up=PAIR, holder="node1")
    assert site.switches["node1"].commands == [] and site.switches["node2"].commands == []


def test_3_pull_the_primarys_public_cable(site: Site) -> None:
    """ipfail sees node2 reach the ping node while node1 does not: the group moves."""
    pulled = time.monotonic()
    site.nodes["node1"].pull_cable(site.public)
    site.wait_served_by("node2")
    moved = time.monotonic() - pulled
    site.nodes["node1"].plug_cable(site.public)
    # auto_failback on: once node1 reaches the ping node again the group comes home.
    site.audit(up=PAIR, holder="node1")
    assert "ipfail" in site.log("node1", "mcp")
    assert site.switches["node2"].commands == []     # a cable is not a reason to shoot
    print(f"\npublic cable pulled -> served by node2 {moved:.2f} s")


def test_4_cut_every_heartbeat_path(site: Site) -> None:
    """No heartbeat on any path: node2 must fence node1 before it starts the group."""
    assert site.cable is not None
    with EventLog(site.nodes["node2"].run_dir, "stonithd", ["fence"]) as fences:
        cut = time.monotonic()
        site.nodes["node1"].block(site.hb)
        site.cable.pull()
        fenced = fences.wait_for(_fenced("node1"), _TIMEOUT, "node1 fenced")  # type: ignore[arg-type]
        site.wait_served_by("node2")
    _took_over_after_fence(site, fenced, cut)
    site.nodes["node1"].unblock(site.hb)
    site.cable.plug()
    site.audit(up=["node2"], holder="node2")
    print(f"\nall paths cut -> fenced {fenced.at - cut:.2f} s")


def test_5_kill_9_the_primarys_master_control_process(site: Site) -> None:
    """Nobody feeds node1's watchdog any more: it resets node1, node2 takes over."""
    dog = site.dogs["node1"]
    dog.wait_for("armed", _TIMEOUT)
    killed = time.monotonic()
    site.mcp["node1"].kill()
    reset = dog.wait_fired(_TIMEOUT)
    site.wait_served_by("node2")
    assert reset - killed <= dog.timeout + 1.0, f"reset {reset - killed:.2f} s after kill -9"
    assert reset <= _first_held_by(site, "node2", killed)
    wait_for(lambda: not site.nodes["node1"].powered, _TIMEOUT, message="node1 reset")
    site.audit(up=["node2"], holder="node2")
    print(f"\nkill -9 mcp -> watchdog reset {reset - killed:.2f} s")


def test_6_reboot_both_nodes(site: Site) -> None:
    """Both nodes go down in an orderly way and boot together: the group runs on node1,
    its preferred node, although it ran on node2 before the reboot."""
    done = site.tool("node1", "standby", "all")
    assert done.returncode == 0, done.stdout + done.stderr
    site.audit(up=PAIR, holder="node2")
    site.stop()
    site.audit(up=[], holder=None)
    site.start()
    site.audit(up=PAIR, holder="node1")
    for dog in site.dogs.values():
        assert dog.count("magic close") >= 1 and dog.fired_at is None
