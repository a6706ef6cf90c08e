"""The watchdog device: open it, set its timeout, feed it, close it (armed or not).

Role: the keeper's one seam to the operating system for the device.

A real device (``/dev/watchdog``, a character device; softdog or hardware)
is driven with the Linux watchdog API: ``WDIOC_SETTIMEOUT`` to set the
timeout (the driver may round it; ``WDIOC_GETTIMEOUT`` tells what it
chose), one written byte per keepalive, and the magic close: writing ``V``
right before ``close`` stops the timer (unless the driver was loaded with
``nowayout=1``).  Closing without ``V`` leaves the timer running ("watchdog
did not stop!"): unless somebody opens the device again and feeds it within
the timeout, the machine resets.  Most drivers allow a single opener, so a
keeper restarted by the MCP can only reopen it once the old one is gone
(which a ``kill -9`` guarantees).

A FIFO stands for the device in the lab (:mod:`cluster.lab.watchdog_sim`):
ioctls cannot travel through a FIFO, so the timeout is announced in-band as
the line ``timeout N``; keepalives and ``V`` are the same bytes as for the
real device.  The device is opened non-blocking: a write that cannot go
through at once fails (and is logged) instead of stalling the keeper.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import struct
from collections.abc import Callable
from pathlib import Path

__all__ = ["WDIOC_GETTIMEOUT", "WDIOC_KEEPALIVE", "WDIOC_SETTIMEOUT", "WatchdogDevice"]

_IOC_WRITE, _IOC_READ = 1, 2
_INT = struct.calcsize("i")


def _ioc(direction: int, kind: str, number: int, size: int) -> int:
    """Linux's _IOC(): direction, size, type and number packed into a request code."""
    return (direction << 30) | (size << 16) | (ord(kind) << 8) | number


WDIOC_KEEPALIVE = _ioc(_IOC_READ, "W", 5, _INT)
WDIOC_SETTIMEOUT = _ioc(_IOC_READ | _IOC_WRITE, "W", 6, _INT)
WDIOC_GETTIMEOUT = _ioc(_IOC_READ, "W", 7, _INT)

_KEEPALIVE = b"\0"
_MAGIC = b"V"
# Errors meaning "this device cannot do that ioctl": carry on with its own timeout.
_UNSUPPORTED = (errno.ENOTTY, errno.EINVAL, errno.EOPNOTSUPP)

Ioctl = Callable[[int, int, bytearray, bool], int]


def _real_ioctl(fd: int, request: int, buf: bytearray, mutate: bool) -> int:
    return int(fcntl.ioctl(fd, request, buf, mutate))


class WatchdogDevice:
    """An open watchdog device (or the lab's FIFO stand-in)."""

    def __init__(self, path: Path, fd: int, fifo: bool, ioctl: Ioctl = _real_ioctl) -> None:
        self.path = path
        self.fifo = fifo
        self._fd: int | None = fd
        self._ioctl = ioctl

    @classmethod
    def open(cls, path: Path, ioctl: Ioctl = _real_ioctl) -> WatchdogDevice:
        """Open (and so arm) the device; raises OSError with the reason."""
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
        try:
            fifo = stat.S_ISFIFO(os.fstat(fd).st_mode)
        except OSError:
            os.close(fd)
            raise
        return cls(path, fd, fifo, ioctl)

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def set_timeout(self, seconds: int) -> int | None:
        """Ask for `seconds`; return the timeout the device runs with, None if unknown."""
        fd = self._require()
        if self.fifo:
            os.write(fd, f"timeout {seconds}\n".encode())
            return seconds
        buf = bytearray(struct.pack("i", seconds))
        try:
            self._ioctl(fd, WDIOC_SETTIMEOUT, buf, True)
            return int(struct.unpack("i", buf)[0])
        except OSError as err:
            if err.errno not in _UNSUPPORTED:
                raise
        return self.get_timeout()

    def get_timeout(self) -> int | None:
        if self.fifo:
            return None
        buf = bytearray(struct.pack("i", 0))
        try:
            self._ioctl(self._require(), WDIOC_GETTIMEOUT, buf, True)
        except OSError as err:
            if err.errno not in _UNSUPPORTED:
                raise
            return None
        return int(struct.unpack("i", buf)[0])

    def keepalive(self) -> None:
        """Feed the device; raises OSError when the byte did not go through."""
        written = os.write(self._require(), _KEEPALIVE)
        if written != 1:
            raise OSError(errno.EAGAIN, "keepalive not written")

    def close(self, magic: bool) -> None:
        """Close; with `magic`, write ``V`` first so the device disarms."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if magic:
                os.write(fd, _MAGIC)
        finally:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _require(self) -> int:
        if self._fd is None:
            raise OSError(errno.EBADF, f"watchdog device {self.path} is closed")
        return self._fd
