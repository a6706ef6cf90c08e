"""The heartbeat paths: UDP broadcast, multicast, unicast, and serial lines.

Every medium sends each datagram it is given and hands back what it
receives; it knows nothing of packet contents.  All descriptors are
non-blocking: a full send buffer (a congested LAN, a serial cable nobody
reads) drops the datagram and counts it rather than stalling the heartbeat
path.  UDP sockets are bound to their interface (SO_BINDTODEVICE), so two
media on one port never see each other's traffic and the link a packet came
in on is known.  Serial lines carry SLIP-framed datagrams: a frame boundary
byte lets a receiver resynchronise after noise or a half-sent frame.

A medium whose device is gone (a serial line hung up, a USB adapter
unplugged, an interface deleted) raises :class:`MediumFailed` from ``send`` or
``receive``: its descriptor would report errors, or readiness, forever.  The
shell closes it and reopens it later (:mod:`cluster.hbcomm.mediaset`).  These
checks sit in the error branches only; the routine path does no extra work.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import socket
import struct
from typing import Protocol

import serial

from cluster.config.hacf import Medium
from cluster.hbcomm import ownfilter

log = logging.getLogger(__name__)

_RECV_BUFFER = 65535
_SOCKET_BUFFER = 1 << 20
# Bound the work done per wake-up so one flooded medium cannot starve the others.
_MAX_READS = 64


class MediumError(OSError):
    """A medium could not be opened; the text names the medium and the cause."""


class MediumUnsupported(MediumError):
    """A medium kind hbcomm cannot open at all: reopening would never help."""


class MediumFailed(MediumError):
    """An open medium's device is gone; only closing and reopening can help.
    The text is the cause alone: the shell's log line names the medium."""


# A socket bound to a deleted interface fails every send with ENODEV, even once
# an interface of the same name exists again (it is bound to the old index).
_UDP_GONE = frozenset({errno.ENODEV, errno.ENXIO})
# A tty whose other end hung up, or whose device was unplugged.
_TTY_GONE = frozenset({errno.EIO, errno.ENODEV, errno.ENXIO})
_HANGUP = select.POLLHUP | select.POLLERR | select.POLLNVAL


class Transport(Protocol):
    name: str
    kind: str
    sent: int
    send_errors: int
    received: int
    last_send_ok: bool

    def fileno(self) -> int: ...
    def send(self, datagram: bytes) -> None: ...
    def receive(self) -> list[bytes]: ...
    def close(self) -> None: ...


class UdpMedium:
    """bcast, mcast or ucast over one interface."""

    def __init__(self, medium: Medium) -> None:
        self.name = medium.name
        self.kind = medium.kind
        self.sent = self.send_errors = self.received = 0
        self.last_send_ok = False
        if medium.kind not in ("bcast", "mcast", "ucast"):
            raise MediumUnsupported(f"cannot open {medium.kind} {medium.device} (ha.cf line "
                                    f"{medium.line}): this medium kind is not supported yet")
        port = medium.port or 694
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, medium.device.encode())
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SOCKET_BUFFER)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SOCKET_BUFFER)
            # Heartbeats are latency-critical: ask for the interactive queue.
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 0x10)
            if medium.kind == "bcast":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                self._dest: tuple[str, int] = ("255.255.255.255", port)
            elif medium.kind == "mcast":
                assert medium.group is not None
                ifindex = socket.if_nametoindex(medium.device)
                mreqn = struct.pack("=4s4si", socket.inet_aton(medium.group),
                                    socket.inet_aton("0.0.0.0"), ifindex)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, medium.ttl or 1)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP,
                                1 if medium.loop else 0)
                self._dest = (medium.group, port)
            else:
                assert medium.peer is not None
                self._dest = (socket.gethostbyname(medium.peer), port)
            sock.bind(("", port))
            sock.setblocking(False)
            if medium.kind != "ucast":  # only bcast and mcast come back to us
                _filter_own(sock, medium.device)
        except OSError as err:
            sock.close()
            raise MediumError(f"cannot open {medium.kind} {medium.device} "
                              f"(ha.cf line {medium.line}): {err.strerror or err}") from err
        self._sock = sock

    def fileno(self) -> int:
        return self._sock.fileno()

    def send(self, datagram: bytes) -> None:
        try:
            self._sock.sendto(datagram, self._dest)
            self.sent += 1
            self.last_send_ok = True
        except OSError as err:
            # ENETDOWN/ENETUNREACH while a cable is out, EAGAIN when the queue
            # is full: the heartbeat is lost on this path only; others carry it.
            self.send_errors += 1
            self.last_send_ok = False
            if err.errno in _UDP_GONE:
                raise MediumFailed(err.errno, err.strerror) from err

    def receive(self) -> list[bytes]:
        out: list[bytes] = []
        for _ in range(_MAX_READS):
            try:
                data = self._sock.recv(_RECV_BUFFER)
            except BlockingIOError:
                break
            except OSError as err:
                if err.errno in _UDP_GONE:
                    raise MediumFailed(err.errno, err.strerror) from err
                if err.errno not in (errno.EINTR, errno.ECONNREFUSED):
                    log.debug("receive error on %s %s: %s", self.kind, self.name, err)
                break
            out.append(data)
        self.received += len(out)
        return out

    def close(self) -> None:
        self._sock.close()


def _filter_own(sock: socket.socket, device: str) -> None:
    """Keep our own looped-back datagrams out of `sock` (see :mod:`ownfilter`);
    without a filter the shell drops them by their bytes."""
    own = ownfilter.interface_address(sock, device)
    if own is None:
        return
    try:
        ownfilter.attach(sock, (own,))
    except OSError as err:
        log.info("cannot filter our own datagrams on %s in the kernel (%s); "
                 "dropping them after reading instead", device, err.strerror or err)


_END, _ESC, _ESC_END, _ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD
_MAX_FRAME = 65536


def slip_encode(datagram: bytes) -> bytes:
    body = datagram.replace(bytes([_ESC]), bytes([_ESC, _ESC_ESC]))
    body = body.replace(bytes([_END]), bytes([_ESC, _ESC_END]))
    return bytes([_END]) + body + bytes([_END])


class SlipDecoder:
    """Incremental SLIP decoder; garbage between frames is skipped, oversize frames dropped."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._escaped = False
        self.dropped = 0

    def feed(self, data: bytes) -> list[bytes]:
        frames: list[bytes] = []
        for byte in data:
            if byte == _END:
                if self._buf:
                    frames.append(bytes(self._buf))
                self._buf.clear()
                self._escaped = False
                continue
            if self._escaped:
                byte = {_ESC_END: _END, _ESC_ESC: _ESC}.get(byte, byte)
                self._escaped = False
            elif byte == _ESC:
                self._escaped = True
                continue
            if len(self._buf) >= _MAX_FRAME:
                self.dropped += 1
                self._buf.clear()
                continue
            self._buf.append(byte)
        return frames


class SerialMedium:
    """A null-modem line: raw 8N1 at the configured baud rate, SLIP framing."""

    def __init__(self, medium: Medium) -> None:
        self.name = medium.name
        self.kind = "serial"
        self.sent = self.send_errors = self.received = 0
        self.last_send_ok = False
        self._decoder = SlipDecoder()
        try:
            # pyserial sets the line up (raw, 8N1, speed); we then drive its
            # non-blocking descriptor directly so a stuck line never blocks us.
            self._port = serial.Serial(medium.device, baudrate=medium.baud or 19200,
                                       bytesize=serial.EIGHTBITS, parity=serial.PARITY_NONE,
                                       stopbits=serial.STOPBITS_ONE, timeout=0,
                                       write_timeout=0, exclusive=True)
        except (serial.SerialException, ValueError) as err:
            raise MediumError(f"cannot open serial {medium.device} "
                              f"(ha.cf line {medium.line}): {err}") from err
        self._fd: int = self._port.fd

    def fileno(self) -> int:
        return self._fd

    def send(self, datagram: bytes) -> None:
        frame = slip_encode(datagram)
        try:
            written = os.write(self._fd, frame)
        except BlockingIOError:
            written = 0  # nobody reads the far end: this heartbeat is lost on the line
        except OSError as err:
            self.send_errors += 1
            self.last_send_ok = False
            if err.errno in _TTY_GONE:
                raise MediumFailed(err.errno, err.strerror) from err
            return
        # A partial frame is closed off by the next frame's END byte and
        # discarded by the receiver's signature check.
        self.last_send_ok = written == len(frame)
        if self.last_send_ok:
            self.sent += 1
        else:
            self.send_errors += 1

    def receive(self) -> list[bytes]:
        frames: list[bytes] = []
        read_any = False
        for _ in range(_MAX_READS):
            try:
                data = os.read(self._fd, 4096)
            except BlockingIOError:
                break
            except OSError as err:
                if err.errno in _TTY_GONE:
                    raise MediumFailed(err.errno, err.strerror) from err
                raise
            if not data:
                # A raw tty read with nothing waiting returns 0, not EAGAIN;
                # 0 on a line that polled readable is a hang-up.
                if not read_any and self._hung_up():
                    raise MediumFailed("the line hung up")
                break
            read_any = True
            frames.extend(self._decoder.feed(data))
        self.received += len(frames)
        return frames

    def _hung_up(self) -> bool:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        return any(events & _HANGUP for _fd, events in poller.poll(0))

    def close(self) -> None:
        self._port.close()


def open_medium(medium: Medium) -> Transport:
    if medium.kind == "serial":
        return SerialMedium(medium)
    return UdpMedium(medium)
