"""A whole cluster wired as admins wire one, for acceptance tests, the fault run and the bench.

    site = Site(lab, SiteOptions(nodes=2))
    site.start()                                   # every node at once
    site.audit(up=site.names, holder="node1")      # membership, placement, leftovers
    site.power_off("node1"); site.wait_served_by("node2")

Wiring: a ``public`` LAN (eth0: the service address, a client and a router
that serves as ipfail's ping node) and a ``hb`` LAN (eth1: ``bcast``); two
nodes also get a null-modem cable.  Every node has its own RPS-10 simulator
on a pty, with one outlet for every *other* node (``stonith_host nodeX rps10
TTY nodeY 0 nodeZ 1``), so whichever node coordinates can fence any peer, and
its own watchdog simulator.  The group, preferred on ``node1``, is a file
system on a shared disk (ext4 on a loop device), the service address and a
web server that says which node answers::

    node1 Filesystem::/dev/loopN::MNT::ext4 IPaddr::VIP/24/eth0 httpd

Each node's stack runs in its own mount namespace, so the mount is visible
only on the node that holds it; `MountObserver` and `OwnershipObserver` watch
the mount and the address from the outside, every few milliseconds, for the
whole life of the site.  `audit` is the check every scenario runs after each
step: it asks every node (never only the coordinator).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from cluster.bus.client import BusError, request
from cluster.bus.messages.crmd import GetStatus, StatusResult
from cluster.lab.lab import Lab, Lan
from cluster.lab.netns import LabError, LabUnavailable, command
from cluster.lab.node import Node
from cluster.lab.observer import MountObserver, OwnershipObserver
from cluster.lab.probes import cli_tool, hb_tool, log_tails, served_by
from cluster.lab.rps10 import Rps10Simulator
from cluster.lab.services import HTTP_PORT, httpd_script
from cluster.lab.waiting import wait_for
from cluster.lab.watchdog_sim import WatchdogSimulator

__all__ = ["AuditError", "Site", "SiteOptions", "started_site"]

_OUTLETS = "0123456789A"
_BOOT_TIMEOUT = 60.0
_STOP_TIMEOUT = 60.0
_DISK_MIB = 8


@dataclass(frozen=True)
class SiteOptions:
    nodes: int = 2
    keepalive_ms: int = 100
    deadtime_ms: int = 500
    initdead_ms: int = 4000
    deadping_ms: int = 500
    auto_failback: str = "on"
    serial: bool = True          # a null-modem cable too (two nodes only)
    stonith: bool = True         # an RPS-10 on every node, feeding every other node
    watchdog: bool = True
    ipfail: bool = True          # a router as ping node and `respawn ... ipfail`
    filesystem: bool = True      # ext4 on a loop device in the group
    ocf_address: bool = False    # the address as Debian's ocf:heartbeat:IPaddr2, not IPaddr


class AuditError(AssertionError):
    """An audit that did not hold within its bound; the message says what and where."""


class Site:
    """The nodes, wiring, devices and observers of one lab cluster."""

    def __init__(self, lab: Lab, options: SiteOptions = SiteOptions()) -> None:
        if not 1 <= options.nodes <= len(_OUTLETS) + 1:
            raise LabError(f"a site has 1 to {len(_OUTLETS) + 1} nodes")
        self.lab = lab
        self.options = options
        self.public: Lan = lab.add_lan("public")
        self.hb: Lan = lab.add_lan("hb")
        self.names = [f"node{i + 1}" for i in range(options.nodes)]
        self.nodes = {name: lab.add_node(name, [self.public, self.hb]) for name in self.names}
        self.client = lab.add_host("client", [self.public])
        self.router = lab.add_host("router", [self.public]) if options.ipfail else None
        self.vip = self.public.host(200)
        self.mountpoint = lab.root / "shared-disk"
        self.device = self._make_disk() if options.filesystem else None
        self.switches: dict[str, Rps10Simulator] = {}
        self.outlets: dict[str, dict[str, str]] = {}   # switch owner -> target -> outlet
        self.dogs: dict[str, WatchdogSimulator] = {}
        self.mcp: dict[str, subprocess.Popen[bytes]] = {}
        if options.stonith:
            self._make_switches()
        if options.watchdog:
            for name, node in self.nodes.items():
                self.dogs[name] = WatchdogSimulator(node.dir / "watchdog", node.power_off,
                                                    lab=lab)
        self.cable = (lab.serial_link(*self.nodes.values())
                      if options.serial and options.nodes == 2 else None)
        self._configure()
        self.vip_observer = OwnershipObserver(list(self.nodes.values()), self.vip).start()
        self.mount_observer = (MountObserver(list(self.nodes.values()), str(self.mountpoint))
                               .start() if self.device else None)

    # -- building -------------------------------------------------------------------------

    def _make_disk(self) -> str:
        """An ext4 image behind a loop device: the shared disk both nodes can mount."""
        image = self.lab.root / "shared-disk.img"
        with open(image, "wb") as handle:
            handle.truncate(_DISK_MIB * 1024 * 1024)
        command(["mkfs.ext4", "-q", "-F", "-L", "shared", str(image)])
        self.mountpoint.mkdir()
        try:
            device = command(["losetup", "--find", "--show", str(image)]).strip()
        except LabError as exc:
            raise LabUnavailable(f"no loop device for the shared disk: {exc}") from exc
        self.lab.resources.add_closer(lambda: self._detach(device))
        return device

    @staticmethod
    def _detach(device: str) -> None:
        subprocess.run(["losetup", "--detach", device], check=False, capture_output=True)

    def _make_switches(self) -> None:
        for owner in self.names:
            targets = [name for name in self.names if name != owner]
            outlets = dict(zip(targets, _OUTLETS, strict=False))
            self.outlets[owner] = outlets
            self.switches[owner] = Rps10Simulator(
                {outlet: self.nodes[target] for target, outlet in outlets.items()},
                lab=self.lab, toggle_delay=0.05)

    def ha_cf(self, name: str) -> str:
        o = self.options
        lines = [f"keepalive {o.keepalive_ms}ms", f"deadtime {o.deadtime_ms}ms",
                 f"warntime {max(o.deadtime_ms // 2, o.keepalive_ms)}ms",
                 f"initdead {o.initdead_ms}ms", f"auto_failback {o.auto_failback}",
                 "bcast eth1"]
        if self.cable is not None:
            lines += ["baud 115200", f"serial {self.cable.path(self.nodes[name])}"]
        if self.router is not None:
            lines += [f"deadping {o.deadping_ms}ms", f"ping {self.router.address(self.public)}",
                      "respawn hacluster /usr/lib/heartbeat/ipfail"]
        for owner, outlets in self.outlets.items():
            pairs = " ".join(f"{target} {outlet}" for target, outlet in outlets.items())
            lines.append(f"stonith_host {owner} rps10 {self.switches[owner].path} {pairs}")
        if name in self.dogs:
            lines.append(f"watchdog {self.dogs[name].path}")
        lines.append("node " + " ".join(self.names))
        return "\n".join(lines) + "\n"

    def haresources(self) -> str:
        disk = (f"Filesystem::{self.device}::{self.mountpoint}::ext4 "
                if self.device else "")
        address = (f"ocf:heartbeat:IPaddr2::ip={self.vip}::cidr_netmask=24::nic=eth0"
                   if self.options.ocf_address else f"IPaddr::{self.vip}/24/eth0")
        return f"{self.names[0]} {disk}{address} httpd\n"

    def _configure(self) -> None:
        for name, node in self.nodes.items():
            node.write_config(ha_cf=self.ha_cf(name), haresources=self.haresources(),
                              files={"resource.d/httpd": httpd_script(node, HTTP_PORT)})

    # -- power and stacks -------------------------------------------------------------------

    def start(self, *names: str) -> None:
        """Power on (if off) and start the stacks of `names` (default: all) at once."""
        for name in names or self.names:
            node = self.nodes[name]
            if not node.powered:
                node.power_on()
            self.mcp[name] = node.start_stack()

    def stop(self, *names: str, timeout: float = _STOP_TIMEOUT) -> None:
        """SIGTERM the master control processes of `names` at once; each must exit 0."""
        chosen = names or tuple(n for n in self.names if self.running(n))
        for name in chosen:
            self.mcp[name].send_signal(signal.SIGTERM)
        for name in chosen:
            code = self.mcp[name].wait(timeout=timeout)
            if code != 0:
                raise AuditError(f"{name}: cluster-mcp exited {code} on SIGTERM\n"
                                 + self.log_tails([name]))

    def running(self, name: str) -> bool:
        proc = self.mcp.get(name)
        return proc is not None and proc.poll() is None

    def power_off(self, name: str) -> None:
        self.nodes[name].power_off()

    def kill_daemon(self, name: str, title: str) -> int:
        """SIGKILL the process titled `title` ("cluster: crmd") on node `name`; its pid."""
        pid = self.nodes[name].pid_of(title)
        if pid is None:
            raise LabError(f"{name}: no process titled {title!r}")
        os.kill(pid, signal.SIGKILL)
        return pid

    def tool(self, name: str, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run hb_standby / hb_takeover (`tool` = "standby" | "takeover") on node `name`."""
        return hb_tool(self.nodes[name], tool, *args, wait=30.0)

    def cli(self, name: str, tool: str, *args: str) -> str:
        """Run `tool` (crm_resource, crm_standby, ...) on node `name`; its stdout.
        AuditError with stdout, stderr and the log tails if it does not exit 0."""
        done = cli_tool(self.nodes[name], tool, *args)
        if done.returncode != 0:
            raise AuditError(f"{name}: {tool} {' '.join(args)} exited {done.returncode}:\n"
                             f"{done.stdout}{done.stderr}\n{self.log_tails()}")
        return done.stdout

    # -- questions --------------------------------------------------------------------------

    def status(self, name: str) -> StatusResult | None:
        """crmd's status on node `name` (None if it does not answer)."""
        node = self.nodes[name]
        if not node.powered:
            return None
        try:
            reply = request(node.run_dir, "crmd", GetStatus(), timeout=2.0)
        except (BusError, OSError):
            return None
        return reply if isinstance(reply, StatusResult) else None

    @staticmethod
    def holder_in(status: StatusResult) -> str | None:
        """Where `status` says the whole group runs (None: stopped, moving or split)."""
        places = {(r.state, r.node) for r in status.resources}
        if len(places) == 1:
            state, where = places.pop()
            return where if state == "started" else None
        return None

    def wait_everywhere(self, check: Callable[[StatusResult], bool], what: str,
                        timeout: float = _BOOT_TIMEOUT) -> None:
        """Wait until every node's crmd answers with a status for which `check` holds."""
        wait_for(lambda: all((s := self.status(n)) is not None and check(s) for n in self.names),
                 timeout, message=what)

    def vip_owners_since(self, since: float) -> list[frozenset[str]]:
        """Who held the address, change by change, from `since` on (the observer's view;
        an empty set is a gap)."""
        return [s.owners for s in self.vip_observer.timeline if s.last >= since]

    def answer(self) -> str:
        """Which node answers http://VIP:8080/ from the client ("" for nobody)."""
        return served_by(self.client, self.vip)

    def wait_served_by(self, name: str, timeout: float = _BOOT_TIMEOUT) -> float:
        """Wait until the client is answered by `name`; returns when (monotonic)."""
        try:
            wait_for(lambda: self.answer() == name, timeout, interval=0.05,
                     message=f"client served by {name}")
        except TimeoutError as exc:
            raise AuditError(f"{exc}\n{self.log_tails()}") from None
        return time.monotonic()

    def log(self, name: str, daemon: str) -> str:
        return self.nodes[name].daemon_log(daemon)

    def log_tails(self, names: Iterable[str] | None = None, lines: int = 25) -> str:
        return log_tails([self.nodes[n] for n in names or self.names],
                         ("crmd", "ccm", "hbcomm", "stonithd", "mcp"), lines)

    # -- audits -----------------------------------------------------------------------------

    def audit_problems(self, up: Iterable[str], holder: str | None,
                       cut_off: Iterable[str] = ()) -> list[str]:
        """What is wrong right now, given the nodes that should be up and where the group
        should run (None: nowhere).  `cut_off` nodes (paused, or isolated in their own
        partition) are audited by nobody.  Empty when everything holds."""
        up_set = set(up)
        problems: list[str] = []
        for name in (n for n in self.names if n not in set(cut_off)):
            node = self.nodes[name]
            if name in up_set:
                problems += self._audit_up(name, sorted(up_set), holder)
            else:
                problems += self._audit_down(name, node)
        owners = self.vip_observer.owners_now()
        want = {holder} if holder else set()
        if owners != want:
            problems.append(f"{self.vip} held by {sorted(owners)}, expected {sorted(want)}")
        if self.mount_observer is not None:
            mounted = self.mount_observer.owners_now()
            if mounted != want:
                problems.append(f"shared disk mounted on {sorted(mounted)}, "
                                f"expected {sorted(want)}")
        served = self.answer()
        if served != (holder or ""):
            problems.append(f"client served by {served or 'nobody'}, expected {holder}")
        return problems

    def _audit_up(self, name: str, members: list[str], holder: str | None) -> list[str]:
        status = self.status(name)
        if status is None:
            return [f"{name}: crmd does not answer"]
        problems = []
        if sorted(status.members) != members:
            problems.append(f"{name}: members {sorted(status.members)}, expected {members}")
        if self.holder_in(status) != holder:
            problems.append(f"{name}: says the group runs on {self.holder_in(status)}, "
                            f"expected {holder}")
        return problems

    def _audit_down(self, name: str, node: Node) -> list[str]:
        problems = []
        if node.pids():
            problems.append(f"{name}: stopped but processes remain: "
                            f"{sorted(node.processes().values())}")
        if self.running(name):
            problems.append(f"{name}: cluster-mcp still running")
        sockets = sorted(p.name for p in node.run_dir.glob("*") if p.is_socket())
        if node.powered and sockets:   # a power-off leaves files as a crash does
            problems.append(f"{name}: sockets left in {node.run_dir}: {sockets}")
        if node.powered and node.has_address(self.vip):
            problems.append(f"{name}: stopped but holds {self.vip}")
        return problems

    def audit(self, up: Iterable[str], holder: str | None, cut_off: Iterable[str] = (),
              timeout: float = _BOOT_TIMEOUT) -> float:
        """Wait (bounded) until `audit_problems` is empty; AuditError naming what is
        still wrong otherwise.  Returns the time it took."""
        up_list, cut_list = list(up), list(cut_off)
        began = time.monotonic()
        last: list[str] = []

        def clean() -> bool:
            nonlocal last
            last = self.audit_problems(up_list, holder, cut_list)
            return not last

        try:
            wait_for(clean, timeout, interval=0.1, message="audit")
        except TimeoutError:
            raise AuditError("audit failed:\n  " + "\n  ".join(last) + "\n"
                             + self.log_tails()) from None
        return time.monotonic() - began

    def assert_safe(self) -> None:
        """Neither the address nor the disk was ever held by two nodes (so far)."""
        self.vip_observer.assert_safe()
        if self.mount_observer is not None:
            self.mount_observer.assert_safe()

    def close(self) -> None:
        """Stop the observers (the lab removes everything else)."""
        self.vip_observer.stop()
        if self.mount_observer is not None:
            self.mount_observer.stop()



@contextmanager
def started_site(lab: Lab, options: SiteOptions) -> Iterator[Site]:
    """A site with every stack started and node1 holding the group (audited); its
    observers are stopped after, and it must have stayed safe throughout."""
    site = Site(lab, options)
    site.start()
    site.audit(up=site.names, holder=site.names[0])
    yield site
    site.close()
    site.assert_safe()
