"""Upgrading a live pair, as README's "Upgrading" section tells an admin to
(issue 14, part 6): node by node (standby, stop, upgrade, start, online),
detach and reattach (maintenance on, restart the stacks, maintenance off),
and a node started already in standby (``cluster-mcp --standby``).

The site is the classic one without the shared disk (see test_operator.py
for why): ``node1 IPaddr::VIP httpd``, ``auto_failback on``.  Two witnesses
that do not ask the cluster: the site's address observer (who holds the VIP,
every few ms) and a client (:class:`~cluster.lab.probes.AnswerLog`) asking
the web server every 10 ms.  The packages are not really replaced: between
stop and start the stack's code is what any upgrade leaves on disk, and
what these tests prove is that the procedure around it moves nothing more
than it says.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest

from cluster.lab import Lab
from cluster.lab.probes import AnswerLog
from cluster.lab.services import httpd_pid
from cluster.lab.site import Site, SiteOptions, started_site
from cluster.lab.waiting import stays

PAIR = ["node1", "node2"]
_QUIET = 5.0          # seconds in which auto_failback would certainly have moved the group
#: The longest silence of a client "served throughout": it asks every 10 ms, and
#: a loaded 2-core box may stall it for a few hundred.
_SERVED_GAP = 1.5


@pytest.fixture
def site(lab: Lab) -> Iterator[Site]:
    with started_site(lab, SiteOptions(nodes=2, filesystem=False)) as new:
        yield new


def _other(name: str) -> str:
    return next(n for n in PAIR if n != name)


def _longest_silence(answers: AnswerLog, since: float, until: float) -> float:
    """The longest stretch of [since, until] without an answer."""
    times = [since, *(t for t, _who in list(answers.answers) if since <= t <= until), until]
    return max(b - a for a, b in itertools.pairwise(times))


def _answered_by(answers: AnswerLog, since: float) -> set[str]:
    return {who for t, who in list(answers.answers) if t >= since}


def _upgrade(site: Site, name: str, holder: str) -> None:
    """README's node-by-node steps for `name`; the group must be on `holder`
    from the standby until the node is put online again."""
    peer = _other(name)
    site.cli(name, "crm_standby", "-N", name, "-v", "on")
    site.audit(up=PAIR, holder=holder)
    site.stop(name)
    site.audit(up=[peer], holder=holder)
    # ... the packages are upgraded here ...
    site.start(name)
    site.wait_everywhere(lambda s: sorted(s.members) == PAIR, f"{name} back in the membership")
    assert f"Node {name}: standby" in site.cli(peer, "crm_status")
    stays(lambda: None if (owners := site.vip_observer.owners_now()) == {holder}
          else f"{name} came back out of standby: {site.vip} held by {sorted(owners)}", 2.0)
    site.cli(peer, "crm_standby", "-N", name, "-v", "off")


def test_rolling_upgrade_moves_the_group_once_each_way_by_handover(site: Site) -> None:
    began = time.monotonic()
    with AnswerLog(site.client, site.vip) as answers:
        _upgrade(site, "node1", holder="node2")
        site.audit(up=PAIR, holder="node1")                # auto_failback on: home again
        second = time.monotonic()
        pid = httpd_pid(site.nodes["node1"])
        _upgrade(site, "node2", holder="node1")
        site.audit(up=PAIR, holder="node1")
        ended = time.monotonic()

    held = [owners for owners in site.vip_owners_since(began) if owners]
    assert held == [{"node1"}, {"node2"}, {"node1"}], f"{site.vip} held by {held}"
    site.assert_safe()
    assert _answered_by(answers, began) <= set(PAIR)
    # Upgrading the node that holds nothing is invisible to the client.
    assert httpd_pid(site.nodes["node1"]) == pid
    assert _answered_by(answers, second) == {"node1"}
    silence = _longest_silence(answers, second, ended)
    assert silence < _SERVED_GAP, f"the client went unanswered for {silence:.2f} s"
    for name in PAIR:
        crmd = site.log(name, "crmd")
        assert ": fencing node" not in crmd and "Resources being acquired from" not in crmd, \
            f"{name}: a failover, not a handover"


def test_detach_and_reattach_restarts_nothing(site: Site) -> None:
    n1 = site.nodes["node1"]
    pid = httpd_pid(n1)
    assert pid is not None
    with AnswerLog(site.client, site.vip) as answers:
        began = time.monotonic()
        site.cli("node2", "crm_attribute", "-n", "maintenance-mode", "-v", "true")
        site.wait_everywhere(lambda s: s.maintenance, "maintenance-mode on every node")
        site.stop()
        assert site.answer() == "node1", "the stacks stopped, the service did not"
        # ... the packages are upgraded here ...
        site.start()
        site.wait_everywhere(lambda s: sorted(s.members) == PAIR and s.maintenance
                             and site.holder_in(s) == "node1",
                             "both stacks back, in maintenance, adopting the group")
        site.cli("node1", "crm_attribute", "-n", "maintenance-mode", "-v", "false")
        site.wait_everywhere(lambda s: not s.maintenance, "maintenance-mode off everywhere")
        stays(lambda: None if httpd_pid(n1) == pid
              else f"restarted: web server pid {httpd_pid(n1)} (was {pid})", _QUIET)
        ended = time.monotonic()

    moved = [o for o in site.vip_owners_since(began) if o != {"node1"}]
    assert not moved, f"{site.vip} left node1: {moved}"
    assert _answered_by(answers, began) == {"node1"}
    silence = _longest_silence(answers, began, ended)
    assert silence < _SERVED_GAP, f"the client went unanswered for {silence:.2f} s"
    site.audit(up=PAIR, holder="node1")


def test_a_node_started_in_standby_takes_nothing_until_it_is_lifted(site: Site) -> None:
    site.stop("node1")
    site.audit(up=["node2"], holder="node2")
    began = time.monotonic()
    site.mcp["node1"] = site.nodes["node1"].start_stack("--standby")
    site.wait_everywhere(lambda s: sorted(s.members) == PAIR and s.nodes[0].state == "standby",
                         "node1 joined, in standby")
    assert "Node node1: standby" in site.cli("node2", "crm_status")
    assert site.cli("node1", "crm_standby", "-N", "node1", "-G", "-Q") == "on\n"
    # node1 is preferred, auto_failback is on and node2 is up: only the standby holds it off.
    stays(lambda: None if (owners := site.vip_observer.owners_now()) == {"node2"}
          else f"{site.vip} held by {sorted(owners)}", _QUIET)
    held = [o for o in site.vip_owners_since(began) if "node1" in o]
    assert not held, f"node1 held {site.vip} while in standby: {held}"

    site.cli("node2", "crm_standby", "-N", "node1", "-v", "off")
    site.audit(up=PAIR, holder="node1")
    assert "starting in standby: node1 takes no resource group" in site.log("node1", "mcp")
