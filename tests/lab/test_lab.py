"""Tests of the namespace lab itself: wiring, faults, cables, cleanup, observer.

Every negative check ("this packet did not arrive") is made against a positive
marker sent after it on the same path, or against the relay's drop counter, so
no test sleeps hoping for absence.
"""

from __future__ import annotations

import functools
import json
import os
import select
import socket
import subprocess
import sys
import textwrap
import tty
from dataclasses import dataclass
from pathlib import Path

import pytest

from cluster.lab import Lab, LabError, Lan, Node, OwnershipObserver, cleanup, netns, wait_for

pytestmark = pytest.mark.lab

_TIMEOUT = 10.0  # generous bound for every event wait below

# Binds the watched UDP port and a marker port; after the marker arrives,
# everything sent before it on the same path has arrived too, so counting the
# watched port's queue is exact. Prints "ready", then the count.
_RECEIVER = textwrap.dedent("""
    import socket, sys
    watched = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    watched.bind(("0.0.0.0", int(sys.argv[1])))
    marker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    marker.bind(("0.0.0.0", int(sys.argv[2])))
    marker.settimeout(float(sys.argv[3]))
    print("ready", flush=True)
    marker.recvfrom(64)
    watched.setblocking(False)
    count = 0
    while True:
        try:
            watched.recvfrom(64)
        except BlockingIOError:
            break
        count += 1
    print(count, flush=True)
""")

# Sends N datagrams to the watched port, then one to the marker port, pinned
# to one CPU so the kernel keeps them in order across the bridge.
_SENDER = textwrap.dedent("""
    import os, socket, sys
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    target, watched, marker, count = sys.argv[1], *map(int, sys.argv[2:5])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(count):
        s.sendto(b"x%d" % i, (target, watched))
    s.sendto(b"end", (target, marker))
""")

_WATCHED_PORT = 5694
_MARKER_PORT = 5695


@dataclass
class Net:
    lan0: Lan
    lan1: Lan
    n1: Node
    n2: Node
    client: Node


@pytest.fixture
def net(lab: Lab) -> Net:
    """Two nodes on two LANs and a client on the first."""
    lan0, lan1 = lab.add_lan("lan0"), lab.add_lan("lan1")
    return Net(
        lan0=lan0,
        lan1=lan1,
        n1=lab.add_node("n1", [lan0, lan1]),
        n2=lab.add_node("n2", [lan0, lan1]),
        client=lab.add_host("client", [lan0]),
    )


def _read_line(proc: subprocess.Popen[bytes], timeout: float = _TIMEOUT) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, f"pid {proc.pid} printed nothing within {timeout}s"
    return proc.stdout.readline().decode().strip()


def _udp_count(sender: Node, receiver: Node, lan: Lan, count: int) -> int:
    """How many of `count` datagrams from `sender` reach `receiver`'s port."""
    proc = receiver.spawn(
        [sys.executable, "-c", _RECEIVER, str(_WATCHED_PORT), str(_MARKER_PORT), str(_TIMEOUT)],
        stdout=subprocess.PIPE,
    )
    try:
        assert _read_line(proc) == "ready"
        argv = [sys.executable, "-c", _SENDER, receiver.address(lan)]
        sender.run([*argv, str(_WATCHED_PORT), str(_MARKER_PORT), str(count)])
        return int(_read_line(proc))
    finally:
        proc.kill()
        proc.wait(timeout=_TIMEOUT)
        assert proc.stdout is not None
        proc.stdout.close()


def _state(pid: int) -> str:
    return netns.process_state(pid)


def _is_dead(pid: int) -> bool:
    """Gone, or a zombie nobody reaped yet (its parent died with the lab)."""
    return _state(pid) in ("", "Z")


def test_nodes_get_addresses_interfaces_and_reach_each_other(lab: Lab, net: Net) -> None:
    assert net.n1.address(net.lan0) == "10.231.1.1"
    assert net.n2.address(net.lan1) == "10.231.2.2"
    assert net.client.address(net.lan0) == "10.231.1.100"
    assert [net.n1.interface(net.lan0), net.n1.interface(net.lan1)] == ["eth0", "eth1"]
    for lan in (net.lan0, net.lan1):
        assert net.n1.ping(net.n2.address(lan))
        assert net.n2.ping(net.n1.address(lan))
    assert net.client.ping(net.n1.address(net.lan0))
    assert net.n1.has_address("10.231.2.1") and not net.n1.has_address("10.231.2.2")
    assert net.n1.mac(net.lan0) != net.n2.mac(net.lan0)
    root_links = netns.command(["ip", "-o", "link", "show"])
    assert lab.prefix not in root_links, "the root namespace must get no lab interface"


def test_node_processes_see_the_node_name_as_hostname(net: Net) -> None:
    before = socket.gethostname()
    assert net.n1.run(["uname", "-n"]).stdout.strip() == "n1"
    assert net.client.run(["hostname"]).stdout.strip() == "client"
    assert socket.gethostname() == before


def test_write_config_lays_out_conf_dir(net: Net) -> None:
    agent = "#!/bin/sh\nexit 0\n"
    net.n1.write_config("node n1\n", "n1 IPaddr::10.231.1.200\n", files={"resource.d/x": agent})
    conf = net.n1.conf_dir
    assert (conf / "ha.cf").read_text() == "node n1\n"
    assert (conf / "haresources").read_text() == "n1 IPaddr::10.231.1.200\n"
    assert (conf / "authkeys").stat().st_mode & 0o777 == 0o600
    assert (conf / "resource.d" / "x").stat().st_mode & 0o777 == 0o755
    assert net.n1.run([str(conf / "resource.d" / "x")]).returncode == 0
    with pytest.raises(LabError, match="inside conf_dir"):
        net.n1.write_config("", files={"../escape": "x"})


def test_pulled_cable_cuts_one_lan_and_plugging_restores_it(net: Net) -> None:
    target = net.n2.address(net.lan0)
    assert net.n1.ping(target)
    net.n2.pull_cable(net.lan0)
    assert not net.n1.ping(target, timeout=0.3)
    assert net.n1.ping(net.n2.address(net.lan1)), "the other LAN is unaffected"
    assert net.n2.has_address(target), "the node keeps its address"
    link = netns.ip("-o", "link", "show", "dev", "eth0", netns=net.n2.netns)
    assert "NO-CARRIER" in link
    net.n2.plug_cable(net.lan0)
    wait_for(lambda: net.n1.ping(target), _TIMEOUT, message="ping after plug_cable")


def test_power_off_kills_everything_and_silences_the_node(lab: Lab, net: Net) -> None:
    (net.n2.run_dir / "stack.pid").write_text("4242\n")
    assert net.n1.ping(net.n2.address(net.lan0))
    sleeper = net.n2.spawn(["sleep", "60"])
    wait_for(lambda: sleeper.pid in net.n2.pids(), _TIMEOUT)
    net.n2.power_off()
    assert sleeper.poll() == -9
    assert net.n2.pids() == []
    assert not net.n1.ping(net.n2.address(net.lan0), timeout=0.3)
    assert (net.n2.run_dir / "stack.pid").exists(), "files survive like after a crash"
    with pytest.raises(LabError, match="powered off"):
        net.n2.run(["true"])
    net.n2.power_on()
    wait_for(lambda: net.n1.ping(net.n2.address(net.lan0)), _TIMEOUT, message="after power_on")


def test_pause_stops_and_resume_continues_processes(net: Net) -> None:
    sleeper = net.n1.spawn(["sleep", "60"])
    wait_for(lambda: _state(sleeper.pid) == "S", _TIMEOUT, message="sleep running")
    net.n1.pause()
    assert _state(sleeper.pid) == "T"
    net.n1.resume()
    assert _state(sleeper.pid) == "S"


def test_block_drops_one_udp_port_but_not_ping(lab: Lab, net: Net) -> None:
    assert _udp_count(net.n1, net.n2, net.lan0, 5) == 5
    net.n2.block(net.lan0, udp_port=_WATCHED_PORT)
    assert f"{lab.prefix}_lab" in netns.command(
        ["ip", "netns", "exec", net.n2.netns, "nft", "list", "tables"]
    )
    assert _udp_count(net.n1, net.n2, net.lan0, 5) == 0
    assert net.n1.ping(net.n2.address(net.lan0))
    net.n2.block(net.lan0, udp_port=_WATCHED_PORT, loss_percent=50)
    # 400 datagrams at 50% loss: outside 100..300 has probability < 1e-20.
    assert 100 <= _udp_count(net.n1, net.n2, net.lan0, 400) <= 300
    net.n2.block(net.lan0)
    assert not net.n1.ping(net.n2.address(net.lan0), timeout=0.3)
    net.n2.unblock(net.lan0)
    assert net.n1.ping(net.n2.address(net.lan0))
    assert _udp_count(net.n1, net.n2, net.lan0, 5) == 5
    assert netns.command(["ip", "netns", "exec", net.n2.netns, "nft", "list", "tables"]) == ""


def _open_raw(path: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    tty.setraw(fd)
    return fd


def _read_exactly(fd: int, size: int) -> bytes:
    data = b""

    def more() -> bool:
        nonlocal data
        if select.select([fd], [], [], 0.05)[0]:
            data += os.read(fd, size - len(data))
        return len(data) >= size

    wait_for(more, _TIMEOUT, interval=0.001, message=f"{size} bytes on the serial line")
    return data


def test_serial_link_carries_bytes_both_ways_until_pulled(lab: Lab, net: Net) -> None:
    cable = lab.serial_link(net.n1, net.n2)
    assert cable.path(net.n1) == str(net.n1.dir / "ttyS0")
    a, b = _open_raw(cable.path(net.n1)), _open_raw(cable.path(net.n2))
    try:
        os.write(a, b"hello from n1")
        assert _read_exactly(b, 13) == b"hello from n1"
        os.write(b, b"\x00\xffbinary\n")
        assert _read_exactly(a, 9) == b"\x00\xffbinary\n"
        cable.pull()
        os.write(a, b"lost")
        wait_for(lambda: cable.counters()[1] >= 4, _TIMEOUT, message="relay dropped bytes")
        cable.plug()
        os.write(a, b"found")
        assert _read_exactly(b, 5) == b"found", "nothing sent while pulled may arrive"
    finally:
        os.close(a)
        os.close(b)


def test_serial_link_hangs_up_and_comes_back_under_the_same_paths(lab: Lab, net: Net) -> None:
    cable = lab.serial_link(net.n1, net.n2)
    a = _open_raw(cable.path(net.n1))
    try:
        cable.hang_up()
        assert not os.path.lexists(cable.path(net.n1)), "an unplugged adapter's path is gone"
        ready = select.select([a], [], [], _TIMEOUT)[0]
        assert ready and os.read(a, 16) == b"", "the tty reads EOF once hung up"
        with pytest.raises(OSError, match="Input/output error"):
            os.write(a, b"x")
    finally:
        os.close(a)
    with pytest.raises(LabError, match="hung up"):
        cable.inject(net.n1, b"x")
    cable.recreate()
    a, b = _open_raw(cable.path(net.n1)), _open_raw(cable.path(net.n2))
    try:
        os.write(a, b"back")
        assert _read_exactly(b, 4) == b"back"
    finally:
        os.close(a)
        os.close(b)


def test_a_removed_interface_is_gone_and_restored_with_its_name_and_address(net: Net) -> None:
    before = netns.ip("-o", "link", "show", "dev", "eth0", netns=net.n2.netns)
    net.n2.remove_interface(net.lan0)
    assert "eth0" not in netns.ip("-o", "link", "show", netns=net.n2.netns)
    assert net.n1.ping(net.n2.address(net.lan1)), "the other LAN is unaffected"
    with pytest.raises(LabError, match="no interface"):
        net.n2.remove_interface(net.lan0)
    net.n2.restore_interface(net.lan0)
    after = netns.ip("-o", "link", "show", "dev", "eth0", netns=net.n2.netns)
    assert after.split(":")[0] != before.split(":")[0], "a new interface has a new index"
    assert net.n2.has_address(net.n2.address(net.lan0))
    wait_for(lambda: net.n1.ping(net.n2.address(net.lan0)), _TIMEOUT,
             message="ping after restore_interface")


def test_close_leaves_no_namespace_process_mount_or_directory(lab: Lab, net: Net) -> None:
    sleeper = net.n1.spawn(["sleep", "60"])
    cable = lab.serial_link(net.n1, net.n2)
    net.n2.block(net.lan1, loss_percent=30)
    relay = cable.pid
    lab.close()
    lab.close()  # idempotent
    assert not [name for name in netns.list_netns() if name.startswith(lab.prefix)]
    assert sleeper.poll() is not None
    assert _is_dead(relay)
    assert not lab.root.exists()
    assert not netns.mounts_under(lab.root)
    with pytest.raises(LabError, match="closed"):
        lab.add_lan("late")


def test_observer_counts_owners_and_catches_two(net: Net) -> None:
    vip = net.lan0.host(250)
    add = ["ip", "addr", "add", f"{vip}/24", "dev", "eth0"]
    with OwnershipObserver([net.n1, net.n2, net.client], vip) as seen:
        assert seen.owners_now() == frozenset()
        net.n1.run(add)
        assert seen.owners_now() == {"n1"}
        wait_for(lambda: seen.samples >= 20, _TIMEOUT, message="background samples")
        assert seen.max_owners == 1
        assert not seen.violations()
        assert seen.gaps(), "the time before the address was added is a gap"
        net.n2.run(add)
        wait_for(lambda: seen.max_owners >= 2, _TIMEOUT, message="the sampler sees n2 too")
        assert seen.violations()[0].nodes == {"n1", "n2"}
        with pytest.raises(AssertionError, match="held"):
            seen.assert_safe()
        net.n1.power_off()
        assert seen.owners_now() == {"n2"}, "a powered-off node holds nothing"
        assert not seen.failures()
        assert seen.max_sample_interval < 1.0


def _run_child_lab(ending: str) -> dict[str, object]:
    """Build a lab in a child interpreter that ends with `ending`, not close()."""
    script = textwrap.dedent(f"""
        import json, os, signal, sys
        from cluster.lab import Lab
        lab = Lab()
        lan = lab.add_lan("lan0")
        a, b = lab.add_node("a", [lan]), lab.add_node("b", [lan])
        sleeper = a.spawn(["sleep", "60"])
        cable = lab.serial_link(a, b)
        print(json.dumps({{"prefix": lab.prefix, "root": str(lab.root),
                          "pids": [sleeper.pid, cable.pid]}}), flush=True)
        {ending}
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout, done.stderr
    info: dict[str, object] = json.loads(done.stdout.splitlines()[0])
    return info


def _assert_gone(info: dict[str, object]) -> None:
    prefix = str(info["prefix"])
    assert not [name for name in netns.list_netns() if name.startswith(prefix)]
    assert not Path(str(info["root"])).exists()
    pids = info["pids"]
    assert isinstance(pids, list)
    for pid in pids:
        wait_for(functools.partial(_is_dead, pid), _TIMEOUT, message=f"pid {pid} still alive")


def test_atexit_closes_a_lab_nobody_closed() -> None:
    if os.geteuid() != 0:
        pytest.skip("lab tests need root and network namespaces: not running as root")
    _assert_gone(_run_child_lab("sys.exit(0)"))


def test_sweeper_removes_leftovers_of_a_killed_run() -> None:
    if os.geteuid() != 0:
        pytest.skip("lab tests need root and network namespaces: not running as root")
    info = _run_child_lab("os.kill(os.getpid(), signal.SIGKILL)")
    prefix = str(info["prefix"])
    left = [name for name in netns.list_netns() if name.startswith(prefix)]
    # Another lab starting concurrently (another pytest run) may sweep first.
    assert left or not Path(str(info["root"])).exists(), "a killed run leaves its namespaces"
    cleanup.sweep_stale()
    _assert_gone(info)
