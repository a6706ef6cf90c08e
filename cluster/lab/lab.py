"""The lab: a throw-away data centre of network namespaces on one host.

    with Lab() as lab:
        lan0, lan1 = lab.add_lan("lan0"), lab.add_lan("lan1")
        n1 = lab.add_node("n1", [lan0, lan1])
        n2 = lab.add_node("n2", [lan0, lan1])
        client = lab.add_host("client", [lan0])
        cable = lab.serial_link(n1, n2)
        n1.write_config(ha_cf=..., haresources=...)
        n1.start_stack()

Layout. One "switch" namespace `<prefix>_sw` holds one bridge per LAN
(`<prefix>b<k>`, a dumb hub: no STP delay, no multicast snooping). Every node
or host is a namespace `<prefix>-<name>` with one veth per LAN. LAN k is
10.231.k.0/24; nodes take host numbers 1, 2, ... and hosts 100, 101, ..., the
same number on every LAN. The root namespace gets no interface and no route,
so nothing in the lab can reach beyond it and the host cannot reach into it.

Files live under `root` (default /tmp/cluster-lab/<prefix>): per node
`<name>/{conf,run,state,log}`, the pinned UTS namespace `<name>/.uts`, serial
symlinks `<name>/ttyS<n>`, relay logs. The state directory
/tmp/cluster-lab/<prefix>/ holds `owner` (pid + start time) for the sweeper.

Lifetime. `close()` (also on `with` exit and at interpreter exit through
atexit) stops observers and relays, kills every process group we started and
every process in our namespaces, deletes the namespaces (switch last), unmounts
the UTS namespaces and removes the files, unless CLUSTER_LAB_KEEP=1, which keeps
them for reading logs. Creating a lab first sweeps leftovers of crashed runs
(see cleanup.py). `close()` raises `LabError` if anything was left behind.
"""

from __future__ import annotations

import atexit
import ipaddress
import logging
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from cluster.lab import cleanup, netns
from cluster.lab.cleanup import BASE, Owner, Resources
from cluster.lab.netns import LabError, LabUnavailable
from cluster.lab.node import Node
from cluster.lab.serial import SerialLink

__all__ = ["Lab", "Lan"]

log = logging.getLogger(__name__)

# Interface names are at most 15 bytes: "<prefix>n<index>e<port>" with an
# 8-character prefix, 3-digit node index and 2-digit port is exactly 15.
_PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{1,7}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")
_LAN_RE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_MAX_MACHINES = 999
_MAX_LANS = 254
_FIRST_NODE, _LAST_NODE = 1, 99
_FIRST_HOST, _LAST_HOST = 100, 254
_PREFIX_ATTEMPTS = 64


@dataclass(frozen=True, slots=True)
class Lan:
    """One broadcast domain: a bridge in the switch namespace and a /24."""

    name: str
    subnet: str  # network address, e.g. "10.231.1.0"
    prefixlen: int
    bridge: str  # the bridge's name inside the switch namespace
    index: int

    def host(self, number: int) -> str:
        """The address with host part `number` on this LAN."""
        return str(ipaddress.IPv4Network(f"{self.subnet}/{self.prefixlen}")[number])

    def contains(self, ip: str) -> bool:
        network = ipaddress.IPv4Network(f"{self.subnet}/{self.prefixlen}")
        return ipaddress.IPv4Address(ip) in network


class Lab:
    """Namespaces, LANs, nodes and cables for one test run (a context manager)."""

    def __init__(self, root: Path | None = None, prefix: str | None = None) -> None:
        self._closed = False
        self._keep = os.environ.get("CLUSTER_LAB_KEEP") == "1"
        self.resources = Resources()
        self.lans: dict[str, Lan] = {}
        self.nodes: dict[str, Node] = {}
        self._serial_count = 0
        netns.require_tools()
        cleanup.ensure_base(BASE)
        cleanup.sweep_stale(BASE)
        with cleanup.base_lock(BASE):
            self.prefix = self._claim_prefix(prefix)
            self._state_dir = BASE / self.prefix
            self.root = self._state_dir if root is None else Path(root).absolute()
            if self.root != self._state_dir:
                if self.root.exists() and any(self.root.iterdir()):
                    self._state_dir.rmdir()
                    raise LabError(f"lab root {self.root} must be new or empty")
                self.root.mkdir(parents=True, exist_ok=True)
            start = netns.process_start_time(os.getpid())
            if start is None:
                raise LabUnavailable("cannot read our own /proc/self/stat")
            owner = Owner(os.getpid(), start, self.prefix, str(self.root))
            cleanup.write_owner(self._state_dir, owner)
        self.switch_netns = f"{self.prefix}_sw"
        self._owner_pid = os.getpid()
        atexit.register(self._close_at_exit)
        try:
            netns.add_netns(self.switch_netns)
            netns.sysctl(self.switch_netns, netns.NO_IPV6)
        except LabError as exc:
            self.close()
            raise LabUnavailable(f"cannot create a network namespace: {exc}") from exc
        log.info("lab %s: root=%s", self.prefix, self.root)

    @staticmethod
    def _claim_prefix(wanted: str | None) -> str:
        """Reserve a prefix by creating its state directory (atomic mkdir)."""
        existing = netns.list_netns()
        candidates = (
            [wanted]
            if wanted is not None
            else [f"cl{secrets.token_hex(2)}" for _ in range(_PREFIX_ATTEMPTS)]
        )
        for prefix in candidates:
            if not _PREFIX_RE.match(prefix):
                raise LabError(f"prefix {prefix!r} must match {_PREFIX_RE.pattern}")
            if any(name.startswith((f"{prefix}-", f"{prefix}_")) for name in existing):
                continue
            try:
                (BASE / prefix).mkdir(mode=0o755)
            except FileExistsError:
                continue
            return prefix
        raise LabError(f"no free lab prefix (tried {', '.join(candidates)})")

    # -- building ------------------------------------------------------------

    def add_lan(self, name: str) -> Lan:
        """A new LAN: a bridge in the switch namespace and 10.231.<k>.0/24."""
        self._require_open()
        if not _LAN_RE.match(name) or name in self.lans:
            raise LabError(f"bad or duplicate LAN name {name!r}")
        index = len(self.lans) + 1
        if index > _MAX_LANS:
            raise LabError(f"at most {_MAX_LANS} LANs")
        bridge = f"{self.prefix}b{index}"
        # A dumb hub: no STP listening delay, multicast flooded to every port.
        settings = "forward_delay 0 stp_state 0 mcast_snooping 0"
        netns.ip(
            "link", "add", bridge, "type", "bridge", *settings.split(), netns=self.switch_netns
        )
        netns.ip("link", "set", bridge, "up", netns=self.switch_netns)
        lan = Lan(name=name, subnet=f"10.231.{index}.0", prefixlen=24, bridge=bridge, index=index)
        self.lans[name] = lan
        return lan

    def add_node(self, name: str, lans: Sequence[Lan]) -> Node:
        """A cluster node (host numbers 1..99) with a veth on each of `lans`."""
        count = sum(1 for node in self.nodes.values() if node.host_number < _FIRST_HOST)
        return self._add_machine(name, lans, _FIRST_NODE + count, _LAST_NODE)

    def add_host(self, name: str, lans: Sequence[Lan]) -> Node:
        """A plain host (client, router, ping node): host numbers 100..254."""
        count = sum(1 for node in self.nodes.values() if node.host_number >= _FIRST_HOST)
        return self._add_machine(name, lans, _FIRST_HOST + count, _LAST_HOST)

    def _add_machine(self, name: str, lans: Sequence[Lan], number: int, last: int) -> Node:
        self._require_open()
        if not _NAME_RE.match(name) or name in self.nodes:
            raise LabError(f"bad or duplicate node name {name!r} (a hostname: letters, digits, -)")
        if number > last or len(self.nodes) >= _MAX_MACHINES:
            raise LabError(f"too many machines of this kind (host number {number} > {last})")
        for lan in lans:
            if self.lans.get(lan.name) is not lan:
                raise LabError(f"LAN {lan.name!r} does not belong to lab {self.prefix}")
        if len({lan.name for lan in lans}) != len(lans):
            raise LabError(f"node {name}: a LAN is listed twice")
        node = Node(self, name, index=len(self.nodes), host_number=number)
        # Registered before it is built, so close() removes a half-built node.
        self.nodes[name] = node
        node._build(lans)
        return node

    def serial_link(self, a: Node, b: Node) -> SerialLink:
        """A null-modem cable between `a` and `b` (see serial.py)."""
        self._require_open()
        for node in (a, b):
            if self.nodes.get(node.name) is not node:
                raise LabError(f"node {node.name} does not belong to lab {self.prefix}")
        paths = (self._next_tty(a), self._next_tty(b))
        self._serial_count += 1
        link = SerialLink(
            a,
            b,
            prefix=self.prefix,
            resources=self.resources,
            log_path=self.root / f"serial{self._serial_count}-{a.name}-{b.name}.log",
            links=paths,
        )
        self.resources.add_closer(link.close)
        a._attach_serial(link)
        b._attach_serial(link)
        return link

    def _next_tty(self, node: Node) -> Path:
        for number in range(100):
            candidate = node.dir / f"ttyS{number}"
            if not candidate.is_symlink():
                return candidate
        raise LabError(f"node {node.name} has no free serial port")

    def _require_open(self) -> None:
        if self._closed:
            raise LabError(f"lab {self.prefix} is closed")

    # -- lifetime ----------------------------------------------------------------

    def __enter__(self) -> Lab:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.close()
        except LabError:
            if exc_type is None:
                raise
            # Do not hide the exception that ended the block.
            log.exception("lab %s: cleanup failed while handling %r", self.prefix, exc)

    def _close_at_exit(self) -> None:
        # A child forked without exec inherits our atexit list; only the
        # process that built the lab may tear it down.
        if os.getpid() == self._owner_pid:
            self.close()

    def close(self) -> None:
        """Undo everything (idempotent). Raises LabError listing leftovers."""
        if self._closed:
            return
        errors = self.resources.run_closers()
        for node in self.nodes.values():
            try:
                node._clear_blocks()
            except LabError as exc:
                errors.append(f"nft tables of {node.name}: {exc}")
        self.resources.kill_groups()
        errors += cleanup.teardown(self.prefix, self.root, self._state_dir, keep_files=self._keep)
        errors += self.resources.reap()
        self._closed = True
        atexit.unregister(self._close_at_exit)
        if errors:
            raise LabError(f"lab {self.prefix}: cleanup incomplete: {'; '.join(errors)}")
        log.info("lab %s: closed", self.prefix)
