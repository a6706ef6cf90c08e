"""The IP agents' one seam to the kernel: links and IPv4 addresses over rtnetlink.

Role: :class:`Rtnetlink` lists links and IPv4 addresses and adds/deletes an
address with pyroute2, in the network namespace of the calling process (a lab
node runs the agent inside its namespace). Each call is one netlink round trip
(about a millisecond), so the IP agents call it straight from the event loop.
Outputs are plain frozen values (:class:`Link`, :class:`Address`); kernel
errors are raised as ``OSError`` with the kernel's errno (``EEXIST`` for an
address already present, ``EADDRNOTAVAIL`` for one already gone).

The :class:`Netlink` protocol is what the agents depend on; unit tests give
them an in-memory fake. pyroute2 is imported by the first call, not at import
time: it costs a fifth of a second that tools running only scripts never pay.
crmd's start-up probe of its IP resources is normally that first call, so a
later failover does not pay it either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Address", "Link", "Netlink", "Rtnetlink"]

_AF_INET = 2
_IFF_UP = 0x1
_IFF_LOWER_UP = 0x10000  # the carrier: the physical layer is up


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
    """The real thing: one pyroute2 ``IPRoute`` socket, opened on first use."""

    def __init__(self) -> None:
        self._ipr: Any = None

    def links(self) -> list[Link]:
        result = []
        for msg in self._call("get_links"):
            flags = int(msg["flags"])
            result.append(
                Link(
                    index=int(msg["index"]),
                    name=str(msg.get("ifname")),
                    mac=str(msg.get("address") or "00:00:00:00:00:00"),
                    up=bool(flags & _IFF_UP),
                    carrier=bool(flags & _IFF_LOWER_UP),
                )
            )
        return result

    def addresses(self) -> list[Address]:
        result = []
        for msg in self._call("get_addr", family=_AF_INET):
            # IFA_LOCAL is our address; IFA_ADDRESS is the peer on point-to-point links.
            address = msg.get("local") or msg.get("address")
            if address:
                label = str(msg.get("label") or "")
                result.append(
                    Address(int(msg["index"]), str(address), int(msg["prefixlen"]), label)
                )
        return result

    def add_address(
        self, index: int, address: str, prefixlen: int, broadcast: str | None, label: str | None
    ) -> None:
        extra: dict[str, str] = {}
        if broadcast:
            extra["broadcast"] = broadcast
        if label:
            extra["label"] = label
        self._call("addr", "add", index=index, address=address, prefixlen=prefixlen, **extra)

    def delete_address(self, index: int, address: str, prefixlen: int) -> None:
        self._call("addr", "del", index=index, address=address, prefixlen=prefixlen)

    def close(self) -> None:
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        from pyroute2 import IPRoute
        from pyroute2.netlink.exceptions import NetlinkError

        if self._ipr is None:
            self._ipr = IPRoute()
        try:
            return getattr(self._ipr, method)(*args, **kwargs)
        except NetlinkError as err:
            raise OSError(err.code, f"netlink {method}: {err}") from None
