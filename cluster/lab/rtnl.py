"""A minimal rtnetlink reader: which IPv4 addresses a network namespace holds.

The ownership observer must sample several namespaces every few milliseconds;
exec'ing `ip` for each sample would cost more than the interval. Instead it
keeps one NETLINK_ROUTE socket per namespace and sends an RTM_GETADDR dump
request on it (well under a millisecond).

A netlink socket belongs to the namespace it was created in. To create one
inside a node's namespace we start a short-lived thread, move only that thread
into the namespace with setns(2) (network namespaces may be entered per thread,
even in a multi-threaded process), create the socket there, and let the thread
end. No helper process is started, so nothing of ours shows up in the node's
pid list and a power-off cannot kill the observer.

Inputs: the path of a named namespace (/run/netns/NAME). Output: a set of
dotted-quad strings per dump; `OSError` when the kernel answers with an error,
`TimeoutError` when it does not answer.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import socket
import struct
import threading
from pathlib import Path

__all__ = ["AddressReader", "socket_in_netns"]

_CLONE_NEWNET = 0x40000000
_NETLINK_ROUTE = 0
_RTM_NEWADDR = 20
_RTM_GETADDR = 22
_NLMSG_ERROR = 2
_NLMSG_DONE = 3
_NLM_F_REQUEST = 0x1
_NLM_F_DUMP = 0x300
_IFA_ADDRESS = 1
_IFA_LOCAL = 2

_NLMSGHDR = struct.Struct("=IHHII")  # length, type, flags, seq, pid
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RTATTR = struct.Struct("=HH")  # length, type
_OPEN_TIMEOUT = 5.0


def _align(length: int) -> int:
    return (length + 3) & ~3


def socket_in_netns(netns_path: Path, family: int = socket.AF_NETLINK,
                    kind: int = socket.SOCK_RAW, proto: int = _NETLINK_ROUTE) -> socket.socket:
    """Create a socket inside the namespace at `netns_path` (default: NETLINK_ROUTE)."""
    outcome: list[socket.socket | BaseException] = []

    def enter_and_open() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({netns_path}): {os.strerror(err)}")
            finally:
                os.close(fd)
            sock = socket.socket(family, kind, proto)
            if family == socket.AF_NETLINK:
                sock.bind((0, 0))
            outcome.append(sock)
        except BaseException as exc:  # handed to the caller's thread below
            outcome.append(exc)

    # This thread ends inside the node's namespace; it is never reused.
    worker = threading.Thread(target=enter_and_open, name=f"rtnl-open-{netns_path.name}")
    worker.start()
    worker.join(_OPEN_TIMEOUT)
    if worker.is_alive() or not outcome:
        raise TimeoutError(f"opening a netlink socket in {netns_path} did not finish")
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


class AddressReader:
    """One netlink socket in one namespace; `ipv4()` dumps its addresses.

    Not thread-safe: the observer owns one per node and uses it from one thread
    at a time (under its lock)."""

    def __init__(self, netns_path: Path, *, timeout: float = 1.0) -> None:
        self.netns_path = netns_path
        self._timeout = timeout
        self._sock = socket_in_netns(netns_path)
        self._sock.settimeout(timeout)
        self._seq = itertools.count(1)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> AddressReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ipv4(self) -> frozenset[str]:
        """Every IPv4 address configured on any interface of the namespace."""
        seq = next(self._seq) & 0xFFFFFFFF
        body = _IFADDRMSG.pack(socket.AF_INET, 0, 0, 0, 0)
        header = _NLMSGHDR.pack(
            _NLMSGHDR.size + len(body), _RTM_GETADDR, _NLM_F_REQUEST | _NLM_F_DUMP, seq, 0
        )
        self._sock.send(header + body)
        found: set[str] = set()
        # A dump of a lab node is one or two datagrams; the bound guards
        # against a kernel that never sends NLMSG_DONE.
        for _datagram in range(10_000):
            try:
                data = self._sock.recv(65536)
            except TimeoutError as exc:
                raise TimeoutError(f"no rtnetlink answer from {self.netns_path}") from exc
            if self._parse(data, seq, found):
                return frozenset(found)
        raise OSError(f"rtnetlink dump from {self.netns_path} did not end")

    def _parse(self, data: bytes, seq: int, found: set[str]) -> bool:
        """Add addresses from one datagram; True once the dump is complete."""
        offset = 0
        while offset + _NLMSGHDR.size <= len(data):
            length, kind, _flags, msg_seq, _pid = _NLMSGHDR.unpack_from(data, offset)
            if length < _NLMSGHDR.size:
                raise OSError(f"malformed rtnetlink message from {self.netns_path}")
            payload = data[offset + _NLMSGHDR.size : offset + length]
            offset += _align(length)
            if msg_seq != seq:  # left over from an earlier, timed-out dump
                continue
            if kind == _NLMSG_DONE:
                return True
            if kind == _NLMSG_ERROR:
                (code,) = struct.unpack_from("=i", payload)
                if code != 0:
                    raise OSError(-code, f"rtnetlink error from {self.netns_path}")
                return True
            if kind == _RTM_NEWADDR:
                address = self._address(payload)
                if address is not None:
                    found.add(address)
        return False

    @staticmethod
    def _address(payload: bytes) -> str | None:
        family = payload[0]
        if family != socket.AF_INET:
            return None
        local: str | None = None
        peer: str | None = None
        offset = _IFADDRMSG.size
        while offset + _RTATTR.size <= len(payload):
            length, kind = _RTATTR.unpack_from(payload, offset)
            if length < _RTATTR.size:
                break
            value = payload[offset + _RTATTR.size : offset + length]
            if kind == _IFA_LOCAL and len(value) == 4:
                local = socket.inet_ntoa(value)
            elif kind == _IFA_ADDRESS and len(value) == 4:
                peer = socket.inet_ntoa(value)
            offset += _align(length)
        # IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on
        # point-to-point links and equal to it everywhere else.
        return local if local is not None else peer
