"""A watchdog device stand-in: a FIFO that resets a lab node when nobody feeds it.

    dog = WatchdogSimulator(node.dir / "watchdog", node.power_off, lab=lab)
    node.write_config(ha_cf=... f"watchdog {dog.path}" ...)
    node.start_stack()
    ...
    dog.wait_fired(timeout=10)          # -> the monotonic time of the reset

Behaviour, as Linux's softdog with ``nowayout=0``:

* every byte written is a keepalive; the first one arms the timer (a real
  device arms on open; the keeper writes at once after opening);
* when no byte arrived for :attr:`timeout` seconds the "machine resets":
  ``on_reset()`` is called (``node.power_off``) and :attr:`fired_at` records
  when; the simulator then ignores everything (a reset machine);
* a ``V`` as the last byte before the writer closes is the magic close: the
  timer stops (``disarmed``); a close without it leaves the timer running
  (``unexpected close``), so a new writer must feed it in time;
* timeout: ioctls cannot travel through a FIFO, so the keeper announces
  ``WDIOC_SETTIMEOUT`` in-band as the line ``timeout N`` (see
  :mod:`cluster.watchdog.device`); until then the ``timeout`` given here
  applies (the device's default, like softdog's 60 s).

Everything that happens is recorded in :attr:`events` as (monotonic time,
text): ``armed``, ``timeout 3``, ``magic close``, ``unexpected close``,
``fired``.  The simulator runs in a thread of the test process and removes
the FIFO on :meth:`close` (registered with the lab when `lab` is given).
"""

from __future__ import annotations

import enum
import os
import re
import select
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cluster.lab.devicethread import DeviceThread
from cluster.lab.waiting import wait_first

if TYPE_CHECKING:
    from cluster.lab.lab import Lab

__all__ = ["DogState", "WatchdogSimulator"]

_TIMEOUT_LINE = re.compile(rb"timeout (\d+)")
_MAGIC = ord("V")


class DogState(enum.Enum):
    IDLE = "IDLE"           # never fed, or disarmed by a magic close
    ARMED = "ARMED"
    FIRED = "FIRED"


class WatchdogSimulator(DeviceThread):
    def __init__(self, path: Path, on_reset: Callable[[], None], *, timeout: float = 60.0,
                 lab: Lab | None = None) -> None:
        super().__init__()
        self.path = path
        self.timeout = timeout
        self.on_reset = on_reset
        self.state = DogState.IDLE
        self.fired_at: float | None = None
        self.last_keepalive: float | None = None
        self.events: list[tuple[float, str]] = []
        self._lock = threading.Condition()
        self._expect_close = False
        self._line = b""
        os.mkfifo(path, 0o600)
        # Opened before any writer so the keeper's non-blocking open finds a reader.
        self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        self._start(f"watchdog-{path.name}", lab)

    # -- for tests ------------------------------------------------------------------------
    def wait_for(self, text: str, timeout: float, since: float = 0.0) -> float:
        """The time of the first event `text` at or after `since` (TimeoutError otherwise)."""
        def found() -> float | None:
            return next((at for at, what in self.events if what == text and at >= since), None)

        return wait_first(self._lock, found, timeout, lambda: (
            f"watchdog simulator: no {text!r} within {timeout:g} s "
            f"(events: {[w for _, w in self.events[-8:]]})"))

    def wait_fired(self, timeout: float) -> float:
        return self.wait_for("fired", timeout)

    def count(self, text: str) -> int:
        with self._lock:
            return sum(1 for _, what in self.events if what == text)

    # -- the device ------------------------------------------------------------------------
    def _record(self, text: str) -> None:
        with self._lock:
            self.events.append((time.monotonic(), text))
            self._lock.notify_all()

    def _device_fds(self) -> tuple[int, ...]:
        return (self._fd,)

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = None
            if self.state is DogState.ARMED and self.last_keepalive is not None:
                wait = max(0.0, self.last_keepalive + self.timeout - time.monotonic())
            readable, _, _ = select.select([self._fd, self._wake_r], [], [], wait)
            if self._wake_r in readable:
                return
            if self._fd in readable:
                self._read()
            if (self.state is DogState.ARMED and self.last_keepalive is not None
                    and time.monotonic() >= self.last_keepalive + self.timeout):
                self._fire()

    def _read(self) -> None:
        try:
            data = os.read(self._fd, 4096)
        except BlockingIOError:
            return
        if not data:
            self._writer_closed()
            return
        if self.state is DogState.FIRED:
            return
        now = time.monotonic()
        if self.state is DogState.IDLE:
            self.state = DogState.ARMED   # IDLE -> ARMED: fed for the first time
            self._record("armed")
        self.last_keepalive = now
        self._expect_close = data[-1] == _MAGIC
        self._line += data
        while b"\n" in self._line:
            line, self._line = self._line.split(b"\n", 1)
            match = _TIMEOUT_LINE.search(line)
            if match is not None:
                self.timeout = float(match.group(1))
                self._record(f"timeout {match.group(1).decode()}")
        self._line = self._line[-64:]

    def _writer_closed(self) -> None:
        """EOF: every writer closed.  Reopen so we wait for the next one without spinning."""
        fresh = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        os.close(self._fd)
        self._fd = fresh
        if self.state is DogState.ARMED:
            if self._expect_close:
                self.state = DogState.IDLE  # ARMED -> IDLE: magic close
                self._record("magic close")
            else:
                self._record("unexpected close")
        self._expect_close = False
        self._line = b""

    def _fire(self) -> None:
        self.state = DogState.FIRED     # ARMED -> FIRED
        self.fired_at = time.monotonic()
        self._record("fired")
        try:
            self.on_reset()
        except Exception as err:  # the test must see it, not a dead thread
            self._record(f"reset failed: {err}")
