"""The heartbeat paths: UDP broadcast, multicast, unicast, and serial lines.

Every medium sends each datagram it is given and hands back what it
receives; it knows nothing of packet contents.  All descriptors are
non-blocking: a full send buffer (a congested LAN, a serial cable nobody
reads) drops the datagram and counts it rather than stalling the heartbeat
path.  UDP sockets are bound to their interface (SO_BINDTODEVICE), so two
media on one port never see each other's traffic and the link a packet came
in on is known.  Serial lines carry SLIP-framed datagrams: a frame boundary
byte lets a receiver resynchronise after noise or a half-sent frame.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import struct
from typing import Protocol

import serial

from cluster.config.hacf import Medium

log = logging.getLogger(__name__)

_RECV_BUFFER = 65535
_SOCKET_BUFFER = 1 << 20
# Bound the work done per wake-up so one flooded medium cannot starve the others.
_MAX_READS = 64


class MediumError(OSError):
    """A medium could not be opened; the text names the medium and the cause."""


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
            elif medium.kind == "ucast":
                assert medium.peer is not None
                self._dest = (socket.gethostbyname(medium.peer), port)
            else:
                raise MediumError(f"medium kind {medium.kind} is not supported yet")
            sock.bind(("", port))
            sock.setblocking(False)
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
        except OSError:
            # ENETDOWN/ENETUNREACH while a cable is out, EAGAIN when the queue
            # is full: the heartbeat is lost on this path only; others carry it.
            self.send_errors += 1
            self.last_send_ok = False

    def receive(self) -> list[bytes]:
        out: list[bytes] = []
        for _ in range(_MAX_READS):
            try:
                data = self._sock.recv(_RECV_BUFFER)
            except BlockingIOError:
                break
            except OSError as err:
                if err.errno not in (errno.EINTR, errno.ECONNREFUSED):
                    log.debug("receive error on %s %s: %s", self.kind, self.name, err)
                break
            out.append(data)
        self.received += len(out)
        return out

    def close(self) -> None:
        self._sock.close()


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
        except OSError:
            written = 0
        # A partial frame is closed off by the next frame's END byte and
        # discarded by the receiver's signature check.
        self.last_send_ok = written == len(frame)
        if self.last_send_ok:
            self.sent += 1
        else:
            self.send_errors += 1

    def receive(self) -> list[bytes]:
        frames: list[bytes] = []
        for _ in range(_MAX_READS):
            try:
                data = os.read(self._fd, 4096)
            except BlockingIOError:
                break
            except OSError as err:
                if err.errno == errno.EIO:   # pty peer closed: cable out
                    break
                raise
            if not data:
                break
            frames.extend(self._decoder.feed(data))
        self.received += len(frames)
        return frames

    def close(self) -> None:
        self._port.close()


def open_medium(medium: Medium) -> Transport:
    if medium.kind == "serial":
        return SerialMedium(medium)
    return UdpMedium(medium)
