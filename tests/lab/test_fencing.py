"""Fencing before takeover, end to end: a cut-off node is powered off before its group moves.

Two nodes on two LANs: ``public`` (eth0) carries the service address and the
client, ``hb`` (eth1) is the only heartbeat medium (``bcast eth1``).  Cutting
``hb`` therefore cuts every heartbeat path while node1 keeps its address on
``public``: if node2 took over without fencing, the :class:`OwnershipObserver`
on the VIP would see two owners.  The RPS-10 is the lab's simulator on a pty
(:mod:`cluster.lab.rps10`); the watchdog is the FIFO simulator
(:mod:`cluster.lab.watchdog_sim`).  Lab timings: keepalive 100 ms, deadtime
500 ms, initdead 1 s; node1 starts first and serves before node2 starts.
Every wait is bounded and event-driven; the only pauses are a fault's duration.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from cluster.bus.messages.stonithd import NodeFenced
from cluster.lab import Lab, Lan, Node, OwnershipObserver, wait_for
from cluster.lab.events import Event, EventLog
from cluster.lab.netns import ip
from cluster.lab.probes import log_tails, served_by
from cluster.lab.rps10 import Rps10Simulator
from cluster.lab.services import HTTP_PORT, httpd_script
from cluster.lab.watchdog_sim import WatchdogSimulator

pytestmark = pytest.mark.lab

_TIMEOUT = 30.0
_DEADTIME = 0.5
#: stonithd's bound on one failed request with a silent switch: 3 rounds of the
#: driver's 12 s wait for "RPS-10 Ready", 2 s apart, inside crmd's 60 s request.
_UNPLUGGED_TIMEOUT = 75.0
_CRM_STATUS = "import sys; from cluster.cli.crm_status import main; sys.exit(main(sys.argv[1:]))"

HA_CF = """\
keepalive 100ms
deadtime 500ms
warntime 300ms
initdead 1
auto_failback {failback}
bcast eth1
node node1 node2
"""


@dataclass
class Site:
    lab: Lab
    public: Lan
    hb: Lan
    n1: Node
    n2: Node
    client: Node
    vip: str
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    observers: list[OwnershipObserver] = field(default_factory=list)

    def node(self, name: str) -> Node:
        return self.n1 if name == "node1" else self.n2

    def watch(self, vip: str) -> OwnershipObserver:
        observer = OwnershipObserver([self.n1, self.n2], vip).start()
        self.observers.append(observer)
        return observer


@pytest.fixture
def site(lab: Lab) -> Iterator[Site]:
    public, hb = lab.add_lan("public"), lab.add_lan("hb")
    new = Site(lab, public, hb, lab.add_node("node1", [public, hb]),
               lab.add_node("node2", [public, hb]), lab.add_host("client", [public]),
               public.host(200))
    yield new
    for observer in new.observers:
        observer.stop()
    for observer in new.observers:
        observer.assert_safe()


def _configure(site: Site, extra: dict[str, str] | None = None, failback: str = "off",
               haresources: str | None = None) -> None:
    """The same ha.cf everywhere plus `extra[node]` lines; httpd in node1's group."""
    resources = haresources or f"node1 IPaddr::{site.vip}/24/eth0 httpd\n"
    for node in (site.n1, site.n2):
        node.write_config(ha_cf=HA_CF.format(failback=failback) + (extra or {}).get(node.name, ""),
                          haresources=resources,
                          files={"resource.d/httpd": httpd_script(node, HTTP_PORT)})


def _status_text(node: Node) -> str:
    done = node.run([sys.executable, "-c", _CRM_STATUS, "--run-dir", str(node.run_dir)],
                    check=False, timeout=10)
    return done.stdout if done.returncode == 0 else ""


def _holder(node: Node) -> str | None:
    """Where `node`'s crmd says the whole group runs (None: not fully started)."""
    done = node.run([sys.executable, "-c", _CRM_STATUS, "--run-dir", str(node.run_dir),
                     "--output-as=json"], check=False, timeout=10)
    if done.returncode != 0:
        return None
    places = {(r["state"], r["node"]) for r in json.loads(done.stdout)["resources"]}
    if len(places) == 1:
        state, where = places.pop()
        return str(where) if state == "started" else None
    return None


def _answer(site: Site, vip: str | None = None) -> str:
    """Which node answers http://VIP:8080/ from the client ("" if none)."""
    return served_by(site.client, vip or site.vip)


def _log(node: Node, daemon: str) -> str:
    return node.daemon_log(daemon)


def _log_tails(site: Site, lines: int = 30) -> str:
    return log_tails((site.n1, site.n2), ("crmd", "stonithd", "ccm"), lines)


def _wait_running_on(site: Site, name: str, timeout: float = _TIMEOUT) -> float:
    try:
        wait_for(lambda: site.node(name).has_address(site.vip) and _answer(site) == name,
                 timeout, interval=0.02, message=f"service on {name}")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{_log_tails(site)}") from None
    return time.monotonic()


def _start_both(site: Site, holder: str = "node1") -> None:
    """node1 first, serving, then node2, until node2's crmd agrees where the group runs."""
    site.procs["node1"] = site.n1.start_stack()
    _wait_running_on(site, "node1")
    site.procs["node2"] = site.n2.start_stack()
    wait_for(lambda: _holder(site.n2) == holder, _TIMEOUT, message="node2 agrees")


def _links_down(target: Node) -> bool:
    shown = ip("-o", "link", "show", netns=target.netns)
    return all(" state UP " not in line for line in shown.splitlines() if ": lo:" not in line)


def _fenced(node: str) -> Callable[[Event], bool]:
    return lambda event: isinstance(event.msg, NodeFenced) and event.msg.node == node


def _first_owned_by(observer: OwnershipObserver, name: str, since: float) -> float:
    return observer.first_held_by(name, since)


def _wait_stonithd(node: Node) -> None:
    wait_for(lambda: "is operational" in _log(node, "stonithd"), _TIMEOUT,
             message=f"{node.name}'s STONITH device checked")


# -- 1. fence, then take over ------------------------------------------------------------------

def test_cut_node_is_fenced_through_the_switch_before_node2_takes_over(site: Site) -> None:
    switch = Rps10Simulator({"0": site.n1}, lab=site.lab, toggle_delay=0.05)
    _configure(site, {"node2": f"stonith_host node2 rps10 {switch.path} node1 0\n"})
    observer = site.watch(site.vip)
    _start_both(site)
    _wait_stonithd(site.n2)
    with EventLog(site.n2.run_dir, "stonithd", ["fence"]) as fences:
        cut = time.monotonic()
        site.n1.block(site.hb)
        done = fences.wait_for(_fenced("node1"), _TIMEOUT, "node1 fenced")
        started = _wait_running_on(site, "node2")
    fenced, event = done.at, done.msg
    took_vip = _first_owned_by(observer, "node2", cut)
    assert event.ok and event.device == f"rps10 {switch.path}", event
    assert switch.commands == [("0", "T")]
    assert not site.n1.powered and site.n1.pids() == [] and _links_down(site.n1)
    # node1 held the address until the switch cut its power, node2 only after the fence.
    last_n1 = max(s.last for s in observer.timeline if "node1" in s.owners)
    assert last_n1 <= took_vip and fenced <= took_vip
    assert _DEADTIME <= fenced - cut < 10.0, f"fenced {fenced - cut:.2f} s after the cut"
    stonithd, crmd = _log(site.n2, "stonithd"), _log(site.n2, "crmd")
    assert f"Resetting node node1 with [rps10 {switch.path}]" in stonithd
    assert "node node1 now reset." in stonithd
    assert f"node node1 fenced (reset rps10 {switch.path})" in crmd
    assert "STONITH confirmed: node1 is off and holds nothing" in crmd
    print(f"\ncut -> fenced {fenced - cut:.2f} s -> VIP on node2 {took_vip - cut:.2f} s "
          f"-> client answered by node2 {started - cut:.2f} s")


# -- 2. no fence, no takeover ------------------------------------------------------------------

@pytest.mark.slow
def test_with_the_switch_unplugged_node2_does_not_take_over_and_says_why(site: Site) -> None:
    switch = Rps10Simulator({"0": site.n1}, lab=site.lab, toggle_delay=0.05)
    _configure(site, {"node2": f"stonith_host node2 rps10 {switch.path} node1 0\n"})
    observer = site.watch(site.vip)
    _start_both(site)
    _wait_stonithd(site.n2)
    switch.unplug()
    cut = time.monotonic()
    site.n1.block(site.hb)
    wait_for(lambda: "waiting for STONITH of node1" in _status_text(site.n2), _TIMEOUT,
             interval=0.1, message="crm_status on node2 says it waits for the fence")
    wait_for(lambda: "STONITH of node1 failed" in _status_text(site.n2), _UNPLUGGED_TIMEOUT,
             interval=0.2, message="crm_status on node2 says the fence failed")
    failed = time.monotonic()
    crmd = _log(site.n2, "crmd")
    assert "STONITH of node1 failed" in crmd and "no 'RPS-10 Ready' from the switch" in crmd
    assert "not starting it on node2: waiting for STONITH of node1" in crmd
    assert site.n1.powered and _answer(site) == "node1"
    assert not site.n2.has_address(site.vip)
    assert observer.owners_now() == {"node1"}
    assert all(s.owners <= {"node1"} for s in observer.timeline if s.last >= cut)
    assert switch.commands == []
    print(f"\ncut -> first failed fence reported {failed - cut:.2f} s; node1 still serves")


# -- 3. the watchdog resets a node whose MCP died --------------------------------------------

def _watchdog_site(site: Site) -> WatchdogSimulator:
    """Watchdog on node1 only; no STONITH device: the watchdog is the only fence here."""
    dog = WatchdogSimulator(site.n1.dir / "watchdog", site.n1.power_off, lab=site.lab)
    _configure(site, {"node1": f"watchdog {dog.path}\n"})
    return dog


def test_killed_mcp_gets_node1_reset_by_the_watchdog_and_node2_takes_over(site: Site) -> None:
    dog = _watchdog_site(site)
    observer = site.watch(site.vip)
    _start_both(site)
    dog.wait_for("armed", _TIMEOUT)
    dog_timeout = dog.timeout
    assert dog_timeout == 1.0                      # ceil(deadtime + 10 ms)
    killed = time.monotonic()
    site.procs["node1"].send_signal(signal.SIGKILL)
    fired = dog.wait_fired(_TIMEOUT)
    started = _wait_running_on(site, "node2")
    took_vip = _first_owned_by(observer, "node2", killed)
    assert fired - killed <= dog_timeout + 1.0, f"reset {fired - killed:.2f} s after kill -9"
    wait_for(lambda: not site.n1.powered, _TIMEOUT, message="node1 powered off")
    assert site.n1.pids() == []
    assert fired <= took_vip
    assert dog.count("magic close") == 0
    print(f"\nkill -9 -> watchdog reset {fired - killed:.2f} s -> VIP on node2 "
          f"{took_vip - killed:.2f} s -> client answered {started - killed:.2f} s")


def test_sigterm_closes_the_watchdog_and_node2_takes_over_at_once(site: Site) -> None:
    dog = _watchdog_site(site)
    observer = site.watch(site.vip)
    _start_both(site)
    dog.wait_for("armed", _TIMEOUT)
    stopped = time.monotonic()
    site.procs["node1"].send_signal(signal.SIGTERM)
    started = _wait_running_on(site, "node2")
    assert site.procs["node1"].wait(timeout=_TIMEOUT) == 0
    dog.wait_for("magic close", _TIMEOUT, since=stopped)
    took_vip = _first_owned_by(observer, "node2", stopped)
    assert took_vip - stopped < _DEADTIME + 1.0, f"handover took {took_vip - stopped:.2f} s"
    with pytest.raises(TimeoutError):
        dog.wait_fired(2 * dog.timeout + 1.0)      # a fault's duration: nothing may fire
    assert site.n1.powered
    print(f"\nSIGTERM -> VIP on node2 {took_vip - stopped:.2f} s -> client answered "
          f"{started - stopped:.2f} s")


# -- 4. no deathmatch ----------------------------------------------------------------------

_DELAY = 3.0


def test_symmetric_fencing_with_a_delay_leaves_exactly_one_survivor(site: Site) -> None:
    """Each node can fence the other; both hold a group, so both want to fence.

    node1's device has no delay, node2's waits ``pcmk_delay_base``: node1 fences
    node2 first and runs both groups; node2 is off before its delay ends.
    """
    vip2 = site.public.host(201)
    to_n1 = Rps10Simulator({"0": site.n1}, lab=site.lab, toggle_delay=0.05)   # node2 uses it
    to_n2 = Rps10Simulator({"0": site.n2}, lab=site.lab, toggle_delay=0.05)   # node1 uses it
    lines = (f"stonith_host node1 rps10 {to_n2.path} node2 0\n"
             f"stonith_host node2 rps10 {to_n1.path} node1 0 pcmk_delay_base={_DELAY:g}\n")
    _configure(site, {"node1": lines, "node2": lines}, failback="on",
               haresources=(f"node1 IPaddr::{site.vip}/24/eth0 httpd\n"
                            f"node2 IPaddr::{vip2}/24/eth0\n"))
    observer, observer2 = site.watch(site.vip), site.watch(vip2)
    site.procs["node1"] = site.n1.start_stack()
    _wait_running_on(site, "node1")
    # Alone, node1 never heard node2, which may hold anything: it fenced it before
    # starting (startup fencing; Heartbeat does the same after initdead).  The
    # machine is then powered on again and joins, as after a real reset.
    assert to_n2.commands == [("0", "T")] and not site.n2.powered
    site.n2.power_on()
    site.procs["node2"] = site.n2.start_stack()
    wait_for(lambda: site.n2.has_address(vip2) and not site.n1.has_address(vip2), _TIMEOUT,
             message="node2 runs its own group")
    _wait_stonithd(site.n1)
    _wait_stonithd(site.n2)
    with EventLog(site.n1.run_dir, "stonithd", ["fence"]) as fences:
        cut = time.monotonic()
        site.n1.block(site.hb)
        done = fences.wait_for(_fenced("node2"), _TIMEOUT, "node2 fenced")
        wait_for(lambda: site.n1.has_address(vip2), _TIMEOUT, message="node1 takes vip2")
    fenced = done.at
    took_vip2 = _first_owned_by(observer2, "node1", cut)
    assert done.msg.ok and done.msg.device == f"rps10 {to_n2.path}", done.msg
    assert not site.n2.powered and site.n2.pids() == []
    assert site.n1.powered and _answer(site) == "node1"
    assert to_n2.commands == [("0", "T"), ("0", "T")]
    # node2 was off before its delay ended: no command reaches its switch, not even later.
    with pytest.raises(TimeoutError):
        to_n1.wait_for_commands(1, max(0.0, cut + _DELAY + 1.0 - time.monotonic()))
    assert observer.owners_now() == {"node1"} and observer2.owners_now() == {"node1"}
    assert "node node2 now reset." in _log(site.n1, "stonithd")
    print(f"\ncut -> node2 fenced by node1 {fenced - cut:.2f} s -> vip2 on node1 "
          f"{took_vip2 - cut:.2f} s")
