"""Day-two operations on a real two-node cluster: crm_resource, crm_standby,
crm_failcount, crm_node, crm_attribute, maintenance mode and crm_simulate
(issue 14, parts 1, 2 and 7).

The site is the classic one (:mod:`cluster.lab.site`) without the shared
disk: ``node1 IPaddr::VIP httpd``.  (``ip netns exec`` gives every stack its
own mount namespace, so a mount cannot outlive the stack that made it as it
does on a real machine; the maintenance-mode restart needs it to.)  The
address observer watches the VIP from outside throughout: "no gap" below means
it never left node1, sampled every few milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from cluster.common.procfs import process_state
from cluster.lab import Lab, wait_for
from cluster.lab.probes import cli_tool
from cluster.lab.services import httpd_pid
from cluster.lab.site import Site, SiteOptions, started_site
from cluster.lab.waiting import stays

PAIR = ["node1", "node2"]
_TIMEOUT = 60.0
_QUIET = 5.0          # seconds of "nothing happens": five monitor intervals


@pytest.fixture
def site(lab: Lab) -> Iterator[Site]:
    with started_site(lab, SiteOptions(nodes=2, filesystem=False)) as new:
        yield new


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for its reaper (as the init script checks)."""
    return process_state(pid) not in ("", "Z")


def _vip_never_left(site: Site, holder: str, since: float) -> None:
    moved = [o for o in site.vip_owners_since(since) if o != frozenset({holder})]
    assert not moved, f"{site.vip} left {holder}: {moved}"


def test_maintenance_mode_touches_nothing_and_its_end_restarts_only_the_dead(
        site: Site) -> None:
    n1 = site.nodes["node1"]
    began = time.monotonic()
    site.cli("node2", "crm_attribute", "-n", "maintenance-mode", "-v", "true")
    site.wait_everywhere(lambda s: s.maintenance, "maintenance-mode on every node")
    assert site.cli("node1", "crm_attribute", "-n", "maintenance-mode", "-G") == \
        "scope=crm_config  name=maintenance-mode value=true\n"
    text = site.cli("node1", "crm_status")
    assert "*** Resource management is DISABLED ***" in text and "(unmanaged)" in text

    killed = httpd_pid(n1)
    assert killed is not None
    n1.run(["kill", "-9", str(killed)])
    wait_for(lambda: not _alive(killed), _TIMEOUT, message="the web server dead")

    def left_alone() -> str | None:
        pid, served = httpd_pid(n1), site.answer()
        if pid == killed and served == "":
            return None
        return f"the killed web server was restarted: pid {pid}, client served by {served!r}"

    stays(left_alone, _QUIET)

    out = site.cli("node1", "crm_attribute", "-n", "maintenance-mode", "-D")
    assert out == ("Deleted crm_config option: id=cib-bootstrap-options-maintenance-mode "
                   "name=maintenance-mode\n")
    site.wait_served_by("node1")
    assert httpd_pid(n1) != killed
    _vip_never_left(site, "node1", began)

    # A stack restart in maintenance mode restarts nothing.
    site.cli("node1", "crm_attribute", "-n", "maintenance-mode", "-v", "true")
    site.wait_everywhere(lambda s: s.maintenance, "maintenance-mode on every node")
    pid = httpd_pid(n1)
    assert pid is not None
    site.stop("node1")
    assert site.answer() == "node1", "the stack stopped, the service did not"
    site.start("node1")
    wait_for(lambda: (s := site.status("node1")) is not None and sorted(s.members) == PAIR
             and site.holder_in(s) == "node1", _TIMEOUT, message="node1 back, adopting it")
    assert "maintenance-mode: leaving every resource running" in site.log("node1", "crmd")
    site.cli("node2", "crm_attribute", "-n", "maintenance-mode", "-v", "false")
    site.wait_everywhere(lambda s: not s.maintenance, "maintenance-mode off everywhere")
    stays(lambda: None if httpd_pid(n1) == pid and site.answer() == "node1"
           else "the web server was restarted", _QUIET)
    _vip_never_left(site, "node1", began)
    site.audit(up=PAIR, holder="node1")


def _kill_until_banned(site: Site, name: str) -> None:
    """Kill the web server on `name` three times (the threshold): restarted twice,
    then the node is banned for the group."""
    node = site.nodes[name]
    for kill in range(3):
        pid = httpd_pid(node)
        assert pid is not None
        node.run(["kill", "-9", str(pid)])
        if kill < 2:
            wait_for(lambda p=pid: httpd_pid(node) not in (None, p)  # type: ignore[misc]
                     and site.answer() == name, _TIMEOUT, message=f"restarted on {name}")


def test_cleanup_brings_back_a_group_banned_everywhere_by_failures(site: Site) -> None:
    _kill_until_banned(site, "node1")
    site.wait_served_by("node2")
    _kill_until_banned(site, "node2")
    site.audit(up=PAIR, holder=None)
    assert site.cli("node2", "crm_failcount", "-G", "-r", "httpd", "-N", "node1") == \
        "scope=status  name=fail-count-httpd value=3\n"
    assert site.cli("node2", "crm_failcount", "-G", "-Q", "-r", "httpd", "-N", "node2") == "3\n"
    why = site.cli("node1", "crm_resource", "--why", "-r", "httpd")
    assert "is not running" in why and "banned (fail count 3 >= 3)" in why

    out = site.cli("node2", "crm_resource", "--cleanup", "-r", "httpd")
    key = f"IPaddr::{site.vip}/24/eth0"
    assert out == f"Cleaned up {key} on node1\nCleaned up {key} on node2\n"
    site.audit(up=PAIR, holder="node1")
    assert site.cli("node1", "crm_failcount", "-G", "-r", "httpd", "-N", "node1") == \
        "scope=status  name=fail-count-httpd value=0\n"
    assert "Failed Resource Actions" not in site.cli("node1", "crm_status")


def test_simulate_move_ban_clear_lifetimes_and_standby_forever_across_a_restart(site: Site) -> None:
    assert site.cli("node2", "crm_node", "-l") == "1 node1 member\n2 node2 member\n"
    assert site.cli("node2", "crm_node", "-p") == "node1 node2\n"
    assert site.cli("node2", "crm_node", "-q") == "1\n"
    key = f"IPaddr::{site.vip}/24/eth0"
    assert site.cli("node1", "crm_resource", "--list").startswith(
        f"Full List of Resources:\n  * Resource Group: {key}:\n    * {key.replace('/', '_')}")
    out = site.cli("node2", "crm_simulate", "-L", "--node-fail", "node1")
    assert f"  * Move       {key}\t( node1 -> node2 )" in out
    assert out.index("Fencing node1 (reboot)") < out.index(f"{key} start on node2")
    out = site.cli("node1", "crm_simulate", "--standby", "node1")
    assert out.index(f"{key} stop on node1") < out.index(f"{key} start on node2")
    site.audit(up=PAIR, holder="node1")                    # nothing was done

    out = site.cli("node2", "crm_resource", "--ban", "-r", "httpd")
    assert out.startswith(f"WARNING: Creating rsc_location constraint 'cli-ban-{key}-on-node1'"
                          f" with a score of -INFINITY for resource {key} on node1.\n")
    assert "This will be the case even if node1 is the last node in the cluster" in out
    site.audit(up=PAIR, holder="node2")
    assert site.cli("node1", "crm_resource", "--locate", "-r", "httpd") == \
        "resource httpd is running on: node2\n"
    assert site.cli("node1", "crm_resource", "-W", "-Q", "-r", key) == "node2\n"
    assert f"cli-ban-{key}-on-node1\tprevents {key} from running on node1" in \
        site.cli("node1", "crm_status")
    assert site.cli("node1", "crm_resource", "--clear", "-r", "httpd") == \
        f"Removing constraint: cli-ban-{key}-on-node1\n"

    # A ban for 5 s off node2 sends it home; once it expires, it stays there.
    out = site.cli("node2", "crm_resource", "--ban", "-r", "httpd", "-N", "node2",
                   "--lifetime", "PT5S")
    assert out.startswith("Migration will take effect until: ")
    site.audit(up=PAIR, holder="node1")
    site.wait_everywhere(lambda s: s.constraints == (), "cli-ban expired")
    assert "cli-ban" not in site.cli("node2", "crm_status")
    site.audit(up=PAIR, holder="node1")

    site.cli("node2", "crm_standby", "-N", "node1", "-v", "on")
    site.audit(up=PAIR, holder="node2")
    site.stop()
    site.start()
    site.audit(up=PAIR, holder="node2")
    assert site.cli("node2", "crm_standby", "-N", "node1", "-G") == \
        "scope=nodes  name=standby value=on\n"
    assert "Node node1: standby" in site.cli("node1", "crm_status")
    site.cli("node1", "crm_standby", "-N", "node1", "-v", "off")
    site.wait_everywhere(lambda s: s.nodes[0].state == "online", "node1 online everywhere")
    assert site.cli("node2", "crm_standby", "-N", "node1", "-G", "-Q") == "off\n"
    site.cli("node1", "crm_resource", "--move", "-r", "httpd", "-N", "node1")
    site.audit(up=PAIR, holder="node1")
    pid = httpd_pid(site.nodes["node1"])
    site.cli("node2", "crm_resource", "--restart", "-r", "httpd")
    site.cli("node1", "crm_resource", "--wait", "-T", "30s")
    site.audit(up=PAIR, holder="node1")
    assert httpd_pid(site.nodes["node1"]) not in (None, pid)

    site.cli("node2", "crm_resource", "--unmanage", "-r", "httpd")
    site.wait_everywhere(lambda s: s.unmanaged == (key,), "unmanaged everywhere")
    assert "httpd\t(httpd):\t Started node1 (unmanaged)" in site.cli("node1", "crm_status")
    refused = cli_tool(site.nodes["node1"], "crm_resource", "--restart", "-r", "httpd")
    assert refused.returncode == 1 and "not managed" in refused.stderr
    site.cli("node1", "crm_resource", "--manage", "-r", "httpd")
    site.wait_everywhere(lambda s: s.unmanaged == (), "managed again everywhere")
    assert "(unmanaged)" not in site.cli("node2", "crm_status")
