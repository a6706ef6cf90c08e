"""Request/reply (ROUTER) and event (PUB) sockets a daemon binds.

Frames on the control socket are ``[identity, b"", request-id, payload]``;
the reply echoes the request id.  A handler is looked up by message type in
the table the daemon passes in; it returns the reply message, or
:data:`DEFERRED` after taking a :class:`Responder` from
:meth:`ControlServer.defer` to answer later (e.g. once resources stopped).
A malformed request is answered with ErrorResult("bad_request") when it can
be, and logged at a limited rate; it never reaches a handler.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import zmq

from cluster.bus import codec, endpoints
from cluster.bus.loop import Loop
from cluster.bus.messages.common import ErrorResult, Ping, PingResult
from cluster.common.logs import RateLimiter

log = logging.getLogger(__name__)

Handler = Callable[[Any], object]


class _Deferred:
    def __repr__(self) -> str:
        return "DEFERRED"


DEFERRED = _Deferred()


class Responder:
    """Answers one request later, exactly once."""

    def __init__(self, server: ControlServer, frames: tuple[bytes, bytes]) -> None:
        self._server = server
        self._frames = frames
        self.done = False

    def send(self, reply: object) -> None:
        if self.done:
            raise RuntimeError("this request was already answered")
        self.done = True
        self._server._send(self._frames, reply)


def bind_ipc(sock: zmq.Socket[Any], run_dir: Path, path: Path, endpoint: str) -> None:
    """Bind, replacing a stale socket file left by a crashed predecessor."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    sock.bind(endpoint)
    endpoints.restrict_socket_file(path)


class ControlServer:
    """The ROUTER socket ``<daemon>.ctl``: dispatch requests by type."""

    def __init__(self, ctx: zmq.Context[Any], loop: Loop, run_dir: Path, daemon: str,
                 handlers: Mapping[type, Handler], started: float) -> None:
        self.daemon = daemon
        self._loop = loop
        self._handlers = dict(handlers)
        self._handlers.setdefault(Ping, self._ping)
        self._started = started
        self._current: tuple[bytes, bytes] | None = None
        self._bad = RateLimiter(interval=10.0)
        self.bad_requests = 0
        self.sock = ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.ROUTER_MANDATORY, 0)
        bind_ipc(self.sock, run_dir, endpoints.control_path(run_dir, daemon),
                 endpoints.control(run_dir, daemon))
        loop.add_reader(self.sock, self._on_readable)

    def defer(self) -> Responder:
        """Call inside a handler to answer this request later; return DEFERRED."""
        if self._current is None:
            raise RuntimeError("defer() is only valid inside a request handler")
        return Responder(self, self._current)

    def close(self) -> None:
        self._loop.remove_reader(self.sock)
        self.sock.close(linger=0)

    def _ping(self, _msg: Ping) -> PingResult:
        return PingResult(daemon=self.daemon, pid=os.getpid(),
                          uptime=self._loop.clock() - self._started)

    def _on_readable(self) -> None:
        for _ in range(256):  # bounded: let timers and other sockets run too
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self._dispatch(frames)

    def _dispatch(self, frames: list[bytes]) -> None:
        if len(frames) != 4 or frames[1] != b"":
            self._reject(None, f"{len(frames)} frames instead of 4")
            return
        ident, _, reqid, payload = frames
        try:
            msg = codec.decode(payload)
        except codec.CodecError as err:
            self._reject((ident, reqid), str(err))
            return
        handler = self._handlers.get(type(msg))
        if handler is None:
            self._send((ident, reqid), ErrorResult("unsupported",
                       f"{self.daemon} does not handle {type(msg).__name__}"))
            return
        self._current = (ident, reqid)
        try:
            reply = handler(msg)
        except Exception as err:
            log.exception("request %s failed inside %s", type(msg).__name__, self.daemon)
            reply = ErrorResult("internal", f"{type(msg).__name__} failed: {err}")
        finally:
            self._current = None
        if reply is not DEFERRED:
            self._send((ident, reqid), reply)

    def _reject(self, frames: tuple[bytes, bytes] | None, why: str) -> None:
        self.bad_requests += 1
        if self._bad.allow():
            log.warning("rejected malformed IPC request on %s.ctl: %s (%d so far)",
                        self.daemon, why, self.bad_requests)
        if frames is not None:
            self._send(frames, ErrorResult("bad_request", why))

    def _send(self, frames: tuple[bytes, bytes], reply: object) -> None:
        ident, reqid = frames
        try:
            self.sock.send_multipart([ident, b"", reqid, codec.encode(reply)], zmq.NOBLOCK)
        except zmq.ZMQError as err:
            log.warning("could not answer a request on %s.ctl: %s", self.daemon, err)


class Publisher:
    """The XPUB socket ``<daemon>.pub``: topic frame + message frame.

    ZeroMQ forwards a subscription to the publisher some time after the
    subscriber connects, and events published before it arrives are lost to
    that subscriber.  So every :class:`~cluster.bus.client.Subscriber` also
    subscribes to a private topic under :data:`endpoints.CONFIRM_TOPIC`,
    which its socket sends after its real topics; when that reaches us, the
    rest is registered, and we echo the topic back as the confirmation."""

    def __init__(self, ctx: zmq.Context[Any], loop: Loop, run_dir: Path, daemon: str) -> None:
        self._loop = loop
        self.sock = ctx.socket(zmq.XPUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SNDHWM, 10000)
        bind_ipc(self.sock, run_dir, endpoints.events_path(run_dir, daemon),
                 endpoints.events(run_dir, daemon))
        loop.add_reader(self.sock, self._on_subscription)

    def publish(self, topic: str, msg: object) -> None:
        try:
            self.sock.send_multipart([topic.encode(), codec.encode(msg)], zmq.NOBLOCK)
        except zmq.Again:
            log.warning("event queue full; dropped %s on topic %s", type(msg).__name__, topic)

    def _on_subscription(self) -> None:
        for _ in range(256):  # bounded: let timers and other sockets run too
            try:
                frame = self.sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            topic = frame[1:]
            if frame[:1] == b"\x01" and topic.startswith(endpoints.CONFIRM_TOPIC):
                with contextlib.suppress(zmq.Again):
                    self.sock.send_multipart([topic, b""], zmq.NOBLOCK)

    def close(self) -> None:
        self._loop.remove_reader(self.sock)
        self.sock.close(linger=0)
