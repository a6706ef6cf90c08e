"""ipfail between real namespaces: a pulled uplink moves the service, both pulled move nothing.

Two nodes joined by a heartbeat LAN and a serial line; each has its own cable
to a public LAN holding a router (the ping node) and a client.  The VIP and
a web server run on node1.  An OwnershipObserver samples who holds the VIP
all along: never two owners, and its timeline counts the moves.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from cluster.lab import Lab, Lan, Node, OwnershipObserver
from cluster.lab.probes import served_by
from cluster.lab.services import httpd_script
from cluster.lab.waiting import wait_for

DEADPING = 0.5
HA_CF = """\
keepalive 100ms
deadtime 1
warntime 500ms
initdead 2
deadping 500ms
auto_failback {failback}
bcast eth0
baud 115200
serial {tty}
ping {router}
respawn hacluster /usr/lib/heartbeat/ipfail
node node1 node2
"""


@dataclass
class Site:
    n1: Node
    n2: Node
    public: Lan
    client: Node
    vip: str
    observer: OwnershipObserver

    def answer(self) -> str:
        return served_by(self.client, self.vip)

    def wait_served_by(self, name: str, timeout: float = 30.0) -> float:
        wait_for(lambda: self.answer() == name, timeout, interval=0.05,
                 message=f"client served by {name}")
        return time.monotonic()

    def moves(self) -> int:
        return self.observer.moves()


@pytest.fixture
def site(lab: Lab) -> Iterator[object]:
    observers: list[OwnershipObserver] = []

    def build(failback: str) -> Site:
        hb, public = lab.add_lan("hb"), lab.add_lan("public")
        n1, n2 = lab.add_node("node1", [hb, public]), lab.add_node("node2", [hb, public])
        router = lab.add_host("router", [public])
        client = lab.add_host("client", [public])
        cable = lab.serial_link(n1, n2)
        vip = public.host(200)
        for node in (n1, n2):
            node.write_config(
                ha_cf=HA_CF.format(failback=failback, tty=cable.path(node),
                                   router=router.address(public)),
                haresources=f"node1 IPaddr::{vip}/24/eth1 httpd\n",
                files={"resource.d/httpd": httpd_script(node)})
        observer = OwnershipObserver([n1, n2], vip).start()
        observers.append(observer)
        built = Site(n1, n2, public, client, vip, observer)
        n1.start_stack()
        n2.start_stack()
        built.wait_served_by("node1", timeout=60)
        return built

    yield build
    for observer in observers:
        observer.stop()
        observer.assert_safe()


@pytest.mark.parametrize("failback", ["on", "off"])
def test_pulled_uplink_moves_the_group_and_plugging_back_follows_auto_failback(
        site: object, failback: str) -> None:
    s: Site = site(failback)  # type: ignore[operator]
    pulled = time.monotonic()
    s.n1.pull_cable(s.public)
    served = s.wait_served_by("node2", timeout=DEADPING + 10)
    assert served - pulled <= DEADPING + 2.0, f"moved after {served - pulled:.2f} s"
    s.n1.plug_cable(s.public)
    if failback == "on":
        s.wait_served_by("node1", timeout=30)
        assert s.moves() == 2
    else:
        # Give ipfail every chance to (wrongly) move it back: its hold time, then some.
        deadline = time.monotonic() + 8.0
        while time.monotonic() < deadline:
            assert s.answer() == "node2"
            time.sleep(0.5)
        assert s.moves() == 1


def test_a_respawned_ipfail_still_lifts_the_standby_it_asked_for(site: object) -> None:
    """ipfail gave node1's group up, then crashed: the new ipfail knows, and
    brings the group home when the cable is back (auto_failback on)."""
    s: Site = site("on")  # type: ignore[operator]
    s.n1.pull_cable(s.public)
    s.wait_served_by("node2", timeout=DEADPING + 10)
    old = s.n1.pid_of("cluster: ipfail")
    assert old is not None
    s.n1.run(["kill", "-9", str(old)])
    wait_for(lambda: s.n1.pid_of("cluster: ipfail") not in (None, old), 30,
             message="ipfail respawned")
    wait_for(lambda: "an earlier ipfail of this stack gave" in s.n1.daemon_log("ipfail"), 30,
             message="the respawned ipfail recalls giving up")
    s.n1.plug_cable(s.public)
    s.wait_served_by("node1", timeout=30)
    assert s.moves() == 2

def test_both_uplinks_pulled_moves_nothing(site: object) -> None:
    s: Site = site("off")  # type: ignore[operator]
    s.n1.pull_cable(s.public)
    s.n2.pull_cable(s.public)
    deadline = time.monotonic() + DEADPING + 5.0
    while time.monotonic() < deadline:
        assert s.observer.owners_now() == {"node1"}
        time.sleep(0.2)
    assert s.moves() == 0


def test_a_flapping_uplink_moves_at_most_once(site: object) -> None:
    s: Site = site("off")  # type: ignore[operator]
    for _ in range(10):   # 20 s: one second out, one second in
        s.n1.pull_cable(s.public)
        time.sleep(1.0)
        s.n1.plug_cable(s.public)
        time.sleep(1.0)
    time.sleep(2.0)
    assert s.moves() <= 1
