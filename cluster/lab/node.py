"""A lab machine: one network namespace + one UTS namespace + a directory.

A `Node` is a cluster member or a plain host (client, ping node). Its network
namespace `<prefix>-<name>` has one veth per LAN, `eth0`, `eth1`, ... in attach
order; the other end, `<prefix>n<index>e<n>`, is a port of that LAN's bridge in
the switch namespace. The root namespace never gets an interface.

Hostname: a persistent UTS namespace per node, hostname = node name, pinned by
a bind mount on `<dir>/.uts` (made by `unshare --uts=FILE hostname NAME`, so the
root hostname is never touched). Commands run as `ip netns exec NETNS nsenter
--uts=<dir>/.uts -- argv`; both exec in place, so the pid is the command's, all
processes of a node share one hostname, and no holder process pollutes `pids()`.

Faults: `power_off` (kill all, links down on both sides, RAM state gone, files
kept), `pull_cable` (switch side down), `pause` (SIGSTOP all), `block`
(nftables drop: all or one UDP port, every packet or a random share).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import IO, TYPE_CHECKING, Any

from cluster.lab import firewall, netns
from cluster.lab.netns import LabError
from cluster.lab.waiting import wait_for

if TYPE_CHECKING:
    from cluster.lab.lab import Lab, Lan
    from cluster.lab.serial import SerialLink

__all__ = ["Node"]

_DEFAULT_AUTHKEYS = "auth 1\n1 sha256 labsecret\n"
_NO_FILES: Mapping[str, str] = MappingProxyType({})
_STOPPED_STATES = frozenset("TtZX")  # stopped, traced, zombie, dead
_SIGNAL_SETTLE = 5.0  # seconds for SIGSTOP/SIGCONT to be visible in /proc
_LINK_SETTLE = 10.0  # linkwatch batches carrier events up to 1 s; a loaded host lags more
_Stream = int | IO[Any] | None


@dataclass(frozen=True, slots=True)
class _Port:
    """A node's attachment to a LAN: its end and the switch's end of a veth."""

    lan: Lan
    ifname: str
    switch_ifname: str
    address: str


class Node:
    """A machine in the lab (create it with `Lab.add_node` / `Lab.add_host`)."""

    def __init__(self, lab: Lab, name: str, *, index: int, host_number: int) -> None:
        self.lab = lab
        self.name = name
        self.index = index
        self.host_number = host_number
        self.netns = f"{lab.prefix}-{name}"
        self.dir = lab.root / name
        self.conf_dir = self.dir / "conf"
        self.run_dir = self.dir / "run"
        self.state_dir = self.dir / "state"
        self.log_dir = self.dir / "log"
        self._uts = self.dir / ".uts"
        self._ports: dict[str, _Port] = {}
        self._plugged: dict[str, bool] = {}
        self._removed: set[str] = set()  # LANs whose interface remove_interface deleted
        self._blocks: dict[str, firewall.Block] = {}
        self._serial_links: list[SerialLink] = []
        self._powered = True
        # Power and cables change from the test thread and from the power-switch
        # and watchdog simulators' threads (a fence during a cable pull): one at a time.
        self._power_lock = threading.RLock()

    def __repr__(self) -> str:
        return f"Node({self.name!r}, netns={self.netns!r})"

    def _build(self, lans: Sequence[Lan]) -> None:
        for directory in (self.conf_dir, self.run_dir, self.state_dir, self.log_dir):
            directory.mkdir(parents=True, exist_ok=True)
        netns.create_uts(self._uts, self.name)
        netns.add_netns(self.netns)
        netns.sysctl(self.netns, netns.NO_IPV6)
        netns.ip("link", "set", "lo", "up", netns=self.netns)
        for lan in lans:
            self._attach(lan)

    def _attach(self, lan: Lan) -> None:
        number = len(self._ports)
        port = _Port(
            lan=lan,
            ifname=f"eth{number}",
            switch_ifname=f"{self.lab.prefix}n{self.index}e{number}",
            address=lan.host(self.host_number),
        )
        self._ports[lan.name] = port
        self._plugged[lan.name] = True
        self._create_interface(port)

    def _create_interface(self, port: _Port) -> None:
        switch = self.lab.switch_netns
        # Created in the switch namespace with its peer born inside the node.
        veth = f"link add {port.switch_ifname} type veth peer name {port.ifname} netns {self.netns}"
        netns.ip(*veth.split(), netns=switch)
        lan = port.lan
        netns.ip("link", "set", port.switch_ifname, "master", lan.bridge, "up", netns=switch)
        netns.ip(
            "addr", "add", f"{port.address}/{lan.prefixlen}", "dev", port.ifname, netns=self.netns
        )
        netns.ip("link", "set", port.ifname, "up", netns=self.netns)
        self._wait_forwarding(port)

    def _attach_serial(self, link: SerialLink) -> None:
        self._serial_links.append(link)

    def _port(self, lan: Lan) -> _Port:
        port = self._ports.get(lan.name)
        if port is None or port.lan is not lan:
            raise LabError(f"node {self.name} is not on LAN {lan.name}")
        return port

    @property
    def powered(self) -> bool:
        return self._powered

    @property
    def lans(self) -> list[Lan]:
        return [port.lan for port in self._ports.values()]

    def address(self, lan: Lan) -> str:
        """This node's own IPv4 address on `lan`."""
        return self._port(lan).address

    def interface(self, lan: Lan) -> str:
        """The interface name inside the node for `lan` ("eth0", "eth1", ...)."""
        return self._port(lan).ifname

    def mac(self, lan: Lan) -> str:
        return netns.link_mac(self.netns, self._port(lan).ifname)

    def pids(self) -> list[int]:
        """Every pid in the node's network namespace (as `ip netns pids`)."""
        return netns.pids_in(self.netns)

    def processes(self) -> dict[int, str]:
        """Every process in the node: pid -> command line (our daemons show their titles)."""
        table = {}
        for pid in self.pids():
            line = netns.cmdline(pid)
            if line is not None:
                table[pid] = line
        return table

    def pid_of(self, title: str) -> int | None:
        """The pid of the process whose command line is `title` ("cluster: crmd")."""
        return next((pid for pid, line in self.processes().items() if line == title), None)

    def daemon_log(self, daemon: str) -> str:
        """The text of `daemon`'s log in the node's log directory ("" if none yet)."""
        path = self.log_dir / f"{daemon}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def has_address(self, ip: str) -> bool:
        """Is `ip` configured on any interface of the node?"""
        return any(address == ip for _ifname, address, _len in netns.ipv4_addresses(self.netns))

    def write_config(
        self,
        ha_cf: str,
        haresources: str | None = None,
        authkeys: str = _DEFAULT_AUTHKEYS,
        files: Mapping[str, str] = _NO_FILES,
    ) -> None:
        """Write ha.cf, haresources, authkeys (mode 600) and extra `files`
        (paths relative to conf_dir; executable when they start with "#!")."""
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        (self.conf_dir / "ha.cf").write_text(ha_cf, encoding="utf-8")
        if haresources is not None:
            (self.conf_dir / "haresources").write_text(haresources, encoding="utf-8")
        keys = self.conf_dir / "authkeys"
        fd = os.open(keys, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(authkeys)
        os.chmod(keys, 0o600)  # also when the file already existed with another mode
        for relative, text in files.items():
            if Path(relative).is_absolute() or ".." in Path(relative).parts:
                raise LabError(f"config file path must stay inside conf_dir: {relative!r}")
            target = self.conf_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            os.chmod(target, 0o755 if text.startswith("#!") else 0o644)

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float = 30,
        check: bool = True,
        env: Mapping[str, str] | None = None,
        input: bytes | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run `argv` inside the node to completion (its own process group,
        killed whole on timeout). `env` is added to the lab's environment."""
        self._require_power()
        with subprocess.Popen(
            netns.exec_argv(self.netns, self._uts, argv),
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self._environment(env),
            cwd=self.dir,
            start_new_session=True,
        ) as proc:
            try:
                out, err = proc.communicate(input, timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                out, err = proc.communicate()
                raise subprocess.TimeoutExpired(list(argv), timeout, out, err) from None
            except BaseException:
                _kill_group(proc)
                raise
        result = subprocess.CompletedProcess(
            list(argv),
            proc.returncode,
            out.decode("utf-8", errors="replace"),
            err.decode("utf-8", errors="replace"),
        )
        if check:
            result.check_returncode()
        return result

    def spawn(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        stdout: _Stream = None,
        stderr: _Stream = None,
    ) -> subprocess.Popen[bytes]:
        """Start a long-running process in the node, in its own session. The lab
        kills and reaps it at close (or when the node powers off). Output not
        redirected goes to the node's console, `log_dir/console` (never to the
        caller's stdout: a daemon holding a test runner's pipe stalls it)."""
        self._require_power()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / "console", "ab") as console:
            proc = subprocess.Popen(
                netns.exec_argv(self.netns, self._uts, argv),
                stdin=subprocess.DEVNULL,
                stdout=console if stdout is None else stdout,
                stderr=console if stderr is None else stderr,
                env=self._environment(env),
                cwd=self.dir,
                start_new_session=True,
            )
        self.lab.resources.track(proc)
        return proc

    def start_stack(self, *extra_args: str,
                    env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start the master control process; console output to log/mcp.console.
        `env` is added to the daemons' environment (e.g. ``CLUSTER_TRACE``)."""
        argv = [sys.executable, "-m", "cluster.mcp", "-c", str(self.conf_dir), "--node", self.name]
        for option, path in (
            ("--run-dir", self.run_dir),
            ("--state-dir", self.state_dir),
            ("--log-dir", self.log_dir),
        ):
            argv += [option, str(path)]
        argv += extra_args
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # Nodes share the host's /run; give resource agents a private one, as a real
        # machine has (Debian's IPaddr2 keeps its ARP sender's pidfile there).
        stack_env = {"HA_RSCTMP": str(self.run_dir / "resource-agents"), **(env or {})}
        with open(self.log_dir / "mcp.console", "ab") as console:
            return self.spawn(argv, stdout=console, stderr=subprocess.STDOUT, env=stack_env)

    def ping(self, ip: str, *, timeout: float = 1.0) -> bool:
        """One ICMP echo from this node to `ip` (a lab address); True if answered."""
        self._require_lab_target(ip)
        wait = f"{max(timeout, 0.1):.1f}"
        argv = ["ping", "-n", "-q", "-c", "1", "-W", wait, ip]
        done = self.run(argv, check=False, timeout=timeout + 10)
        return done.returncode == 0

    def power_off(self) -> None:
        """Pull the power: kill everything, links down on both sides, drop what
        lived in RAM (addresses the lab did not assign, the ARP cache). Files
        (sockets, pidfiles, state) stay exactly as a crash leaves them."""
        with self._power_lock:
            netns.kill_all(self.netns)
            self.lab.resources.poll()
            for port in self._present_ports():
                netns.ip("link", "set", port.ifname, "down", netns=self.netns)
                netns.ip("link", "set", port.switch_ifname, "down", netns=self.lab.switch_netns)
            own = {(port.ifname, port.address) for port in self._present_ports()}
            for ifname, address, length in netns.ipv4_addresses(self.netns):
                if ifname != "lo" and (ifname, address) not in own:
                    netns.ip("addr", "del", f"{address}/{length}", "dev", ifname, netns=self.netns)
            netns.ip("neigh", "flush", "all", netns=self.netns)
            self._powered = False

    def power_on(self) -> None:
        """Links back up (switch side only where the cable is plugged); serial
        input queues emptied. Does not start the stack."""
        with self._power_lock:
            for port in self._present_ports():
                prefixed = f"{port.address}/{port.lan.prefixlen}"
                netns.ip("addr", "replace", prefixed, "dev", port.ifname, netns=self.netns)
                netns.ip("link", "set", port.ifname, "up", netns=self.netns)
                if self._plugged[port.lan.name]:
                    netns.ip("link", "set", port.switch_ifname, "up", netns=self.lab.switch_netns)
            for port in self._present_ports():
                if self._plugged[port.lan.name]:
                    self._wait_forwarding(port)
            for link in self._serial_links:
                link.flush(self)
            self._powered = True

    def pull_cable(self, lan: Lan) -> None:
        """Unplug the cable at the switch: carrier lost, address kept."""
        with self._power_lock:
            port = self._port(lan)
            netns.ip("link", "set", port.switch_ifname, "down", netns=self.lab.switch_netns)
            self._plugged[lan.name] = False

    def plug_cable(self, lan: Lan) -> None:
        with self._power_lock:
            port = self._port(lan)
            self._plugged[lan.name] = True
            if self._powered:
                netns.ip("link", "set", port.switch_ifname, "up", netns=self.lab.switch_netns)
                self._wait_forwarding(port)

    def remove_interface(self, lan: Lan) -> None:
        """Unplug the network card on `lan` (a USB NIC pulled out, a VM's NIC
        hot-removed): the interface is deleted, with its address and routes."""
        with self._power_lock:
            port = self._port(lan)
            if lan.name in self._removed:
                raise LabError(f"node {self.name} has no interface on LAN {lan.name} to remove")
            # Deleting the node's end of the veth deletes the switch's end too.
            netns.ip("link", "del", port.ifname, netns=self.netns)
            self._removed.add(lan.name)

    def restore_interface(self, lan: Lan) -> None:
        """Plug the card back in: a new interface of the same name and address
        (a new ifindex, as the kernel gives it), cabled to the LAN again."""
        with self._power_lock:
            self._require_power()
            port = self._port(lan)
            if lan.name not in self._removed:
                raise LabError(f"node {self.name}'s interface on LAN {lan.name} is in place")
            self._create_interface(port)
            self._removed.discard(lan.name)
            self._plugged[lan.name] = True

    def _present_ports(self) -> list[_Port]:
        return [port for port in self._ports.values() if port.lan.name not in self._removed]

    def pause(self) -> None:
        """SIGSTOP every process of the node and wait until all are stopped."""
        self._signal_until(signal.SIGSTOP, stopped=True)

    def resume(self) -> None:
        """SIGCONT every process of the node and wait until none is stopped."""
        self._signal_until(signal.SIGCONT, stopped=False)

    def block(self, lan: Lan, *, loss_percent: int = 100, udp_port: int | None = None) -> None:
        """Drop traffic in and out of the node's interface on `lan` (replacing
        an earlier block there): everything including ARP, or only UDP to
        `udp_port`; every packet or a random `loss_percent` of them."""
        port = self._port(lan)
        self._blocks[port.ifname] = firewall.Block(port.ifname, loss_percent, udp_port)
        self._apply_firewall()

    def unblock(self, lan: Lan) -> None:
        port = self._port(lan)
        if self._blocks.pop(port.ifname, None) is not None:
            self._apply_firewall()

    def _clear_blocks(self) -> None:
        if self._blocks:
            self._blocks.clear()
            self._apply_firewall()

    def _apply_firewall(self) -> None:
        table = f"{self.lab.prefix}_lab"
        netns.apply_nft(self.netns, firewall.script(table, list(self._blocks.values())))

    def _wait_forwarding(self, port: _Port) -> None:
        """Return once both ends are operationally up and the bridge port
        forwards: carrier and port-state changes travel through the kernel's
        linkwatch, which may batch them for up to a second."""
        switch, ifname = self.lab.switch_netns, port.switch_ifname

        def ready() -> bool:
            outside = netns.ip("-d", "-o", "link", "show", "dev", ifname, netns=switch)
            inside = netns.ip("-o", "link", "show", "dev", port.ifname, netns=self.netns)
            up = " state UP " in inside and " state UP " in outside
            return up and "bridge_slave state forwarding" in outside

        wait_for(ready, _LINK_SETTLE, interval=0.01, message=f"{self.name} {port.ifname} up")

    def _require_power(self) -> None:
        if not self._powered:
            raise LabError(f"node {self.name} is powered off")

    def _require_lab_target(self, ip: str) -> None:
        if ipaddress.IPv4Address(ip).is_loopback:
            return
        if not any(lan.contains(ip) for lan in self.lab.lans.values()):
            raise LabError(f"{ip} is not in a lab LAN; the lab only sends to its own subnets")

    def _environment(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        env = dict(os.environ)
        if extra:
            env.update(extra)
        return env

    def _signal_until(self, sig: signal.Signals, *, stopped: bool) -> None:
        """Send `sig` to the node's processes until /proc shows them all
        stopped (or all running); repeated for anything forked meanwhile."""

        def unsettled() -> list[tuple[int, str]]:
            states = [(pid, netns.process_state(pid)) for pid in self.pids()]
            return [(p, s) for p, s in states if s and (s in _STOPPED_STATES) != stopped]

        def settled() -> bool:
            if not unsettled():
                return True
            netns.signal_all(self.netns, sig)
            return False

        try:
            wait_for(settled, _SIGNAL_SETTLE, interval=0.005)
        except TimeoutError as exc:
            want = "stopped" if stopped else "running"
            raise LabError(f"{self.name}: not {want}: (pid, state) {unsettled()}") from exc


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
