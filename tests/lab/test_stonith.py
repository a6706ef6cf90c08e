"""Fencing for real: the ``stonith`` CLI and stonithd power namespace machines off.

Targets are plain lab hosts running a process.  The RPS-10 is the lab's
simulator on a pty (:mod:`cluster.lab.rps10`), whose outlet powers a target
off through the lab.  The ``external/netns`` plugin and the ``fence_netns``
agent are written into the node's configuration directory: they do what the
CTS reference calls ``fence_netns`` — kill every process of the target's
namespace, take its link down, and exit 0 only after checking both.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from cluster.bus.client import NotRunning, request
from cluster.bus.messages.common import Ping
from cluster.bus.messages.stonithd import (
    FenceDevicesResult,
    FenceNode,
    FenceResult,
    ListFenceDevices,
)
from cluster.lab import Lab, Node, wait_for
from cluster.lab.events import Event, EventLog
from cluster.lab.netns import ip
from cluster.lab.rps10 import Rps10Simulator

_TIMEOUT = 30.0
_STONITH = [sys.executable, "-m", "cluster.cli.stonith"]

_POWER_OFF = """\
off() {  # kill everything in namespace $1, take its links down, check both
    for _round in 1 2 3 4 5 6 7 8 9 10; do
        pids=$(ip netns pids "$1")
        [ -z "$pids" ] && break
        kill -KILL $pids 2>/dev/null
        sleep 0.1
    done
    links=$(ip -n "$1" -o link show | awk -F': ' '{sub(/@.*/, "", $2)} $2 != "lo" {print $2}')
    for link in $links; do
        ip -n "$1" link set "$link" down || return 1
    done
    [ -z "$(ip netns pids "$1")" ] || return 1
    ! ip -n "$1" -o link show up | grep -qv ': lo:'
}
"""

EXTERNAL_NETNS = "#!/bin/sh\n" + _POWER_OFF + """\
case $1 in
getconfignames) echo hostlist; echo prefix ;;
gethosts) for h in $hostlist; do echo $h; done ;;
status) for h in $hostlist; do ip netns list | grep -q "^$prefix-$h\\b" || exit 1; done ;;
reset|off) off "$prefix-$2" ;;
on) exit 1 ;;
*) exit 1 ;;
esac
"""

FENCE_NETNS = "#!/bin/sh\n" + _POWER_OFF + """\
while IFS='=' read -r key value; do
    case $key in action) action=$value ;; port) port=$value ;; prefix) prefix=$value ;; esac
done
case $action in
reboot|off) off "$prefix-$port" && echo "Success: Powered OFF" ;;
monitor) ip netns list | grep -q "^$prefix-" ;;
*) echo "Failed: unsupported action $action" >&2; exit 1 ;;
esac
"""


def _about(node: str) -> Callable[[Event], bool]:
    return lambda event: bool(event.msg.node == node)


def _links_down(target: Node) -> bool:
    shown = ip("-o", "link", "show", netns=target.netns)
    return all(" state UP " not in line for line in shown.splitlines() if ": lo:" not in line)


def _running(target: Node) -> subprocess.Popen[bytes]:
    proc = target.spawn(["sleep", "1000"])
    wait_for(lambda: proc.pid in target.pids(), 10, message=f"{target.name} process")
    return proc


@pytest.fixture
def site(lab: Lab) -> Iterator[tuple[Lab, Node, list[Node], Rps10Simulator]]:
    lan = lab.add_lan("lan")
    n1 = lab.add_node("n1", [lan])
    targets = [lab.add_host(name, [lan]) for name in ("t2", "t3", "t4")]
    switch = Rps10Simulator({"0": targets[0]}, lab=lab, toggle_delay=0.05)
    for target in targets:
        _running(target)
    yield lab, n1, targets, switch


def test_cli_rps10_reset_powers_the_node_off(
        site: tuple[Lab, Node, list[Node], Rps10Simulator]) -> None:
    _lab, n1, (t2, t3, _t4), switch = site
    done = n1.run([*_STONITH, "-t", "rps10", "-p", f"{switch.path} t2 0", "-S", "T2"],
                  check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "info: rps10 device OK." in done.stderr and "node t2 now reset" in done.stderr
    assert switch.commands == [("0", "T")]
    assert t2.pids() == [] and not t2.powered and _links_down(t2)
    assert t3.pids() and t3.powered            # nobody else was touched


@pytest.mark.slow
def test_cli_with_the_switch_unplugged_fails_and_the_node_stays_up(
        site: tuple[Lab, Node, list[Node], Rps10Simulator]) -> None:
    _lab, n1, (t2, _t3, _t4), switch = site
    switch.unplug()
    done = n1.run([*_STONITH, "-t", "rps10", "-p", f"{switch.path} t2 0", "t2"],
                  check=False, timeout=60)
    assert done.returncode == 6                # TIMEOUT, after glue's 12 s for "RPS-10 Ready"
    assert "STONITH of t2 failed" in done.stderr
    assert "no 'RPS-10 Ready' from the switch" in done.stderr
    assert "is it connected and powered?" in done.stderr
    assert switch.commands == []
    assert t2.pids() and t2.powered and not _links_down(t2)


def _stack_config(lab: Lab, switch: Rps10Simulator) -> str:
    return (
        "keepalive 200ms\ndeadtime 2\nwarntime 1\ninitdead 4\nauto_failback off\n"
        "bcast eth0\nnode n1\n"
        f"stonith_host n1 rps10 {switch.path} t2 0\n"
        f"stonith_host * external/netns t3 {lab.prefix}\n"
        f"stonith_host n1 fence_netns prefix={lab.prefix} pcmk_host_list=t4\n"
        "stonith_host t2 null n1\n")


def _ask(node: Node, msg: object) -> object:
    """A request to n1's stonithd; when it cannot be asked, say why from the node's logs."""
    try:
        return request(node.run_dir, "stonithd", msg, timeout=70)
    except NotRunning as err:
        logs = {name: (node.log_dir / f"{name}.log").read_text()[-3000:]
                for name in ("mcp", "stonithd") if (node.log_dir / f"{name}.log").exists()}
        raise AssertionError(f"{err}; logs: {logs}") from err


def _devices(node: Node) -> dict[str, tuple[tuple[str, ...], str]]:
    try:
        reply = request(node.run_dir, "stonithd", ListFenceDevices(), timeout=2.0)
    except Exception:
        return {}
    assert isinstance(reply, FenceDevicesResult)
    return {d.device: (d.hosts, d.status) for d in reply.devices}


def test_stonithd_in_the_stack_fences_through_every_device_type(
        site: tuple[Lab, Node, list[Node], Rps10Simulator]) -> None:
    lab, n1, (t2, t3, t4), switch = site
    n1.write_config(ha_cf=_stack_config(lab, switch),
                    files={"stonith/external/netns": EXTERNAL_NETNS,
                           "stonith/fence_netns": FENCE_NETNS})
    mcp = n1.start_stack()
    wait_for(lambda: (n1.run_dir / "stonithd.ctl").exists(), _TIMEOUT, message="stonithd")
    wait_for(lambda: request(n1.run_dir, "stonithd", Ping(), timeout=2.0), _TIMEOUT)
    expected = {f"rps10 {switch.path}": (("t2",), "ok"), "external/netns": (("t3",), "ok"),
                "fence_netns": (("t4",), "ok")}
    wait_for(lambda: _devices(n1) == expected, _TIMEOUT, interval=0.1,
             message="device status checks")
    with EventLog(n1.run_dir, "stonithd", ["fence"]) as events:
        reply = _ask(n1, FenceNode("t2", reason="lab", requested_by="test"))
        assert isinstance(reply, FenceResult) and reply.ok, reply
        assert reply.device == f"rps10 {switch.path}" and "Plug 0 Off" in reply.detail
        assert t2.pids() == [] and not t2.powered and _links_down(t2)

        done = n1.run([*_STONITH, "--fence", "t3", "--run-dir", str(n1.run_dir),
                       "--timeout", "60"], check=False, timeout=90)
        assert done.returncode == 0, done.stderr
        assert "now reset by [external/netns]" in done.stderr
        assert t3.pids() == [] and _links_down(t3)

        reply = _ask(n1, FenceNode("t4", action="off"))
        assert isinstance(reply, FenceResult) and reply.ok, reply
        assert reply.device == "fence_netns" and "Success: Powered OFF" in reply.detail
        assert t4.pids() == [] and _links_down(t4)

        fenced = [events.wait_for(_about(name), _TIMEOUT).msg for name in ("t2", "t3", "t4")]
    assert [(e.ok, e.requested_by) for e in fenced] == [(True, "test"), (True, "stonith CLI"),
                                                        (True, "")]
    log = (n1.log_dir / "stonithd.log").read_text()
    assert f"Resetting node t2 with [rps10 {switch.path}]" in log
    assert "node t2 now reset." in log and "node t4 now off." in log
    assert mcp.poll() is None
