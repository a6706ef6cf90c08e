"""The rtnetlink wire format: build a request, read its answer, split attributes.

A NETLINK_ROUTE request is one datagram (``nlmsghdr`` + a family header +
attributes); the kernel answers a dump with a run of messages ended by
``NLMSG_DONE`` and an acknowledged change with ``NLMSG_ERROR`` carrying 0 or
a negative errno.  Parsing is a few ``struct`` calls per message, cheap enough
for a failover path (a general library took a millisecond per link dump).
Callers own the socket (its namespace, its timeout) and the meaning of the
payloads; errors from the kernel are raised as ``OSError`` with its errno.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass

NETLINK_ROUTE = 0
RTM_NEWLINK = 16
RTM_GETLINK = 18
RTM_NEWADDR = 20
RTM_DELADDR = 21
RTM_GETADDR = 22
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_DUMP = 0x300

IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_LABEL = 3
IFA_BROADCAST = 4

NLMSGHDR = struct.Struct("=IHHII")   # length, type, flags, seq, pid
RTATTR = struct.Struct("=HH")        # length, type
IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_ERROR = struct.Struct("=i")
_RECV_SIZE = 65536                   # a dump datagram is at most a page or two
_MAX_DATAGRAMS = 10_000              # a kernel that never ends a dump


def align(length: int) -> int:
    return (length + 3) & ~3


def attribute(kind: int, value: bytes) -> bytes:
    """One ``rtattr``, padded to four bytes."""
    length = RTATTR.size + len(value)
    return RTATTR.pack(length, kind) + value + b"\0" * (align(length) - length)


def attributes(payload: bytes, offset: int) -> dict[int, bytes]:
    """The attributes of `payload` from `offset` (after the family header), by type."""
    found: dict[int, bytes] = {}
    while offset + RTATTR.size <= len(payload):
        length, kind = RTATTR.unpack_from(payload, offset)
        if length < RTATTR.size:
            break
        found[kind] = payload[offset + RTATTR.size : offset + length]
        offset += align(length)
    return found


@dataclass(frozen=True, slots=True)
class Ipv4Address:
    """One ``RTM_NEWADDR`` answer for IPv4; ``label`` is ``eth0`` or ``eth0:vip``."""

    index: int
    address: str
    prefixlen: int
    label: str


def ipv4_address(payload: bytes) -> Ipv4Address | None:
    """The IPv4 address in an ``RTM_NEWADDR`` payload, or None (another family, no address)."""
    if len(payload) < IFADDRMSG.size:
        return None
    family, prefixlen, _flags, _scope, index = IFADDRMSG.unpack_from(payload)
    attrs = attributes(payload, IFADDRMSG.size)
    # IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on point-to-point
    # links and equal to it everywhere else.
    raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
    if family != socket.AF_INET or raw is None or len(raw) != 4:
        return None
    label = attrs.get(IFA_LABEL, b"").split(b"\0", 1)[0].decode(errors="replace")
    return Ipv4Address(index, socket.inet_ntoa(raw), prefixlen, label)


def request(sock: socket.socket, seq: int, kind: int, flags: int, body: bytes,
            attrs: Iterable[bytes] = ()) -> list[tuple[int, bytes]]:
    """Send one request and return the (type, payload) of every answer to it.

    Answers to other sequence numbers (left over from a request that timed
    out) are skipped.  A dump ends at ``NLMSG_DONE``; anything else with
    ``NLM_F_ACK`` at its acknowledgement.
    """
    data = body + b"".join(attrs)
    sock.send(NLMSGHDR.pack(NLMSGHDR.size + len(data), kind, flags, seq, 0) + data)
    answers: list[tuple[int, bytes]] = []
    for _datagram in range(_MAX_DATAGRAMS):
        datagram = sock.recv(_RECV_SIZE)
        offset = 0
        while offset + NLMSGHDR.size <= len(datagram):
            length, msg_kind, _flags, msg_seq, _pid = NLMSGHDR.unpack_from(datagram, offset)
            if length < NLMSGHDR.size:
                raise OSError(f"malformed rtnetlink message (length {length})")
            payload = datagram[offset + NLMSGHDR.size : offset + length]
            offset += align(length)
            if msg_seq != seq:
                continue
            if msg_kind in (NLMSG_ERROR, NLMSG_DONE):
                code = _ERROR.unpack_from(payload)[0] if len(payload) >= _ERROR.size else 0
                if code < 0:
                    raise OSError(-code, os.strerror(-code))
                return answers
            answers.append((msg_kind, payload))
    raise OSError("rtnetlink answer did not end")
