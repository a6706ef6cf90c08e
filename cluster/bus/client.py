"""Asking daemons and following their events.

* :func:`request` — blocking request/reply for command-line tools.
* :class:`AsyncClient` — non-blocking requests from inside a daemon's loop.
* :class:`Subscriber` — follow a daemon's ``.pub`` topics from a loop.

Every request has a timeout.  A daemon that is not running is reported as
:class:`NotRunning` (no socket file, or nobody answering), never as a hang.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import zmq

from cluster.bus import codec, endpoints
from cluster.bus.loop import Loop, Timer
from cluster.bus.messages.common import ErrorResult
from cluster.common.logs import RateLimiter

log = logging.getLogger(__name__)


class BusError(Exception):
    """A request could not be carried out."""


class NotRunning(BusError):
    """The daemon's control socket is absent or nobody answered in time."""


class RemoteError(BusError):
    """The daemon answered with ErrorResult."""

    def __init__(self, result: ErrorResult) -> None:
        super().__init__(result.message)
        self.code = result.code
        self.result = result


def _new_reqid() -> bytes:
    return os.urandom(8)


def request(run_dir: Path | str, daemon: str, msg: object, timeout: float = 5.0,
            ctx: zmq.Context[Any] | None = None) -> Any:
    """Send one request and wait for its reply; raise NotRunning/RemoteError."""
    path = endpoints.control_path(run_dir, daemon)
    if not path.exists():
        raise NotRunning(f"{daemon} is not running (no socket {path})")
    own_ctx = ctx is None
    context = zmq.Context() if ctx is None else ctx
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(endpoints.control(run_dir, daemon))
        reqid = _new_reqid()
        sock.send_multipart([b"", reqid, codec.encode(msg)])
        deadline_ms = int(timeout * 1000)
        while True:
            if not sock.poll(deadline_ms, zmq.POLLIN):
                raise NotRunning(f"{daemon} did not answer within {timeout:g} s")
            frames = sock.recv_multipart()
            if len(frames) == 3 and frames[1] == reqid:
                reply = codec.decode(frames[2])
                if isinstance(reply, ErrorResult):
                    raise RemoteError(reply)
                return reply
    finally:
        sock.close(linger=0)
        if own_ctx:
            context.term()


ReplyCallback = Callable[[Any], None]
_SEND_RETRY = 0.01


class AsyncClient:
    """Non-blocking requests to one daemon from inside an event loop.

    The callback receives the reply message, or a BusError instance on
    timeout or when the daemon cannot be reached.  Replies that come after
    their timeout are dropped.
    """

    def __init__(self, ctx: zmq.Context[Any], loop: Loop, run_dir: Path, daemon: str) -> None:
        self.daemon = daemon
        self._loop = loop
        self._pending: dict[bytes, tuple[ReplyCallback, Timer]] = {}
        self._ids = itertools.count(1)
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        # Fail at once while the daemon is down instead of queueing forever.
        self.sock.setsockopt(zmq.IMMEDIATE, 1)
        self.sock.connect(endpoints.control(run_dir, daemon))
        loop.add_reader(self.sock, self._on_readable)

    def call(self, msg: object, timeout: float, callback: ReplyCallback) -> None:
        """Send `msg`; `callback` gets the reply or a BusError, exactly once."""
        reqid = next(self._ids).to_bytes(8, "big")
        payload = codec.encode(msg)
        timer = self._loop.call_later(timeout, lambda: self._expire(reqid))
        self._pending[reqid] = (callback, timer)
        self._try_send(reqid, payload, self._loop.clock() + timeout)

    def _try_send(self, reqid: bytes, payload: bytes, deadline: float) -> None:
        # IMMEDIATE means a send fails while no connection is up, so a request
        # never waits in a queue for a daemon that is down and runs much later
        # (a fence request must not).  Retry briefly while the link comes up.
        if reqid not in self._pending:
            return
        try:
            self.sock.send_multipart([b"", reqid, payload], zmq.NOBLOCK)
        except zmq.Again:
            if self._loop.clock() + _SEND_RETRY < deadline:
                self._loop.call_later(_SEND_RETRY,
                                      lambda: self._try_send(reqid, payload, deadline))

    def close(self) -> None:
        self._loop.remove_reader(self.sock)
        self.sock.close(linger=0)
        for callback, timer in self._pending.values():
            timer.cancel()
            callback(NotRunning(f"request to {self.daemon} abandoned"))
        self._pending.clear()

    def _expire(self, reqid: bytes) -> None:
        entry = self._pending.pop(reqid, None)
        if entry is not None:
            entry[0](NotRunning(f"{self.daemon} did not answer in time"))

    def _on_readable(self) -> None:
        for _ in range(256):
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(frames) != 3:
                continue
            entry = self._pending.pop(frames[1], None)
            if entry is None:
                continue
            callback, timer = entry
            timer.cancel()
            try:
                reply = codec.decode(frames[2])
            except codec.CodecError as err:
                callback(BusError(f"bad reply from {self.daemon}: {err}"))
                continue
            callback(RemoteError(reply) if isinstance(reply, ErrorResult) else reply)


EventCallback = Callable[[str, Any], None]
LiveCallback = Callable[[], None]


class Subscriber:
    """Follow topics (prefixes) of a daemon's event socket from a loop.

    `on_live` runs each time the publisher confirms the subscription: once
    after connecting, and again whenever the daemon restarted.  Events
    published before that moment were not seen, so that is when a caller
    asks for its snapshot; asking earlier leaves a gap in which a change is
    in neither the snapshot nor the events (see :class:`Publisher`)."""

    def __init__(self, ctx: zmq.Context[Any], loop: Loop, run_dir: Path, daemon: str,
                 topics: Iterable[str], callback: EventCallback,
                 on_live: LiveCallback | None = None) -> None:
        self.daemon = daemon
        self.live = False
        self._loop = loop
        self._callback = callback
        self._on_live = on_live
        self._confirm = endpoints.CONFIRM_TOPIC + os.urandom(8).hex().encode()
        self._bad = RateLimiter(interval=10.0)
        self.sock = ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVHWM, 100000)
        for topic in topics:
            self.sock.setsockopt(zmq.SUBSCRIBE, topic.encode())
        self.sock.setsockopt(zmq.SUBSCRIBE, self._confirm)
        self.sock.connect(endpoints.events(run_dir, daemon))
        loop.add_reader(self.sock, self._on_readable)

    def close(self) -> None:
        self._loop.remove_reader(self.sock)
        self.sock.close(linger=0)

    def _on_readable(self) -> None:
        for _ in range(1024):
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(frames) != 2:
                continue
            if frames[0].startswith(endpoints.CONFIRM_TOPIC):
                if frames[0] == self._confirm:
                    self.live = True
                    if self._on_live is not None:
                        self._on_live()
                continue
            try:
                msg = codec.decode(frames[1])
            except codec.CodecError as err:
                if self._bad.allow():
                    log.warning("dropped a malformed event from %s: %s", self.daemon, err)
                continue
            self._callback(frames[0].decode(errors="replace"), msg)
