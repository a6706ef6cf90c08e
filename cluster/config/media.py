"""Heartbeat media and ping nodes: the ``bcast``/``mcast``/``ucast``/``serial``/``ping`` lines.

Role: the part of the ``ha.cf`` grammar that defines communication paths. Each
function takes the tokens of one line (directive removed, already split on
space/tab/comma) plus the ``udpport``/``baud`` in force at that line, and returns
frozen :class:`Medium` or :class:`PingNode` values. Errors are ``ValueError``
(usually :class:`~cluster.config.values.BadValue`); ``hacf.parse_hacf`` adds the
``path:line``. Nothing here opens a socket or resolves a name: that is hbcomm's job.

``Medium`` and ``PingNode`` are re-exported by :mod:`cluster.config.hacf`, which is
where other packages import them from.

Link names: Heartbeat names a link after its device (``eth0``, ``/dev/ttyS0``), so
:attr:`Medium.name` is *not* unique: the usual shared ``ha.cf`` has ``ucast eth1
10.0.0.1`` and ``ucast eth1 10.0.0.2``, two media both called ``eth1``; link status
is per (node, name), exactly as ``cl_status listhblinks`` shows it.
"""

from __future__ import annotations

from dataclasses import dataclass

from cluster.config import values

__all__ = [
    "Medium",
    "PingNode",
    "bcast_media",
    "mcast6_medium",
    "mcast_medium",
    "ping_group",
    "ping_nodes",
    "serial_media",
    "ucast6_medium",
    "ucast_medium",
]

#: Heartbeat 3.0.6's mcast plugin refuses a ttl above this (the man page says 0-255).
HEARTBEAT_MAX_TTL = 4


@dataclass(frozen=True, slots=True)
class Medium:
    """One heartbeat path.

    ``kind`` is ``bcast``, ``mcast``, ``ucast``, ``serial``, ``mcast6`` or
    ``ucast6`` (``udp`` lines become ``bcast``). ``device`` is the interface, or
    the tty path for serial. ``port``: the group port for mcast/mcast6, the
    ``udpport`` in force when the line was read for bcast/ucast/ucast6, ``None``
    for serial. ``baud``: the ``baud`` in force, serial only. ``ttl`` (hops for
    mcast6) and ``loop`` are multicast-only; ``peer`` is the ucast peer (an
    address or an unresolved host name). ``line`` is the ha.cf line.
    """

    kind: str
    device: str
    group: str | None = None
    port: int | None = None
    ttl: int | None = None
    loop: bool | None = None
    peer: str | None = None
    baud: int | None = None
    line: int = 0

    @property
    def name(self) -> str:
        """The link name as Heartbeat shows it: the device (``eth0``, ``/dev/ttyS0``)."""
        return self.device

    def describe(self) -> str:
        """One-line summary for ``cluster-mcp --check``: ``mcast eth0 239.0.0.1:694 ...``."""
        if self.kind in ("mcast", "mcast6"):
            loop = "on" if self.loop else "off"
            return f"{self.group} port {self.port} ttl {self.ttl} loop {loop}"
        if self.kind in ("ucast", "ucast6"):
            return f"to {self.peer} port {self.port}"
        if self.kind == "serial":
            return f"{self.baud} baud"
        return f"port {self.port}"


@dataclass(frozen=True, slots=True)
class PingNode:
    """A pseudo-member that is up while it answers ICMP echo.

    ``name`` is the address for a ``ping`` line, the group name for ``ping_group``
    (lower-cased, like every node name); ``addresses`` are the IPs or host names
    to ping (a group is up if any answers).
    """

    name: str
    addresses: tuple[str, ...]
    line: int = 0


def _need(tokens: list[str], what: str) -> None:
    if not tokens:
        raise ValueError(f"{what} needs at least one value")


def bcast_media(tokens: list[str], udpport: int, line: int, kind: str = "bcast") -> list[Medium]:
    """``bcast eth0 eth1``: one medium per interface, on the current udpport."""
    _need(tokens, kind)
    return [
        Medium("bcast", values.interface_name(token), port=udpport, line=line)
        for token in tokens
    ]


def serial_media(tokens: list[str], baud: int, line: int) -> list[Medium]:
    """``serial /dev/ttyS0 /dev/ttyS1``: one medium per tty, at the current baud."""
    _need(tokens, "serial")
    return [
        Medium("serial", values.absolute_path(token, "serial device"), baud=baud, line=line)
        for token in tokens
    ]


def ucast_medium(tokens: list[str], udpport: int, line: int) -> Medium:
    """``ucast eth1 10.0.0.2``: unicast to one peer (address or host name)."""
    if len(tokens) != 2:
        raise ValueError("ucast takes an interface and a peer address, e.g. ucast eth1 10.0.0.2")
    device = values.interface_name(tokens[0])
    return Medium("ucast", device, port=udpport, peer=values.host(tokens[1]), line=line)


def ucast6_medium(tokens: list[str], udpport: int, line: int) -> Medium:
    """``ucast6 eth1 fe80::2%eth1``: IPv6 unicast to one peer."""
    if len(tokens) != 2:
        raise ValueError("ucast6 takes an interface and a peer IPv6 address")
    device = values.interface_name(tokens[0])
    return Medium("ucast6", device, port=udpport, peer=values.ipv6(tokens[1]), line=line)


def _loop(text: str) -> bool:
    if text not in ("0", "1"):
        raise values.BadValue("loop value", text, "use 0 or 1")
    return text == "1"


def mcast_medium(tokens: list[str], line: int) -> tuple[Medium, str | None]:
    """``mcast dev group port ttl loop``: all five required.

    The group must be class D; ttl is accepted from 0 to 255 (the man page's range)
    but a ttl above 4 also returns a warning, because Heartbeat 3.0.6's code refuses
    it and a mixed cluster would then disagree. Returns ``(medium, warning)``.
    """
    if len(tokens) != 5:
        raise ValueError(
            "mcast takes 5 values: device group port ttl loop, e.g. mcast eth0 239.0.0.1 694 1 0"
        )
    device = values.interface_name(tokens[0])
    group = values.ipv4_multicast(tokens[1])
    port = values.port(tokens[2])
    ttl = values.integer(tokens[3], 0, 255, "ttl")
    medium = Medium("mcast", device, group, port, ttl, _loop(tokens[4]), line=line)
    warning = None
    if ttl > HEARTBEAT_MAX_TTL:
        warning = (
            f"mcast ttl {ttl} is above {HEARTBEAT_MAX_TTL}; this stack accepts it, "
            "but Heartbeat 3.0.6 nodes refuse such a line"
        )
    return medium, warning


def mcast6_medium(tokens: list[str], line: int) -> Medium:
    """``mcast6 dev group port hops loop``: IPv6 multicast, all five required."""
    if len(tokens) != 5:
        raise ValueError(
            "mcast6 takes 5 values: device group port hops loop, e.g. mcast6 eth0 ff12::1 694 1 0"
        )
    device = values.interface_name(tokens[0])
    group = values.ipv6_multicast(tokens[1])
    port = values.port(tokens[2])
    hops = values.integer(tokens[3], 0, 255, "hop limit")
    return Medium("mcast6", device, group, port, hops, _loop(tokens[4]), line=line)


def ping_nodes(tokens: list[str], line: int) -> list[PingNode]:
    """``ping 10.0.0.254 10.0.1.254``: each address is its own ping node."""
    _need(tokens, "ping")
    result = []
    for token in tokens:
        address = values.host(token)
        result.append(PingNode(address, (address,), line))
    return result


def ping_group(tokens: list[str], line: int) -> PingNode:
    """``ping_group gw 10.0.0.254 10.0.1.254``: one ping node, up if any address answers."""
    if len(tokens) < 2:
        raise ValueError("ping_group takes a group name and at least one address")
    name = values.node_name(tokens[0])
    addresses = tuple(values.host(token) for token in tokens[1:])
    return PingNode(name, addresses, line)
