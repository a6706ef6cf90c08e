"""The built-in ICMP monitor's socket: many echo rounds over one ICMP socket.

Role: the I/O shell around :class:`~cluster.mon.icmp.EchoRound`. One socket
serves every ``icmp`` service of the daemon; it is registered with the
daemon's loop, and each round keeps one timer for its next retry or end, so
a round costs no process and no thread, and a silent host delays nothing
else. Sequence numbers are unique across rounds, which routes each reply
to its round.

The socket is an unprivileged datagram ICMP socket where
``net.ipv4.ping_group_range`` allows it, else a raw socket (root). On a
datagram socket the kernel owns the identifier and hands us only our own
replies; on a raw socket we see every ICMP packet and keep those carrying
our identifier. IPv4 only. Host names are resolved with the system resolver
when a round starts (IP literals skip it); names in /etc/hosts resolve at
once, a slow DNS server would stall the loop, so prefer addresses.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import logging
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cluster.bus.loop import Loop, Timer
from cluster.mon.builtins import IcmpOptions
from cluster.mon.icmp import EchoRound, Probe, echo_request, parse_echo_reply
from cluster.mon.outcome import MonitorOutcome

__all__ = ["PingHandle", "Pinger"]

log = logging.getLogger(__name__)

Done = Callable[[MonitorOutcome], None]
_RECV_BATCH = 256  # replies read per wake-up; the rest wait for the next pass


@dataclass(eq=False)
class PingHandle:
    """A round in progress; :meth:`cancel` drops it without a callback."""

    round: EchoRound
    done: Done
    timer: Timer | None = None
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True
        if self.timer is not None:
            self.timer.cancel()


class Pinger:
    """Echo rounds over one ICMP socket on `loop`."""

    def __init__(self, loop: Loop) -> None:
        self._loop = loop
        self._sock, self._raw = _open_socket()
        self._ident = os.getpid() & 0xFFFF
        self._seq = itertools.count(1)
        self._rounds: dict[int, PingHandle] = {}  # seq -> round
        loop.add_reader(self._sock.fileno(), self._on_readable)
        log.info("icmp monitor: %s ICMP socket", "raw" if self._raw else "datagram")

    def ping(self, hosts: Sequence[str], options: IcmpOptions, done: Done) -> PingHandle:
        """Start a round over `hosts`; `done` gets the outcome from the loop."""
        targets = [(host, _resolve(host)) for host in hosts]
        handle = PingHandle(EchoRound(targets, options, self._next_seq), done)
        self._send(handle, handle.round.start(self._loop.clock()))
        # Even a round that is over at once (no host resolves) reports from
        # the loop, never from inside this call.
        handle.timer = self._loop.call_later(0, lambda: self._on_timer(handle))
        return handle

    def close(self) -> None:
        for handle in set(self._rounds.values()):
            handle.cancel()
        self._rounds.clear()
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close()

    def _next_seq(self) -> int:
        # Skip numbers still owned by a round: a 16-bit counter wraps.
        for _ in range(0x10000):
            seq = next(self._seq) & 0xFFFF
            if seq and seq not in self._rounds:
                return seq
        raise RuntimeError("65535 ICMP echoes in flight")

    def _send(self, handle: PingHandle, probes: Sequence[Probe]) -> None:
        for probe in probes:
            self._rounds[probe.seq] = handle
            try:
                self._sock.sendto(echo_request(self._ident, probe.seq), (probe.address, 0))
            except OSError as err:
                handle.round.send_failed(probe.seq, err.strerror or str(err))

    def _rearm(self, handle: PingHandle) -> None:
        if handle.cancelled:
            return
        if handle.timer is not None:
            handle.timer.cancel()
            handle.timer = None
        if handle.round.done:
            self._finish(handle)
            return
        handle.timer = self._loop.call_at(handle.round.deadline(), lambda: self._on_timer(handle))

    def _on_timer(self, handle: PingHandle) -> None:
        handle.timer = None
        if not handle.cancelled:
            self._send(handle, handle.round.tick(self._loop.clock()))
            self._rearm(handle)

    def _finish(self, handle: PingHandle) -> None:
        for seq in handle.round.seqs:
            if self._rounds.get(seq) is handle:
                del self._rounds[seq]
        handle.cancelled = True  # finished: no second callback
        handle.done(handle.round.outcome())

    def _on_readable(self) -> None:
        touched: list[PingHandle] = []
        for _ in range(_RECV_BATCH):
            try:
                data, peer = self._sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as err:  # e.g. an ICMP error queued on the socket
                log.debug("icmp socket: %s", err)
                break
            now = self._loop.clock()
            parsed = parse_echo_reply(data, has_ip_header=self._raw)
            if parsed is None:
                continue
            ident, seq = parsed
            if self._raw and ident != self._ident:
                continue  # somebody else's ping
            handle = self._rounds.get(seq)
            if handle is not None and not handle.cancelled and \
                    handle.round.replied(peer[0], seq, now):  # fmt: skip
                touched.append(handle)
        for handle in dict.fromkeys(touched):
            if handle.round.done:
                self._rearm(handle)


def _open_socket() -> tuple[socket.socket, bool]:
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
        raw = False
    except PermissionError:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        raw = True
    sock.setblocking(False)
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    return sock, raw


def _resolve(host: str) -> str | None:
    with contextlib.suppress(ValueError):
        return str(ipaddress.IPv4Address(host))
    try:
        infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_RAW)
    except OSError:
        return None
    return str(infos[0][4][0]) if infos else None
