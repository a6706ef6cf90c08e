"""``cluster-mcp reload`` on live namespace clusters (issue #14 part 3).

A wrong file changes nothing (exit 1, ``file:line``, every daemon keeps its pid
and its configuration); heartbeat media, nodes and ping nodes added and removed
by a reload show in ``cl_status`` without a restart and without the peer ever
declared dead; an edited haresources touches only the groups that changed; a
three-step authkeys rotation loses no heartbeat.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from cluster.bus import endpoints
from cluster.bus.client import request
from cluster.bus.messages.hbcomm import CountersResult, GetCounters, GetNodes, NodesResult
from cluster.bus.messages.mcp import ChildrenResult, GetChildren
from cluster.lab import Lab, Node
from cluster.lab.events import EventLog
from cluster.lab.faultrun import ClientLoad
from cluster.lab.observer import OwnershipObserver
from cluster.lab.site import Site, SiteOptions
from cluster.lab.waiting import wait_for

HA_CF = """\
keepalive 100ms
deadtime 1
warntime 500ms
initdead 2
auto_failback off
{media}
node n1 n2
"""


def _mcp(node: Node, *args: str) -> tuple[int, str, str]:
    """Run ``cluster-mcp ARGS`` in the node against its own directories."""
    argv = [sys.executable, "-m", "cluster.mcp", *args, "-c", str(node.conf_dir),
            "--node", node.name, "--run-dir", str(node.run_dir),
            "--state-dir", str(node.state_dir), "--log-dir", str(node.log_dir)]
    done = node.run(argv, check=False, timeout=60)
    return done.returncode, done.stdout, done.stderr


def _cl_status(node: Node, *args: str) -> str:
    code = "import sys; from cluster.cli.cl_status import main; sys.exit(main())"
    return node.run([sys.executable, "-c", code, "--run-dir", str(node.run_dir), *args],
                    timeout=30, check=False).stdout


def _children(node: Node) -> dict[str, int | None]:
    reply = request(node.run_dir, "mcp", GetChildren(), timeout=5.0)
    assert isinstance(reply, ChildrenResult)
    return {child.name: child.pid for child in reply.children}


def _all_active(node: Node) -> bool:
    try:
        reply = request(node.run_dir, "hbcomm", GetNodes(), timeout=1.0)
    except Exception:
        return False
    return (isinstance(reply, NodesResult) and reply.comm_up
            and all(n.status == "active" for n in reply.nodes))


def _pair(lab: Lab, media: str) -> tuple[Node, Node]:
    hb, pub = lab.add_lan("hb"), lab.add_lan("pub")
    n1, n2 = lab.add_node("n1", [hb, pub]), lab.add_node("n2", [hb, pub])
    for node in (n1, n2):
        node.write_config(ha_cf=HA_CF.format(media=media))
        node.start_stack()
    for node in (n1, n2):
        wait_for(lambda n=node: _all_active(n) and _daemons_loaded(n), timeout=60,
                 message=f"{node.name} never saw both nodes active with every daemon up")
    return n1, n2


def _daemons_loaded(node: Node) -> bool:
    """Every daemon has read the configuration (its control socket exists only
    after that): a file edited before would be read by a daemon still starting."""
    return all(endpoints.control_path(node.run_dir, daemon).exists()
               for daemon in ("hbcomm", "ccm", "crmd"))


def test_a_reload_with_a_broken_file_changes_nothing(lab: Lab) -> None:
    n1, _n2 = _pair(lab, "bcast eth0")
    before = _children(n1)
    good = (n1.conf_dir / "ha.cf").read_text()
    broken = good.replace("keepalive 100ms", "keepalive 100ms\nbcast eth1\ndeadtime soon")
    (n1.conf_dir / "ha.cf").write_text(broken)
    bad_line = broken.splitlines().index("deadtime soon") + 1

    code, out, err = _mcp(n1, "reload")
    assert code == 1, (out, err)
    assert f"{n1.conf_dir / 'ha.cf'}:{bad_line}:" in err
    assert "nothing was reloaded" in err
    code, _out, err = _mcp(n1, "--check", "--diff")
    assert code == 1 and f"ha.cf:{bad_line}:" in err
    # SIGHUP (what `kill -HUP` and an old unit file send) reads the same file.
    mcp_pid = int((n1.run_dir / "cluster-mcp.pid").read_text())
    marker = len(n1.daemon_log("mcp"))
    os.kill(mcp_pid, signal.SIGHUP)
    wait_for(lambda: "configuration not reloaded" in n1.daemon_log("mcp")[marker:], timeout=20,
             message="the MCP logs that it kept the running configuration")
    assert f"ha.cf:{bad_line}:" in n1.daemon_log("mcp")[marker:]

    assert _children(n1) == before, "no daemon was restarted"
    assert "bcast eth1" not in _cl_status(n1, "listhblinks", "n2")
    assert "configuration reloaded" not in n1.daemon_log("hbcomm")

    (n1.conf_dir / "ha.cf").write_text(good.replace("deadtime 1", "deadtime 2"))
    code, out, err = _mcp(n1, "--check", "--diff")
    assert code == 0, err
    assert "a reload would apply" in out and "deadtime 1s -> 2s" in out
    assert "configuration reloaded" not in n1.daemon_log("hbcomm"), "a preview applies nothing"


def test_media_nodes_and_ping_nodes_changed_by_a_reload_show_in_cl_status(lab: Lab) -> None:
    n1, n2 = _pair(lab, "bcast eth0")
    pinged = n2.address(n2.lans[0])
    before = {node.name: _children(node) for node in (n1, n2)}
    events = EventLog(n1.run_dir, "hbcomm", ["node"])
    try:
        for node in (n1, n2):
            node.write_config(ha_cf=HA_CF.format(media=f"bcast eth0\nbcast eth1\nping {pinged}")
                              .replace("node n1 n2", "node n1 n2 n3"))
            code, out, err = _mcp(node, "reload")
            assert code == 0, err
            for change in ("heartbeat medium added: bcast eth1", "node added: n3",
                           f"ping node added: {pinged}"):
                assert change in out, out
        wait_for(lambda: "eth1\tup" in _cl_status(n1, "listhblinks", "-v", "n2"), timeout=20,
                 message="n1 hears n2 on the added eth1")
        wait_for(lambda: _cl_status(n1, "nodestatus", pinged).strip() == "ping", timeout=20,
                 message="the added ping node answers")
        assert "n3" in _cl_status(n1, "listnodes").split()

        for node in (n1, n2):
            node.write_config(ha_cf=HA_CF.format(media=f"bcast eth1\nping {pinged}"))
            code, out, err = _mcp(node, "reload")
            assert code == 0, err
            assert "heartbeat medium removed: bcast eth0" in out and "node removed: n3" in out
        wait_for(lambda: "eth0" not in _cl_status(n1, "listhblinks", "n2"), timeout=20,
                 message="eth0 no longer listed after its removal")
        assert "n3" not in _cl_status(n1, "listnodes").split()
        # Still alive over eth1 alone, a few deadtimes later.
        deadline = time.monotonic() + 3.0
        wait_for(lambda: time.monotonic() >= deadline, timeout=10, message="3 s passed")
        assert _cl_status(n1, "nodestatus", "n2").strip() == "active"
        assert _cl_status(n1, "hblinkstatus", "n2", "eth1").strip() == "up"
        dead = [e for e in events.events() if e.msg.status == "dead" and e.msg.node == "n2"]
        assert dead == [], f"n2 was declared dead during the reloads: {dead}"
    finally:
        events.close()
    assert {node.name: _children(node) for node in (n1, n2)} == before, "nothing restarted"


def _sleepers(node: Node) -> list[str]:
    return sorted(line for line in node.processes().values() if line.startswith("/bin/sleep"))


def test_respawn_lines_added_changed_removed_and_added_back(lab: Lab) -> None:
    n1, _n2 = _pair(lab, "bcast eth0")
    builtins = _children(n1)
    base = HA_CF.format(media="bcast eth0")
    steps = (("respawn root /bin/sleep 1000\n", ["/bin/sleep 1000"], "respawn added"),
             ("respawn root /bin/sleep 2000\n", ["/bin/sleep 2000"], "respawn removed"),
             ("", [], "respawn removed: root /bin/sleep 2000"),
             ("respawn root /bin/sleep 2000\n", ["/bin/sleep 2000"], "respawn added"))
    for lines, running, change in steps:
        n1.write_config(ha_cf=base + lines)
        code, out, err = _mcp(n1, "reload")
        assert code == 0 and change in out, (out, err)
        wait_for(lambda r=running: _sleepers(n1) == r, timeout=20,
                 message=f"running respawn programs: {running}")
        children = _children(n1)
        assert {name: children[name] for name in builtins} == builtins, "no daemon restarted"
        assert len(children) == len(builtins) + len(running), children


def _group_line(site: Site, owner: str, *hosts: int, extra: str = "") -> str:
    vips = " ".join(f"IPaddr::{site.public.host(h)}/24/eth0" for h in hosts)
    return f"{owner} {vips}{extra}\n"


def _write_haresources(site: Site, text: str) -> None:
    for node in site.nodes.values():
        (node.conf_dir / "haresources").write_text(text)


def test_a_reload_of_haresources_touches_only_the_groups_that_changed(lab: Lab) -> None:
    site = Site(lab, SiteOptions(serial=False, stonith=False, watchdog=False, ipfail=False,
                                 filesystem=False))
    web = _group_line(site, "node1", 200, extra=" httpd")
    _write_haresources(site, web + _group_line(site, "node1", 202)
                       + _group_line(site, "node2", 205))
    watch = {h: OwnershipObserver(list(site.nodes.values()), site.public.host(h)).start()
             for h in (202, 203, 204, 205)}
    site.start()
    site.wait_served_by("node1")
    for host, owner in ((202, "node1"), (205, "node2")):
        wait_for(lambda h=host, o=owner: watch[h].owners_now() == {o}, timeout=60,
                 message=f"{site.public.host(host)} held by {owner}")
    wait_for(lambda: (status := site.status("node1")) is not None
             and all(r.state == "started" for r in status.resources), timeout=60,
             message="every group reported started")
    node1 = site.nodes["node1"]
    httpd_pid = (node1.run_dir / "httpd.pid").read_text().strip()
    groups = {name: EventLog(node.run_dir, "crmd", ["group"])
              for name, node in site.nodes.items()}
    try:
        began = time.monotonic()
        _write_haresources(site, web + _group_line(site, "node1", 202, 203)
                           + _group_line(site, "node2", 204))
        for node in site.nodes.values():
            code, out, err = _mcp(node, "reload")
            assert code == 0, err
            assert f"group IPaddr::{site.public.host(202)}/24/eth0 changed" in out
            assert f"group IPaddr::{site.public.host(204)}/24/eth0 added on node2" in out
            assert f"group IPaddr::{site.public.host(205)}/24/eth0 removed" in out
        for host, owners in ((203, {"node1"}), (204, {"node2"}), (205, set()),
                             (202, {"node1"})):
            wait_for(lambda h=host, o=owners: watch[h].owners_now() == o, timeout=60,
                     message=f"{site.public.host(host)} held by {sorted(owners) or 'nobody'}")
        assert any(gap.start >= began for gap in watch[202].gaps()), \
            "the changed group was restarted"
        unchanged = f"IPaddr::{site.public.host(200)}/24/eth0"
        touched = [e.msg for log in groups.values() for e in log.events()
                   if e.msg.group == unchanged]
    finally:
        for log in groups.values():
            log.close()
    assert touched == [], f"the unchanged group changed state: {touched}"
    assert [g for g in site.vip_observer.gaps() if g.end >= began] == [], \
        "the unchanged group's address was never missing"
    assert (node1.run_dir / "httpd.pid").read_text().strip() == httpd_pid, \
        "its web server was not restarted"
    assert site.answer() == "node1"
    for observer in (site.vip_observer, *watch.values()):
        observer.assert_safe()


def _write_authkeys(node: Node, text: str) -> None:
    fd = os.open(node.conf_dir / "authkeys", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def _counter(node: Node, name: str) -> int:
    reply = request(node.run_dir, "hbcomm", GetCounters(), timeout=5.0)
    assert isinstance(reply, CountersResult)
    return reply.counters.get(name, 0)


def _bad_packets(node: Node) -> int:
    return _counter(node, "bad_total")


def _received(node: Node) -> int:
    return _counter(node, "received")


def test_a_three_step_key_rotation_on_a_live_pair_loses_no_heartbeat(lab: Lab) -> None:
    site = Site(lab, SiteOptions(serial=False, stonith=False, watchdog=False, ipfail=False,
                                 filesystem=False))
    old, new = "1 sha256 old-secret\n", "2 sha256 new-secret\n"
    for node in site.nodes.values():
        _write_authkeys(node, "auth 1\n" + old)
    site.start()
    site.wait_served_by("node1")
    began = time.monotonic()
    deaths = {name: EventLog(node.run_dir, "hbcomm", ["node"])
              for name, node in site.nodes.items()}
    client = ClientLoad(site, seconds=600, interval=0.05)
    try:
        # One node at a time, as an admin does it: between two reloads the nodes
        # disagree on the keys, and each step must still verify the other's packets.
        for step, keys, expect in (("add the new key", "auth 1\n" + old + new,
                                    "authentication key 2 added"),
                                   ("sign with it", "auth 2\n" + old + new,
                                    "signing key 1 -> 2"),
                                   ("drop the old key", "auth 2\n" + new,
                                    "authentication key 1 removed")):
            for node in site.nodes.values():
                _write_authkeys(node, keys)
                applied = node.daemon_log("hbcomm").count("configuration reloaded")
                code, out, err = _mcp(node, "reload")
                assert code == 0, f"{step} on {node.name}: {err}"
                assert expect in out, out
                wait_for(lambda n=node, a=applied:
                         n.daemon_log("hbcomm").count("configuration reloaded") > a,
                         timeout=20, message=f"hbcomm on {node.name} applied: {step}")
                # Ten heartbeats at least go by while the two nodes disagree.
                heard = _received(node)
                wait_for(lambda n=node, h=heard: _received(n) >= h + 10, timeout=20,
                         message=f"{node.name} goes on receiving after: {step}")
        dead = [(name, e.msg) for name, log in deaths.items() for e in log.events()
                if e.msg.status == "dead"]
        bad = {name: _bad_packets(node) for name, node in site.nodes.items()}
    finally:
        client.close()
        for log in deaths.values():
            log.close()
    assert dead == [], f"a node was declared dead during the rotation: {dead}"
    assert bad == {"node1": 0, "node2": 0}, f"packets failed verification: {bad}"
    assert client.answered > 0 and client.answers == {"node1"}, client.answers
    assert [o for o in client.outages if o[1] - o[0] > 0.5] == [], client.outages
    assert [g for g in site.vip_observer.gaps() if g.end >= began] == []
    site.vip_observer.assert_safe()
