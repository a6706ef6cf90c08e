"""A WTI RPS-10 power switch on a pty, wired to lab nodes (a test's stand-in for hardware).

    switch = Rps10Simulator({"0": node2}, lab=lab)     # outlet 0 feeds node2
    node1.write_config(ha_cf=... f"stonith_host node1 rps10 {switch.path} node2 0" ...)
    ...
    switch.unplug()        # the serial cable falls out: no answer to anything
    switch.close()         # also done by lab.close() when `lab` was given

It speaks the real byte protocol (reference 7.7, and the driver's notes in
:mod:`cluster.stonithd.rps10`).  A pty has no DTR line, so the simulator
takes the client flushing the port's input — pyserial does when it opens a
port, and the driver does before toggling DTR — as DTR rising: it sees that
through the pty's packet mode and answers ``RPS-10 Ready`` :attr:`ready_delay`
after the last such flush.  It reads 9-byte commands ``\\x02\\x18\\x18\\x02\\x18\\x18``
+ outlet + command + ``\\r`` and answers with CR/LF lines:

* ``0``: power the outlet's node off (``node.power_off()``), then
  ``Plug N Off`` and ``Complete``;
* ``1``: ``node.power_on()`` (links up; the stack is not started), then
  ``Plug N On`` and ``Complete``;
* ``T``: power off, ``Plug N Off``, wait :attr:`toggle_delay`, ``Plug N On``,
  ``Complete``.  The outlet is on again afterwards but the node stays down
  unless ``boot_after_toggle`` (a BIOS set to stay off after power loss), so a
  test sees the fenced node powered off;
* ``?``: ``Plug N On|Off`` and ``Complete``.

``Plug`` is only said after the node really is off, as a real switch only
reports what it did.  Outlets not in the map do not answer (no such unit).
A power target is anything with ``power_off()``/``power_on()``: a lab
`Node`, or a recorder in unit tests.  When the target has a ``powered``
attribute (a `Node`) the switch believes it over its own record, so a node
powered on by hand after a toggle is still powered off by the next one.  The
switch runs in a thread of the test process; :meth:`close` stops it and
removes the pty's symlink.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import struct
import termios
import threading
import time
import tty
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cluster.lab.devicethread import DeviceThread

if TYPE_CHECKING:
    from cluster.lab.lab import Lab

__all__ = ["PowerTarget", "Rps10Simulator"]

_PREFIX = b"\x02\x18\x18\x02\x18\x18"
_COMMAND_LEN = len(_PREFIX) + 3
_IDLE_POLL = 0.01     # while nobody holds the port open, the master reports HUP: poll slowly


class PowerTarget(Protocol):
    def power_off(self) -> None: ...
    def power_on(self) -> None: ...


class Rps10Simulator(DeviceThread):
    """An RPS-10 chain: outlets ``0``-``9`` mapped to power targets."""

    def __init__(self, outlets: Mapping[str, PowerTarget], *, lab: Lab | None = None,
                 path: Path | None = None, ready_delay: float = 0.05,
                 toggle_delay: float = 0.2, boot_after_toggle: bool = False) -> None:
        if path is None:
            if lab is None:
                raise ValueError("give the simulator a lab or a path for its tty")
            path = _free_path(lab.root)
        super().__init__()
        self.path = path
        self.outlets = dict(outlets)
        self.ready_delay = ready_delay
        self.toggle_delay = toggle_delay
        self.boot_after_toggle = boot_after_toggle
        self.powered = {outlet: True for outlet in self.outlets}    # the outlet's relay
        self._running = {outlet: True for outlet in self.outlets}   # the machine behind it
        self.commands: list[tuple[str, str]] = []     # (outlet, command) as received
        self.connects = 0
        self._plugged = True
        self._lock = threading.Condition()
        self._master, slave = os.openpty()
        tty.setraw(slave)   # no echo: the settings stay with the pty while we hold the master
        # Packet mode: reads carry a status byte, so we see the client flush its input
        # when it opens the port (pyserial does), our stand-in for DTR rising.
        fcntl.ioctl(self._master, termios.TIOCPKT, struct.pack("i", 1))
        self.path.symlink_to(os.ttyname(slave))
        os.close(slave)
        self._start(f"rps10-{self.path.name}", lab)

    # -- test controls ---------------------------------------------------------------
    def unplug(self) -> None:
        """Pull the serial cable: from now on nothing is answered."""
        with self._lock:
            self._plugged = False

    def plug(self) -> None:
        with self._lock:
            self._plugged = True

    def wait_for_commands(self, count: int, timeout: float) -> list[tuple[str, str]]:
        """The commands received, once there are at least `count` (TimeoutError otherwise)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.commands) >= count, timeout):
                raise TimeoutError(f"rps10 simulator: {len(self.commands)} of {count} "
                                   f"commands within {timeout:g} s")
            return list(self.commands)

    # -- the switch ------------------------------------------------------------------------
    def _device_fds(self) -> tuple[int, ...]:
        return (self._master,)

    def _run(self) -> None:
        buffer = b""
        ready_due: float | None = None
        while not self._stop.is_set():
            wait = _IDLE_POLL if ready_due is None else max(0.0, ready_due - time.monotonic())
            mask = _poll(self._master, wait, self._wake_r)
            if mask & select.POLLHUP and not mask & select.POLLIN:
                buffer, ready_due = b"", None      # nobody holds the port open (DTR low)
                _wait(self._wake_r, _IDLE_POLL)
                continue
            if mask & select.POLLIN:
                try:
                    packet = os.read(self._master, 4097)
                except OSError:                    # EIO: the client closed the port just now
                    continue
                if packet and packet[0] == termios.TIOCPKT_DATA:
                    with self._lock:
                        plugged = self._plugged
                    buffer = self._commands(buffer + packet[1:]) if plugged else b""
                elif packet and packet[0] & termios.TIOCPKT_FLUSHREAD:
                    # The port was opened (or reset): what raising DTR does to a real one.
                    buffer, ready_due = b"", time.monotonic() + self.ready_delay
            if ready_due is not None and time.monotonic() >= ready_due:
                ready_due = None
                self.connects += 1
                self._say(b"RPS-10 Ready\r\n")

    def _commands(self, buffer: bytes) -> bytes:
        while True:
            start = buffer.find(_PREFIX)
            if start < 0:
                return buffer[-len(_PREFIX):]
            if len(buffer) - start < _COMMAND_LEN:
                return buffer[start:]
            command = buffer[start:start + _COMMAND_LEN]
            buffer = buffer[start + _COMMAND_LEN:]
            if command[-1:] == b"\r":
                self._command(chr(command[-3]), chr(command[-2]))

    def _command(self, outlet: str, command: str) -> None:
        with self._lock:
            self.commands.append((outlet, command))
            self._lock.notify_all()
        targets = [t for t in (sorted(self.outlets) if outlet == "*" else [outlet])
                   if t in self.outlets]
        if not targets:
            return  # no such unit on the chain: silence
        for target in targets:
            if command in "0T":
                self._switch(target, on=False, boot=False)
                self._say(f"Plug {target} Off\r\n".encode())
            elif command == "1":
                self._switch(target, on=True, boot=True)
                self._say(f"Plug {target} On\r\n".encode())
            elif command == "?":
                self._say(f"Plug {target} {'On' if self.powered[target] else 'Off'}\r\n".encode())
        if command == "T":
            _wait(self._wake_r, self.toggle_delay)
            for target in targets:
                self._switch(target, on=True, boot=self.boot_after_toggle)
                self._say(f"Plug {target} On\r\n".encode())
        self._say(b"Complete\r\n")

    def _switch(self, outlet: str, on: bool, boot: bool) -> None:
        """Set the relay; power the machine off with it, or on when it `boot`s."""
        self.powered[outlet] = on
        target = self.outlets[outlet]
        running = self._running_now(outlet)
        if not on and running:
            target.power_off()
            self._running[outlet] = False
        elif on and boot and not running:
            target.power_on()
            self._running[outlet] = True

    def _running_now(self, outlet: str) -> bool:
        """Is the machine behind `outlet` running?  A target that says (a lab `Node`'s
        ``powered``) is believed: it may have been powered on by hand after a toggle
        left it off, and cutting the relay must then still power it off."""
        powered = getattr(self.outlets[outlet], "powered", None)
        return self._running[outlet] if powered is None else bool(powered)

    def _say(self, data: bytes) -> None:
        with self._lock:
            if not self._plugged:
                return
        with contextlib.suppress(OSError):
            os.write(self._master, data)


def _poll(fd: int, timeout: float, wake: int | None = None) -> int:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    if wake is not None:
        poller.register(wake, select.POLLIN)
    mask = 0
    for ready_fd, events in poller.poll(int(timeout * 1000)):
        if ready_fd == fd:
            mask |= events
    return mask


def _wait(wake: int, seconds: float) -> bool:
    """Sleep up to `seconds` unless woken; True when woken (closing)."""
    readable, _, _ = select.select([wake], [], [], seconds)
    return bool(readable)


def _free_path(root: Path) -> Path:
    for number in range(100):
        candidate = root / f"rps10-{number}"
        if not candidate.is_symlink():
            return candidate
    raise RuntimeError(f"no free rps10 tty name under {root}")
