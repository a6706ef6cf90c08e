"""ICMP echo packets (RFC 792) and the Internet checksum (RFC 1071).

Shared by hbcomm's ping nodes and cluster-mon's icmp monitor; the sockets,
timing and what a reply means stay with them.
"""

from __future__ import annotations

import struct

ECHO_REQUEST, ECHO_REPLY = 8, 0
_HEADER = struct.Struct("!BBHHH")


def checksum(data: bytes) -> int:
    """The Internet checksum: one's complement of the one's complement sum."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int, payload: bytes) -> bytes:
    """An echo request; on a datagram ICMP socket the kernel replaces `ident`."""
    header = _HEADER.pack(ECHO_REQUEST, 0, 0, ident & 0xFFFF, seq & 0xFFFF)
    return _HEADER.pack(ECHO_REQUEST, 0, checksum(header + payload), ident & 0xFFFF,
                        seq & 0xFFFF) + payload
