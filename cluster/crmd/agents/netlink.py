"""The IP agents' one seam to the kernel: links and IPv4 addresses over rtnetlink.

Role: :class:`Rtnetlink` lists links and IPv4 addresses and adds/deletes an
address on one NETLINK_ROUTE socket (:mod:`cluster.common.rtnetlink`), in the
network namespace of the calling process (a lab node runs the agent inside
its namespace). Each call is one netlink round trip of well under a
millisecond, so the IP agents call it straight from the event loop: a
failover's ``IPaddr start`` is two dumps and one add. Outputs are plain
frozen values (:class:`Link`, :class:`Address`); kernel errors are raised as
``OSError`` with the kernel's errno (``EEXIST`` for an address already
present, ``EADDRNOTAVAIL`` for one already gone).

The :class:`Netlink` protocol is what the agents depend on; unit tests give
them an in-memory fake.
"""

from __future__ import annotations

import itertools
import socket
import struct
from dataclasses import dataclass
from typing import Protocol

from cluster.common import rtnetlink as rt

__all__ = ["Address", "Link", "Netlink", "Rtnetlink"]

_IFF_UP = 0x1
_IFF_LOWER_UP = 0x10000  # the carrier: the physical layer is up
_IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change
_IFLA_ADDRESS = 1
_IFLA_IFNAME = 3
_TIMEOUT = 5.0  # the kernel answers at once; this only bounds a wedged socket


@dataclass(frozen=True, slots=True)
class Link:
    """A network interface: ``up`` is administratively up, ``carrier`` means the
    cable is in (``IFF_LOWER_UP``); ``mac`` is ``aa:bb:cc:dd:ee:ff``."""

    index: int
    name: str
    mac: str
    up: bool
    carrier: bool


@dataclass(frozen=True, slots=True)
class Address:
    """An IPv4 address on interface ``index``; ``label`` is ``eth0`` or ``eth0:vip``."""

    index: int
    address: str
    prefixlen: int
    label: str


class Netlink(Protocol):
    def links(self) -> list[Link]: ...

    def addresses(self) -> list[Address]: ...

    def add_address(
        self, index: int, address: str, prefixlen: int, broadcast: str | None, label: str | None
    ) -> None: ...

    def delete_address(self, index: int, address: str, prefixlen: int) -> None: ...

    def close(self) -> None: ...


class Rtnetlink:
    """The real thing: one NETLINK_ROUTE socket, opened on first use."""

    def __init__(self, timeout: float = _TIMEOUT) -> None:
        self._timeout = timeout
        self._sock: socket.socket | None = None
        self._seq = itertools.count(1)

    def links(self) -> list[Link]:
        result = []
        for kind, payload in self._call("links", rt.RTM_GETLINK, rt.NLM_F_DUMP,
                                        _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)):
            if kind != rt.RTM_NEWLINK or len(payload) < _IFINFOMSG.size:
                continue
            _family, _type, index, flags, _change = _IFINFOMSG.unpack_from(payload)
            attrs = rt.attributes(payload, _IFINFOMSG.size)
            hwaddr = attrs.get(_IFLA_ADDRESS) or bytes(6)
            result.append(
                Link(
                    index=index,
                    name=_text(attrs.get(_IFLA_IFNAME, b"")),
                    mac=":".join(f"{byte:02x}" for byte in hwaddr),
                    up=bool(flags & _IFF_UP),
                    carrier=bool(flags & _IFF_LOWER_UP),
                )
            )
        return result

    def addresses(self) -> list[Address]:
        answers = self._call("addresses", rt.RTM_GETADDR, rt.NLM_F_DUMP,
                             rt.IFADDRMSG.pack(socket.AF_INET, 0, 0, 0, 0))
        return [Address(found.index, found.address, found.prefixlen, found.label)
                for kind, payload in answers
                if kind == rt.RTM_NEWADDR and (found := rt.ipv4_address(payload))]

    def add_address(
        self, index: int, address: str, prefixlen: int, broadcast: str | None, label: str | None
    ) -> None:
        attrs = _address_attrs(address)
        if broadcast:
            attrs.append(rt.attribute(rt.IFA_BROADCAST, socket.inet_aton(broadcast)))
        if label:
            attrs.append(rt.attribute(rt.IFA_LABEL, label.encode() + b"\0"))
        self._call("add address", rt.RTM_NEWADDR,
                   rt.NLM_F_ACK | rt.NLM_F_CREATE | rt.NLM_F_EXCL,
                   rt.IFADDRMSG.pack(socket.AF_INET, prefixlen, 0, 0, index), attrs)

    def delete_address(self, index: int, address: str, prefixlen: int) -> None:
        self._call("delete address", rt.RTM_DELADDR, rt.NLM_F_ACK,
                   rt.IFADDRMSG.pack(socket.AF_INET, prefixlen, 0, 0, index),
                   _address_attrs(address))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _call(self, what: str, kind: int, flags: int, body: bytes,
              attrs: list[bytes] | None = None) -> list[tuple[int, bytes]]:
        if self._sock is None:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                 rt.NETLINK_ROUTE)
            sock.settimeout(self._timeout)
            sock.bind((0, 0))
            self._sock = sock
        seq = next(self._seq) & 0xFFFFFFFF
        try:
            return rt.request(self._sock, seq, kind, rt.NLM_F_REQUEST | flags, body, attrs or ())
        except TimeoutError:
            raise TimeoutError(f"netlink {what}: no answer from the kernel") from None
        except OSError as err:
            raise OSError(err.errno, f"netlink {what}: {err.strerror or err}") from None


def _address_attrs(address: str) -> list[bytes]:
    packed = socket.inet_aton(address)
    return [rt.attribute(rt.IFA_LOCAL, packed), rt.attribute(rt.IFA_ADDRESS, packed)]


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode(errors="replace")
