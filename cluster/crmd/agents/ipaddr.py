"""Built-in ``IPaddr`` / ``IPaddr2``: a service address, added in-process.

Role: the failover fast path. Heartbeat ran a shell wrapper around an OCF
script that forked ``ip``, ``findif`` and ``send_arp``; here start/stop/monitor
are a few netlink calls (about a millisecond each) on the daemon's own thread,
followed by gratuitous ARP (see ``arp.py``). Inputs: the haresources
arguments; output: a :class:`Reply` at once (no procedure, no process).

Arguments (heartbeat.md 2.2), the first one required::

    IPaddr::ip[/bits[/iface[/broadcast]]]      (ip/bits/broadcast: 3rd field starts with a digit)
    IPaddr2::ip[/bits[/iface[:label][/broadcast]]]
    IPaddr::ip/iface                           (bits looked up, see below)
    ...::arp_count=5::arp_interval=200         (optional, name=value; interval in ms)

``bits`` may be a dotted netmask. Missing ``iface`` or ``bits`` are found as
``findif`` does: the interface holding an address whose subnet contains the IP
(longest prefix wins), and that subnet's prefix length. The broadcast defaults
to the subnet's (none for /31 and /32). Both agent names behave the same; a
label is allowed in either.

Semantics (Pacemaker's IPaddr2 contract):

* ``start``: fails (``FAILED``, marked ``missing``: this node's environment, not
  the address, is at fault) when the interface is down or has no carrier;
  adds the address unless present (present = ok, idempotent); then announces it
  with ``arp_count`` rounds of gratuitous ARP, ``arp_interval`` apart (not on
  loopback). A findif failure is ``INVALID_ARGS``: another node may be able to.
* ``stop``: cancels pending announcements, deletes the address; absent = ok.
  Stop never needs the findif lookup, so it works even when start could not.
* ``reannounce``: when the address is here, announces it again with the same
  train as a start (a pending one is replaced); ``NOT_RUNNING`` when it is
  not. Nothing is added or removed.
* ``monitor``: ``NOT_RUNNING`` when the address is absent (from the named
  interface, else from every interface); ``FAILED`` when present but the
  interface was taken down; else ``OK``.  A lost carrier (a pulled cable) is
  *not* a failure: whether clients are better served elsewhere is ipfail's
  judgement, which compares both nodes' uplinks (failing the resource here
  would stop it everywhere when every uplink is down).
"""

from __future__ import annotations

import errno
import ipaddress
from dataclasses import dataclass

from cluster.bus.loop import Loop
from cluster.common import trace
from cluster.crmd.agents.arp import Announcement, ArpSender
from cluster.crmd.agents.netlink import Address, Link, Netlink
from cluster.crmd.agents.protocol import OpRequest, Outcome, Reply

__all__ = ["IpAddressAgent", "IpSpec", "find_interface", "parse_ip_spec"]

ARP_COUNT = 5  #: IPaddr2's default number of gratuitous ARP rounds
ARP_INTERVAL = 0.2  #: IPaddr2's default gap between rounds (200 ms)
_IFNAMSIZ = 15


@dataclass(frozen=True, slots=True)
class IpSpec:
    """A parsed IPaddr/IPaddr2 resource; ``None`` fields are found at start."""

    ip: str
    prefixlen: int | None = None
    nic: str | None = None
    label: str | None = None
    broadcast: str | None = None
    arp_count: int = ARP_COUNT
    arp_interval: float = ARP_INTERVAL


def parse_ip_spec(args: tuple[str, ...]) -> IpSpec:
    """Parse ``IPaddr``/``IPaddr2`` arguments; raises ``ValueError``."""
    if not args:
        raise ValueError("no address given (write IPaddr::10.0.0.5/24/eth0)")
    fields = args[0].split("/")
    ip = _ipv4(fields.pop(0), "address")
    prefixlen = nic = label = broadcast = None
    if fields and (fields[0][:1].isdigit() or fields[0] == ""):
        bits = fields.pop(0)
        prefixlen = _prefixlen(bits) if bits else None
    if fields and not fields[0][:1].isdigit():
        nic = fields.pop(0) or None
    if fields:
        broadcast = _ipv4(fields.pop(0), "broadcast") if fields[0] else None
    if fields:
        raise ValueError(f"too many '/' fields in {args[0]!r} (ip/bits/iface/broadcast)")
    if nic is not None:
        nic, _, label = nic.partition(":")
        label = label or None
        _check_ifname(nic, label)
    count, interval = ARP_COUNT, ARP_INTERVAL
    for option in args[1:]:
        name, sep, value = option.partition("=")
        if not sep:
            raise ValueError(f"bad option {option!r} (write name=value, e.g. arp_count=3)")
        if name == "arp_count":
            count = _integer(value, name, 0, 1000)
        elif name == "arp_interval":
            interval = _integer(value, name, 1, 60_000) / 1000.0
        else:
            raise ValueError(f"unknown option {name!r} (known: arp_count, arp_interval)")
    return IpSpec(ip, prefixlen, nic, label, broadcast, count, interval)


def find_interface(
    ip: str, links: list[Link], addresses: list[Address], nic: str | None
) -> tuple[Link, int] | None:
    """``findif``: the link (named ``nic`` if given) holding an address whose
    subnet contains ``ip``, with that subnet's prefix length; longest prefix
    wins, loopback only when named; ``None`` if there is none."""
    target = ipaddress.IPv4Address(ip)
    by_index = {link.index: link for link in links}
    best: tuple[Link, int] | None = None
    for addr in addresses:
        link = by_index.get(addr.index)
        if link is None or addr.address == ip or (nic is None and link.name == "lo"):
            continue
        if nic is not None and link.name != nic:
            continue
        network = ipaddress.IPv4Network(f"{addr.address}/{addr.prefixlen}", strict=False)
        if target in network and (best is None or addr.prefixlen > best[1]):
            best = (link, addr.prefixlen)
    return best


class IpAddressAgent:
    """The built-in IPaddr/IPaddr2 agent for one resource."""

    def __init__(self, args: tuple[str, ...], loop: Loop, netlink: Netlink, arp: ArpSender) -> None:
        self._loop = loop
        self._netlink = netlink
        self._arp = arp
        self._announcement: Announcement | None = None
        self._spec: IpSpec | None = None
        self._error = ""
        try:
            self._spec = parse_ip_spec(args)
        except ValueError as err:
            self._error = str(err)

    @property
    def busy(self) -> bool:
        return self._announcement is not None and self._announcement.pending

    def close(self) -> None:
        self._silence()

    def execute(self, request: OpRequest) -> Reply:
        spec = self._spec
        if spec is None:
            if request.action == "stop":  # nothing we could have started
                return Reply(Outcome.OK, detail=f"nothing to stop: {self._error}")
            return Reply(Outcome.CONFIG_ERROR, detail=self._error)
        try:
            if request.action == "start":
                return self._start(spec)
            if request.action == "stop":
                return self._stop(spec)
            if request.action == "reannounce":
                return self._reannounce(spec)
            return self._monitor(spec)
        except OSError as err:
            return Reply(Outcome.FAILED, detail=f"{spec.ip}: {err.strerror or err}")

    def _start(self, spec: IpSpec) -> Reply:
        links, addresses = self._netlink.links(), self._netlink.addresses()
        held = _holder(spec, links, addresses)
        bits: int | None = None  # set when the address must be added
        if held is not None:
            link, detail = held, f"{spec.ip} already on {held.name}"
        elif spec.nic is not None and all(link.name != spec.nic for link in links):
            return Reply(Outcome.INVALID_ARGS, detail=f"no interface {spec.nic} on this node")
        else:
            link_bits = _placement(spec, links, addresses)
            if link_bits is None:
                where = f"interface {spec.nic}" if spec.nic else "any interface"
                return Reply(
                    Outcome.INVALID_ARGS,
                    detail=f"no subnet on {where} contains {spec.ip}; "
                    "give the prefix and interface (IPaddr::ip/bits/iface)",
                )
            link, bits = link_bits
            detail = f"{spec.ip}/{bits} added to {link.name}"
        if not (link.up and link.carrier):  # no use taking an address nobody can reach
            return Reply(Outcome.FAILED, detail=f"{link.name} is {_link_state(link)}",
                         missing=True)
        if bits is not None:
            self._add(spec, link, bits)
        self._announce(spec, link)
        return Reply(Outcome.OK, detail=detail)

    def _add(self, spec: IpSpec, link: Link, bits: int) -> None:
        broadcast = spec.broadcast
        if broadcast is None and bits <= 30:
            network = ipaddress.IPv4Network(f"{spec.ip}/{bits}", strict=False)
            broadcast = str(network.broadcast_address)
        label = f"{link.name}:{spec.label}" if spec.label else None
        try:
            self._netlink.add_address(link.index, spec.ip, bits, broadcast, label)
            trace.mark("ipaddr.added", spec.ip)
        except OSError as err:
            if err.errno != errno.EEXIST:  # added meanwhile: that is what we wanted
                raise

    def _announce(self, spec: IpSpec, link: Link) -> None:
        self._silence()
        if link.name != "lo" and spec.arp_count > 0:
            self._announcement = Announcement(
                self._loop, self._arp, link.name, link.mac, spec.ip,
                spec.arp_count, spec.arp_interval,
            )  # fmt: skip

    def _silence(self) -> None:
        if self._announcement is not None:
            self._announcement.cancel()
            self._announcement = None

    def _reannounce(self, spec: IpSpec) -> Reply:
        link = _holder(spec, self._netlink.links(), self._netlink.addresses())
        if link is None:
            return Reply(Outcome.NOT_RUNNING, detail=f"{spec.ip} is not configured")
        self._announce(spec, link)
        return Reply(Outcome.OK, detail=f"{spec.ip} announced again on {link.name}")

    def _stop(self, spec: IpSpec) -> Reply:
        """The kernel labels every IPv4 address with its interface's name (``eth0`` or
        ``eth0:alias``), so the release needs no dump of the links: the slowest netlink
        call on the handover's path."""
        self._silence()
        removed = []
        for addr in self._netlink.addresses():
            ifname = addr.label.partition(":")[0]
            if addr.address != spec.ip or (spec.nic is not None and ifname != spec.nic):
                continue
            try:
                self._netlink.delete_address(addr.index, addr.address, addr.prefixlen)
            except OSError as err:
                if err.errno != errno.EADDRNOTAVAIL:  # gone meanwhile: fine
                    raise
            removed.append(ifname)
        if not removed:
            return Reply(Outcome.OK, detail=f"{spec.ip} was not configured")
        return Reply(Outcome.OK, detail=f"{spec.ip} removed from {', '.join(removed)}")

    def _monitor(self, spec: IpSpec) -> Reply:
        link = _holder(spec, self._netlink.links(), self._netlink.addresses())
        if link is None:
            return Reply(Outcome.NOT_RUNNING, detail=f"{spec.ip} is not configured")
        if not link.up:
            return Reply(Outcome.FAILED, detail=f"{spec.ip} on {link.name}, {_link_state(link)}")
        if not link.carrier:
            return Reply(Outcome.OK, detail=f"{spec.ip} on {link.name}, which has no carrier")
        return Reply(Outcome.OK, detail=f"{spec.ip} on {link.name}")


def _holder(spec: IpSpec, links: list[Link], addresses: list[Address]) -> Link | None:
    """The link that has ``spec.ip`` (on ``spec.nic`` if named), or ``None``."""
    by_index = {link.index: link for link in links}
    for addr in addresses:
        link = by_index.get(addr.index)
        if addr.address == spec.ip and link is not None and spec.nic in (None, link.name):
            return link
    return None


def _placement(
    spec: IpSpec, links: list[Link], addresses: list[Address]
) -> tuple[Link, int] | None:
    if spec.nic is not None and spec.prefixlen is not None:
        named = [link for link in links if link.name == spec.nic]
        return (named[0], spec.prefixlen) if named else None
    found = find_interface(spec.ip, links, addresses, spec.nic)
    if found is None:
        return None
    return found[0], spec.prefixlen if spec.prefixlen is not None else found[1]


def _link_state(link: Link) -> str:
    return "down" if not link.up else "up but has no carrier (cable pulled?)"


def _ipv4(text: str, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise ValueError(f"bad {what} {text!r} (an IPv4 address like 10.0.0.5)") from None


def _prefixlen(bits: str) -> int:
    if "." in bits:
        try:
            return ipaddress.IPv4Network(f"0.0.0.0/{bits}").prefixlen
        except ValueError:
            raise ValueError(f"bad netmask {bits!r}") from None
    return _integer(bits, "netmask bits", 1, 32)


def _integer(text: str, what: str, low: int, high: int) -> int:
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValueError(f"bad {what} {text!r} (a whole number from {low} to {high})")
    return int(text)


def _check_ifname(nic: str, label: str | None) -> None:
    full = f"{nic}:{label}" if label else nic
    if not nic or len(full) > _IFNAMSIZ or "/" in full or " " in full:
        raise ValueError(f"bad interface {full!r} (at most {_IFNAMSIZ} characters with label)")
