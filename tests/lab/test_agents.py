"""Resource agents for real, inside a lab node: addresses, ARP, scripts, mounts.

Each operation runs ``python -m cluster.crmd.agents TOKEN ACTION`` inside the
node (its network namespace), exactly as crmd's executor would run it there.
A second machine on the LAN (``peer``) is the independent observer: it learns
the node's MAC for a service address only from the gratuitous ARP, since it
never sends anything to that address before looking.

Mounts: every ``ip netns exec`` gets a private mount namespace that is a slave
of the host's, so a mount made by one CLI run would vanish with it. The
Filesystem test therefore runs a small driver that performs the whole sequence
in one process (and starts the process that keeps the mount busy from there).
"""

from __future__ import annotations

import itertools
import json
import os
import select
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from cluster.lab import Lab, Lan, Node, wait_for

pytestmark = pytest.mark.lab

_TIMEOUT = 20.0  # generous bound for every wait below
_PORT = 8080


@dataclass
class Site:
    lan: Lan
    node: Node
    peer: Node
    vip: str


@pytest.fixture
def site(lab: Lab) -> Site:
    """Node n1 and host peer on one LAN; peer accepts unsolicited ARP."""
    lan = lab.add_lan("lan0")
    node = lab.add_node("n1", [lan])
    peer = lab.add_host("peer", [lan])
    peer.run(["sysctl", "-q", "-w", "net.ipv4.conf.all.arp_accept=1",
              "net.ipv4.conf.eth0.arp_accept=1"])  # fmt: skip
    return Site(lan, node, peer, lan.host(50))


def _agent(node: Node, token: str, action: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "cluster.crmd.agents", token, action,
            "--config-dir", str(node.conf_dir)]  # fmt: skip
    # HA_RSCTMP per node: nodes share the file system, OCF agents keep pidfiles there.
    env = {"HA_RSCTMP": str(node.run_dir / "rsc")}
    return node.run(argv, env=env, check=False, timeout=_TIMEOUT + 30)


def _status(node: Node, token: str, action: str) -> int:
    done = _agent(node, token, action)
    assert done.returncode in (0, 1, 7), done.stderr
    return done.returncode


def _peer_mac_for(site: Site) -> str:
    """The MAC the peer's neighbour table holds for the VIP ("" if none)."""
    words = site.peer.run(["ip", "neigh", "show", site.vip]).stdout.split()
    return words[words.index("lladdr") + 1] if "lladdr" in words else ""


def _check_address_lifecycle(site: Site, token: str) -> None:
    node = site.node
    assert _peer_mac_for(site) == ""
    assert _status(node, token, "monitor") == 7
    started = _agent(node, token, "start")
    assert started.returncode == 0, started.stdout + started.stderr
    assert node.has_address(site.vip)
    mac = node.mac(site.lan)
    wait_for(lambda: _peer_mac_for(site) == mac, _TIMEOUT, message="peer learns VIP's MAC")
    assert _status(node, token, "monitor") == 0
    assert _status(node, token, "start") == 0  # idempotent
    assert _status(node, token, "stop") == 0
    assert not node.has_address(site.vip)
    assert _status(node, token, "stop") == 0  # idempotent
    assert _status(node, token, "monitor") == 7


def test_built_in_ipaddr_announces_the_address(site: Site) -> None:
    _check_address_lifecycle(site, f"IPaddr::{site.vip}/24/eth0")


# Prints "ready", then for each of N ARP frames whose sender is the VIP: the ARP
# op (1 request, 2 reply), the target MAC and the ms since the first one.
_SNIFFER = textwrap.dedent("""
    import socket, sys, time
    vip, count, timeout = socket.inet_aton(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
    sock.bind(("eth0", 0))
    sock.settimeout(timeout)
    print("ready", flush=True)
    seen, first = [], None
    try:
        while len(seen) < count:
            frame = sock.recv(128)
            if frame[28:32] == vip and frame[38:42] == vip:
                first = first or time.monotonic()
                ms = round((time.monotonic() - first) * 1000)
                seen.append(f"{frame[21]}:{frame[32:38].hex()}:{ms}")
    except TimeoutError:
        pass
    print(" ".join(seen), flush=True)
""")


def _line(proc: subprocess.Popen[bytes]) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], _TIMEOUT)
    assert ready, "sniffer printed nothing"
    return proc.stdout.readline().decode().strip()


def test_gratuitous_arp_frames_on_the_wire(site: Site) -> None:
    argv = [sys.executable, "-c", _SNIFFER, site.vip, "6", str(_TIMEOUT)]
    sniffer = site.peer.spawn(argv, stdout=subprocess.PIPE)
    try:
        assert _line(sniffer) == "ready"
        token = f"IPaddr::{site.vip}/24/eth0::arp_count=3::arp_interval=100"
        assert _status(site.node, token, "start") == 0
        frames = [word.split(":") for word in _line(sniffer).split()]
    finally:
        sniffer.kill()
        sniffer.wait(timeout=_TIMEOUT)
        assert sniffer.stdout is not None
        sniffer.stdout.close()
    mac = site.node.mac(site.lan).replace(":", "")
    # Three rounds of (request with zero target MAC, reply with target MAC = ours).
    assert [(op, target) for op, target, _ in frames] == [("1", "0" * 12), ("2", mac)] * 3
    starts = [int(ms) for _, _, ms in frames[::2]]
    assert starts[0] == 0 and all(b - a >= 90 for a, b in itertools.pairwise(starts))


def test_built_in_ipaddr_finds_the_interface(site: Site) -> None:
    # No bits, no interface: findif picks eth0 and /24. Quick announcements.
    _check_address_lifecycle(site, f"IPaddr::{site.vip}::arp_count=3::arp_interval=20")


def test_debian_ocf_ipaddr2(site: Site) -> None:
    if not Path("/usr/lib/ocf/resource.d/heartbeat/IPaddr2").exists():
        pytest.skip("resource-agents is not installed")
    _check_address_lifecycle(
        site, f"ocf:heartbeat:IPaddr2::ip={site.vip}::cidr_netmask=24::nic=eth0"
    )


def test_a_pulled_cable_fails_a_start_but_leaves_a_running_address_alone(site: Site) -> None:
    token = f"IPaddr::{site.vip}/24/eth0"
    other = f"IPaddr::{site.lan.host(201)}/24/eth0"
    assert _status(site.node, token, "start") == 0
    site.node.pull_cable(site.lan)
    # The carrier change reaches the node through the kernel's linkwatch (<= 1 s).
    wait_for(lambda: _status(site.node, other, "start") == 1, _TIMEOUT, interval=0.1)
    assert not site.node.has_address(site.lan.host(201))
    # Uplink loss is ipfail's to judge: the running address still monitors as running.
    assert _status(site.node, token, "monitor") == 0
    assert site.node.has_address(site.vip)
    site.node.plug_cable(site.lan)
    wait_for(lambda: _status(site.node, other, "start") == 0, _TIMEOUT, interval=0.1)
    assert _status(site.node, other, "stop") == 0
    assert _status(site.node, token, "stop") == 0


# websrv IP PORT DOCROOT PIDFILE {start|stop|status}: LSB exit codes, a background
# server with a pidfile, start returns once the server answers.
_WEBSRV = """\
#!/bin/sh
ip=$1 port=$2 docroot=$3 pidfile=$4
probe='import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1)'
alive() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
case "$5" in
start)
    alive && exit 0
    PYTHON -m http.server --bind "$ip" --directory "$docroot" "$port" >/dev/null 2>&1 &
    echo $! > "$pidfile"
    i=0
    while [ $i -lt 100 ]; do
        PYTHON -c "$probe" "$ip" "$port" 2>/dev/null && exit 0
        i=$((i + 1)); sleep 0.1
    done
    exit 1 ;;
stop)
    if alive; then
        kill "$(cat "$pidfile")"
        i=0; while alive && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.05; done
        alive && exit 1
    fi
    rm -f "$pidfile"; exit 0 ;;
status)
    if alive; then echo "websrv is running"; exit 0; fi
    echo "websrv is stopped"; exit 3 ;;
*) exit 2 ;;
esac
"""

_FETCH = (
    "import sys, urllib.request; "
    "print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())"
)


def test_lsb_script_serves_on_the_service_address(site: Site) -> None:
    node = site.node
    script = node.conf_dir / "resource.d" / "websrv"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(_WEBSRV.replace("PYTHON", sys.executable))
    script.chmod(0o755)
    docroot = node.dir / "www"
    docroot.mkdir()
    (docroot / "index.html").write_text("served by n1\n")
    web = f"websrv::{site.vip}::{_PORT}::{docroot}::{node.run_dir / 'websrv.pid'}"
    ip = f"IPaddr::{site.vip}/24/eth0"
    assert _status(node, web, "monitor") == 7
    assert _status(node, ip, "start") == 0  # haresources order: address first
    assert _status(node, web, "start") == 0
    assert _status(node, web, "monitor") == 0
    url = f"http://{site.vip}:{_PORT}/index.html"
    fetched = site.peer.run([sys.executable, "-c", _FETCH, url], timeout=_TIMEOUT)
    assert fetched.stdout.strip() == "served by n1"
    assert _status(node, web, "stop") == 0
    assert _status(node, web, "stop") == 0  # stop of a stopped service: ok
    assert _status(node, web, "monitor") == 7
    refused = site.peer.run([sys.executable, "-c", _FETCH, url], check=False, timeout=_TIMEOUT)
    assert refused.returncode != 0
    assert _status(node, ip, "stop") == 0


# Runs start, monitor, a stop while a process sits in the mount, monitor, all in
# one process (one mount namespace); prints what it saw as JSON.
_FS_DRIVER = textwrap.dedent("""
    import json, os, subprocess, sys
    from pathlib import Path
    from cluster.bus.loop import Loop
    from cluster.config.haresources import parse_resource
    from cluster.crmd.executor import Executor

    spec = parse_resource(sys.argv[1])
    mountpoint = spec.args[1]
    loop = Loop()
    executor = Executor(loop, Path(sys.argv[2]))

    def run(action):
        box = []
        executor.run(spec, action, box.append)
        while not box:
            loop.run_once()
        return box[0].outcome.value

    seen = {"start": run("start"), "mounted": os.path.ismount(mountpoint)}
    seen["monitor"] = run("monitor")
    Path(mountpoint, "data").write_text("x")
    user = subprocess.Popen(["sleep", "60"], cwd=mountpoint)  # keeps the mount busy
    seen["stop"] = run("stop")
    seen["user_exit"] = user.wait(timeout=10)
    seen["mounted_after"] = os.path.ismount(mountpoint)
    seen["monitor_after"] = run("monitor")
    seen["stop_again"] = run("stop")
    executor.close()
    print(json.dumps(seen))
""")


def test_filesystem_tmpfs_mount_busy_stop_and_monitor(site: Site, tmp_path: Path) -> None:
    mountpoint = tmp_path / "mnt"
    token = f"Filesystem::tmpfs::{mountpoint}::tmpfs::size=1m"
    argv = [sys.executable, "-c", _FS_DRIVER, token, str(site.node.conf_dir)]
    try:
        done = site.node.run(argv, timeout=_TIMEOUT + 30)
    finally:
        if os.path.ismount(mountpoint):  # never leave a mount behind in the host
            subprocess.run(["umount", "-l", str(mountpoint)], check=False)
    seen = json.loads(done.stdout)
    assert seen == {
        "start": "ok",
        "mounted": True,
        "monitor": "ok",
        "stop": "ok",
        "user_exit": -9,  # fuser -km killed the process keeping it busy
        "mounted_after": False,
        "monitor_after": "not running",
        "stop_again": "ok",
    }
    assert not os.path.ismount(mountpoint)
