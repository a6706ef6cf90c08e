"""The single-threaded event loop every daemon runs.

One ``zmq.Poller`` waits on ZeroMQ sockets, plain file descriptors (UDP
sockets, serial lines) and a self-pipe that signal handlers write to, with a
timeout equal to the next timer deadline.  Signals therefore never run
daemon code inside a handler: they are queued and dispatched like any other
event.  Callbacks must not block; a callback that raises is logged and the
loop goes on, because one bad message must never stop a daemon.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zmq

log = logging.getLogger(__name__)

Callback = Callable[[], None]


@dataclass(order=True)
class Timer:
    when: float
    seq: int
    callback: Callback = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class Loop:
    """Poll sockets, descriptors, signals and timers; run callbacks in order."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._poller = zmq.Poller()
        self._handlers: dict[Any, Callback] = {}
        self._timers: list[Timer] = []
        self._seq = itertools.count()
        self._signal_handlers: dict[int, Callable[[int], None]] = {}
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._poller.register(self._wake_r, zmq.POLLIN)
        self._running = False
        self._old_wakeup_fd: int | None = None

    # -- registration -------------------------------------------------------
    def add_reader(self, source: zmq.Socket[Any] | int, callback: Callback) -> None:
        """Call `callback` whenever `source` (zmq socket or fd) is readable."""
        self._poller.register(source, zmq.POLLIN)
        self._handlers[source] = callback

    def remove_reader(self, source: zmq.Socket[Any] | int) -> None:
        if source in self._handlers:
            self._poller.unregister(source)
            del self._handlers[source]

    def call_at(self, when: float, callback: Callback) -> Timer:
        timer = Timer(when, next(self._seq), callback)
        heapq.heappush(self._timers, timer)
        return timer

    def call_later(self, delay: float, callback: Callback) -> Timer:
        return self.call_at(self.clock() + delay, callback)

    def add_signal(self, signum: int, handler: Callable[[int], None]) -> None:
        """Dispatch `signum` to `handler` from the loop, not from the signal context."""
        if not self._signal_handlers:
            self._old_wakeup_fd = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        self._signal_handlers[signum] = handler
        # The wakeup fd carries the signal number; the Python-level handler
        # only has to exist so the default action (often: die) is replaced.
        signal.signal(signum, lambda _s, _f: None)

    # -- running ------------------------------------------------------------
    def stop(self) -> None:
        self._running = False
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_w, b"\0")

    def run(self) -> None:
        self._running = True
        while self._running:
            self.run_once()

    def run_once(self, max_wait: float | None = None) -> None:
        timeout = self._timeout_ms(max_wait)
        # pyzmq retries an EINTR poll itself; a signal still wakes us through
        # the wakeup pipe, which is registered like any other reader.
        ready = dict(self._poller.poll(timeout))
        if self._wake_r in ready:
            self._drain_wakeups()
        for source in [source for source in self._handlers if source in ready]:
            # A callback earlier in this pass may have removed this reader (a
            # medium closed after an error): its readiness is stale, skip it.
            callback = self._handlers.get(source)
            if callback is not None:
                self._guarded(callback)
        self._run_due_timers()

    def close(self) -> None:
        if self._signal_handlers:
            for signum in self._signal_handlers:
                signal.signal(signum, signal.SIG_DFL)
            signal.set_wakeup_fd(self._old_wakeup_fd if self._old_wakeup_fd is not None else -1)
            self._signal_handlers.clear()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    # -- internals ----------------------------------------------------------
    def _timeout_ms(self, max_wait: float | None) -> int:
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
        wait = max_wait
        if self._timers:
            until = max(0.0, self._timers[0].when - self.clock())
            wait = until if wait is None else min(wait, until)
        if wait is None:
            return -1
        # Round up so a timer is never polled a hair early and spun on.
        return max(0, int(wait * 1000.0 + 0.999))

    def _drain_wakeups(self) -> None:
        signums: list[int] = []
        while True:
            try:
                data = os.read(self._wake_r, 512)
            except BlockingIOError:
                break
            if not data:
                break
            signums.extend(b for b in data if b)
        for signum in signums:
            handler = self._signal_handlers.get(signum)
            if handler is not None:
                self._guarded(functools.partial(handler, signum))

    def _run_due_timers(self) -> None:
        # Only timers due before this pass began: one re-armed in the past by a
        # callback waits for the next pass, so sockets and signals still get
        # their turn instead of the loop spinning on timers.
        now = self.clock()
        due: list[Timer] = []
        while self._timers and self._timers[0].when <= now:
            due.append(heapq.heappop(self._timers))
        for timer in due:
            if not timer.cancelled:
                self._guarded(timer.callback)

    def _guarded(self, callback: Callback) -> None:
        try:
            callback()
        except Exception:
            log.exception("internal error in event handler %r; continuing", callback)
