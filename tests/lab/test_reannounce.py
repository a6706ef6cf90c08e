"""After a partition heals, the node that keeps the address tells the LAN again (issue #13).

Two nodes without STONITH, ``node1 IPaddr::VIP/24/eth0 httpd`` (or Debian's
``ocf:heartbeat:IPaddr2``), keepalive 100 ms, deadtime 500 ms.  Cutting the
heartbeat LAN makes both nodes hold the group (expected without fencing), and
node2's gratuitous ARP points the client at node2.  When the LAN is back, crmd
keeps the group on node1 and stops it on node2; node1 must then announce the
address again, or the client, whose ARP cache nobody flushes, keeps sending to
node2's MAC until its neighbour entry goes stale (about 10 s).

The client is a separate namespace asking the address every 10 ms
(`AnswerLog`); the site's `OwnershipObserver` samples the kernels.  Each of
the heals must have the client answered by node1 within 1 s, and from the
moment node1 is seen as the only holder the address never has two owners.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cluster.lab import Lab
from cluster.lab.probes import AnswerLog
from cluster.lab.site import Site, SiteOptions

_TIMEOUT = 60.0
_ANSWER_BOUND = 1.0     # the acceptance bound: keeper answers within 1 s of the heal
_PARTITION = 1.5        # how long the LAN stays cut once node2 serves (the fault's duration)
PAIR = ["node1", "node2"]
_OCF_IPADDR2 = Path("/usr/lib/ocf/resource.d/heartbeat/IPaddr2")
SiteFactory = Callable[[bool], Site]


@pytest.fixture
def make_site(lab: Lab) -> Iterator[SiteFactory]:
    made: list[Site] = []

    def build(ocf: bool) -> Site:
        site = Site(lab, SiteOptions(nodes=2, serial=False, stonith=False, watchdog=False,
                                     ipfail=False, filesystem=False, ocf_address=ocf))
        made.append(site)
        return site

    yield build
    for site in made:
        site.close()


def _partition_and_heal(site: Site, answers: AnswerLog) -> tuple[float, float]:
    """Cut the heartbeat LAN until node2 serves, restore it; (heal time, node1's first
    answer after it).  The address is held by both nodes in between."""
    node2 = site.nodes["node2"]
    cut = time.monotonic()
    node2.block(site.hb)
    try:
        answers.first_from("node2", cut, _TIMEOUT)
        assert site.vip_observer.owners_now() == {"node1", "node2"}
        time.sleep(_PARTITION)
    finally:
        healed = time.monotonic()
        node2.unblock(site.hb)
    return healed, answers.first_from("node1", healed, _TIMEOUT)


@pytest.mark.parametrize(("ocf", "heals"), [(False, 5), (True, 2)], ids=["IPaddr", "ocf-IPaddr2"])
def test_keeper_reannounces_after_a_partition_heals(make_site: SiteFactory, ocf: bool,
                                                    heals: int) -> None:
    if ocf and not _OCF_IPADDR2.is_file():
        pytest.skip("resource-agents is not installed")
    site = make_site(ocf)
    site.start()
    site.audit(up=PAIR, holder="node1")
    delays: list[float] = []
    with AnswerLog(site.client, site.vip) as answers:
        answers.first_from("node1", 0.0, _TIMEOUT)
        for _ in range(heals):
            healed, answered = _partition_and_heal(site, answers)
            delays.append(answered - healed)
            site.audit(up=PAIR, holder="node1")
            processed = site.vip_observer.first_held_by("node1", healed)
            late = [v for v in site.vip_observer.violations() if v.end >= processed]
            assert not late, f"two owners after node2 released the address: {late}"
            assert delays[-1] <= _ANSWER_BOUND, (
                f"heal {len(delays)}: node1 answered {delays[-1]:.2f} s after the heal "
                f"(all so far: {[round(d, 2) for d in delays]})\n{site.log_tails()}")
    assert not site.vip_observer.failures() and site.vip_observer.crashed is None
    said = "kept here; announcing"
    assert site.log("node1", "crmd").count(f"released by node2, {said}") == heals  # once a heal
    assert said not in site.log("node2", "crmd")                # only by the keeper
    print(f"\nkeeper answered after each heal: {', '.join(f'{d:.2f} s' for d in delays)}")

