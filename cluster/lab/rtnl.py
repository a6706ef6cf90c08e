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
import threading
from pathlib import Path

from cluster.common import rtnetlink as rt

__all__ = ["AddressReader", "socket_in_netns"]

_CLONE_NEWNET = 0x40000000
_OPEN_TIMEOUT = 5.0


def socket_in_netns(netns_path: Path, family: int = socket.AF_NETLINK,
                    kind: int = socket.SOCK_RAW, proto: int = rt.NETLINK_ROUTE) -> socket.socket:
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
        try:
            answers = rt.request(self._sock, seq, rt.RTM_GETADDR,
                                 rt.NLM_F_REQUEST | rt.NLM_F_DUMP,
                                 rt.IFADDRMSG.pack(socket.AF_INET, 0, 0, 0, 0))
        except TimeoutError as exc:
            raise TimeoutError(f"no rtnetlink answer from {self.netns_path}") from exc
        except OSError as exc:
            raise OSError(exc.errno, f"rtnetlink error from {self.netns_path}: "
                                     f"{exc.strerror or exc}") from None
        return frozenset(found.address for kind, payload in answers
                         if kind == rt.RTM_NEWADDR and (found := rt.ipv4_address(payload)))

