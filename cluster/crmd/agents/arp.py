"""Gratuitous ARP: tell the LAN that a service address now lives at our MAC.

Role: after ``IPaddr start`` adds an address, switches and neighbours still map
it to the old owner's MAC until their caches expire (minutes). An
:class:`Announcement` fixes that at once: it sends ``count`` rounds, each an ARP
*request* and an ARP *reply* for the address, ``interval`` seconds apart, as
Debian's libnet ``send_arp`` does (some switches and firewalls learn only from
replies, hosts with ``arp_accept`` from either). The first round goes out
before :class:`Announcement` returns, so failover does not wait for a timer;
the rest run on loop timers and :meth:`Announcement.cancel` (``IPaddr stop``)
drops them.

Frames (RFC 826/5227 layout, broadcast destination, EtherType 0x0806): the
request has sender = target = the address and an all-zero target MAC; the reply
has sender = target = the address and target MAC = our MAC, which is what
Linux recognises as a gratuitous reply. Inputs: interface name, MAC, IPv4
address. Output: frames on an ``AF_PACKET`` socket bound to the interface
(:class:`RawArpSender`); unit tests pass a recording fake sender.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import struct
from collections.abc import Sequence
from typing import Protocol

from cluster.bus.loop import Loop, Timer
from cluster.common import trace

__all__ = ["Announcement", "ArpSender", "RawArpSender", "garp_frames"]

log = logging.getLogger(__name__)

_BROADCAST = b"\xff" * 6
_ZERO_MAC = b"\x00" * 6
_ETH_P_ARP = 0x0806
_ARP_HEADER = struct.Struct("!HHBBH")  # hardware type, protocol, hlen, plen, op
_ARPHRD_ETHER = 1
_ETH_P_IP = 0x0800
_OP_REQUEST = 1
_OP_REPLY = 2
_MIN_FRAME = 60


def garp_frames(mac: str, address: str) -> tuple[bytes, bytes]:
    """The gratuitous ARP request and reply Ethernet frames for ``address``."""
    own = bytes.fromhex(mac.replace(":", ""))
    if len(own) != 6:
        raise ValueError(f"not an Ethernet MAC address: {mac!r}")
    ip = ipaddress.IPv4Address(address).packed

    def frame(op: int, target_mac: bytes) -> bytes:
        ethernet = _BROADCAST + own + struct.pack("!H", _ETH_P_ARP)
        arp = _ARP_HEADER.pack(_ARPHRD_ETHER, _ETH_P_IP, 6, 4, op)
        # Padded to Ethernet's 60-byte minimum; not every driver pads for us.
        return (ethernet + arp + own + ip + target_mac + ip).ljust(_MIN_FRAME, b"\x00")

    return frame(_OP_REQUEST, _ZERO_MAC), frame(_OP_REPLY, own)


class ArpSender(Protocol):
    def send(self, ifname: str, frames: Sequence[bytes]) -> None:
        """Put ``frames`` on the wire of ``ifname``; raises ``OSError``."""
        ...


class RawArpSender:
    """Sends frames through one unbound ``AF_PACKET`` raw socket, opened on first use
    and kept: closing a packet socket waits for an RCU grace period
    (``synchronize_net``), several milliseconds of the failover path.

    Protocol 0: the socket never receives, so nothing queues up on it. Each
    frame names its interface (``sendto``), so an interface that comes back
    under the same name needs nothing. A full device queue
    (``EAGAIN``/``ENOBUFS``) loses that frame only: the next round repeats it.
    """

    def __init__(self) -> None:
        self._sock: socket.socket | None = None

    def send(self, ifname: str, frames: Sequence[bytes]) -> None:
        if self._sock is None:
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
            self._sock.setblocking(False)
        for frame in frames:
            with contextlib.suppress(BlockingIOError, InterruptedError):
                self._sock.sendto(frame, (ifname, _ETH_P_ARP))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class Announcement:
    """``count`` rounds of gratuitous ARP for one address, the first one now."""

    def __init__(
        self,
        loop: Loop,
        sender: ArpSender,
        ifname: str,
        mac: str,
        address: str,
        count: int,
        interval: float,
    ) -> None:
        self._loop = loop
        self._sender = sender
        self._ifname = ifname
        self._address = address
        self._frames = garp_frames(mac, address)
        self._left = count
        self._interval = interval
        self._timer: Timer | None = None
        self.sent = 0  # rounds that went out
        self._round()

    @property
    def pending(self) -> bool:
        """More rounds are scheduled."""
        return self._timer is not None

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._left = 0

    def _round(self) -> None:
        self._timer = None
        if self._left <= 0:
            return
        self._left -= 1
        try:
            self._sender.send(self._ifname, self._frames)
            self.sent += 1
            if self.sent == 1:
                trace.mark("arp.sent", self._address)
        except OSError as err:
            # The address is up; a lost announcement only delays the neighbours.
            log.warning("gratuitous ARP for %s on %s failed: %s", self._address, self._ifname, err)
        if self._left > 0:
            self._timer = self._loop.call_later(self._interval, self._round)
