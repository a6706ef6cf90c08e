"""Drop our own looped-back datagrams in the kernel, before they wake hbcomm.

A broadcast (and a multicast with loop on) is delivered to the sender's own
receive socket too.  Recognising it in user space costs a wake-up, a read and
a comparison per heartbeat sent; at keepalive 10 ms that is a third of
hbcomm's wake-ups.  A classic BPF socket filter (``SO_ATTACH_FILTER``) that
drops datagrams whose IPv4 source is one of our addresses on the interface
keeps them out of the socket's queue altogether.  Where the filter cannot be
attached (no address yet, a kernel without socket filters) nothing changes:
the shell still drops our own datagrams by their bytes.
"""

from __future__ import annotations

import ctypes
import fcntl
import socket
import struct

__all__ = ["attach", "interface_address", "program"]

_SO_ATTACH_FILTER = getattr(socket, "SO_ATTACH_FILTER", 26)
_SIOCGIFADDR = 0x8915
# Classic BPF opcodes (linux/filter.h).
_LD_W_ABS = 0x00 | 0x00 | 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x05 | 0x10 | 0x00  # BPF_JMP | BPF_JEQ | BPF_K
_RET_K = 0x06 | 0x00  # BPF_RET | BPF_K
# Offsets from SKF_NET_OFF are relative to the IP header whatever the socket
# type (a UDP socket's filter otherwise sees the packet from its UDP header).
_SKF_NET_OFF = -0x100000
_IP_SOURCE = (_SKF_NET_OFF + 12) & 0xFFFFFFFF
_ACCEPT, _DROP = 0xFFFFFFFF, 0
_MAX_ADDRESSES = 32  # a jump offset is one byte; far more addresses than any interface has


def program(own: tuple[str, ...]) -> list[tuple[int, int, int, int]]:
    """Accept every datagram but those whose IPv4 source is in `own`."""
    if not 1 <= len(own) <= _MAX_ADDRESSES:
        raise ValueError(f"between 1 and {_MAX_ADDRESSES} own addresses, not {len(own)}")
    code = [(_LD_W_ABS, 0, 0, _IP_SOURCE)]
    for index, address in enumerate(own):
        to_drop = len(own) - index  # skip the remaining tests and the accept
        code.append((_JEQ_K, to_drop, 0, int.from_bytes(socket.inet_aton(address), "big")))
    code.append((_RET_K, 0, 0, _ACCEPT))
    code.append((_RET_K, 0, 0, _DROP))
    return code


def attach(sock: socket.socket, own: tuple[str, ...]) -> None:
    """Attach the filter of :func:`program` to `sock`; OSError if the kernel refuses."""
    code = program(own)
    filters = ctypes.create_string_buffer(b"".join(struct.pack("=HBBI", *op) for op in code))
    fprog = struct.pack("HP", len(code), ctypes.addressof(filters))  # struct sock_fprog
    # The kernel copies the program during the call: the buffer may go afterwards.
    sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)


def interface_address(sock: socket.socket, device: str) -> str | None:
    """The primary IPv4 address of `device` (the source of our broadcasts), or None."""
    request = struct.pack("=16s16x", device.encode()[:15])
    try:
        reply = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, request)
    except OSError:
        return None  # no such device, or no IPv4 address on it (yet)
    return socket.inet_ntoa(reply[20:24])
