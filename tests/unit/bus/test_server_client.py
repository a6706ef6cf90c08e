"""Request/reply and publish/subscribe over real ipc:// sockets."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq

from cluster.bus import codec, endpoints
from cluster.bus.client import AsyncClient, NotRunning, RemoteError, Subscriber, request
from cluster.bus.loop import Loop
from cluster.bus.messages.common import ErrorResult, OkResult, Ping, PingResult
from cluster.bus.messages.hbcomm import GetNodes, HeartbeatLate, NodesResult
from cluster.bus.server import DEFERRED, ControlServer, Publisher


def _serve(loop: Loop, stop: threading.Event) -> threading.Thread:
    def run() -> None:
        while not stop.is_set():
            loop.run_once(max_wait=0.05)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_request_reply_ping_and_handler(run_dir: Path, zctx: zmq.Context[Any]) -> None:
    loop = Loop()
    reply = NodesResult(local="a", generation=1, uptime=0.0, comm_up=False, nodes=())
    server = ControlServer(zctx, loop, run_dir, "hbcomm", {GetNodes: lambda _m: reply}, 0.0)
    assert endpoints.control_path(run_dir, "hbcomm").stat().st_mode & 0o777 == 0o660
    stop = threading.Event()
    thread = _serve(loop, stop)
    try:
        pong = request(run_dir, "hbcomm", Ping(), timeout=5)
        assert isinstance(pong, PingResult) and pong.pid == os.getpid()
        assert request(run_dir, "hbcomm", GetNodes(), timeout=5) == reply
        with pytest.raises(RemoteError, match="does not handle OkResult"):
            request(run_dir, "hbcomm", OkResult(), timeout=5)
    finally:
        stop.set()
        thread.join()
        server.close()
        loop.close()


def test_malformed_request_is_rejected_and_counted(run_dir: Path, zctx: zmq.Context[Any]) -> None:
    loop = Loop()
    server = ControlServer(zctx, loop, run_dir, "crmd", {}, 0.0)
    sock = zctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoints.control(run_dir, "crmd"))
    sock.send_multipart([b"", b"id1", msgpack.packb({"v": 1, "t": "Bogus", "b": {}})])
    for _ in range(50):
        loop.run_once(max_wait=0.1)
        if sock.poll(0):
            break
    _, reqid, payload = sock.recv_multipart()
    answer = codec.decode(payload)
    assert reqid == b"id1" and isinstance(answer, ErrorResult) and answer.code == "bad_request"
    assert server.bad_requests == 1
    sock.close()
    server.close()
    loop.close()


def test_request_to_absent_daemon_is_not_running(run_dir: Path) -> None:
    with pytest.raises(NotRunning, match="not running"):
        request(run_dir, "ccm", Ping(), timeout=0.2)


def test_deferred_reply_and_async_client(run_dir: Path, zctx: zmq.Context[Any]) -> None:
    loop = Loop()
    holder: dict[str, Any] = {}

    def later(_msg: Ping) -> object:
        holder["responder"] = server.defer()
        return DEFERRED

    server = ControlServer(zctx, loop, run_dir, "stonithd", {Ping: later}, 0.0)
    client = AsyncClient(zctx, loop, run_dir, "stonithd")
    replies: list[object] = []
    client.call(Ping(), timeout=5.0, callback=replies.append)
    for _ in range(100):
        loop.run_once(max_wait=0.05)
        if "responder" in holder:
            break
    holder["responder"].send(OkResult("fenced"))
    for _ in range(100):
        loop.run_once(max_wait=0.05)
        if replies:
            break
    assert replies == [OkResult("fenced")]
    client.close()
    server.close()
    loop.close()


def test_async_client_times_out(run_dir: Path, zctx: zmq.Context[Any]) -> None:
    loop = Loop()
    client = AsyncClient(zctx, loop, run_dir, "nobody")
    replies: list[object] = []
    client.call(Ping(), timeout=0.05, callback=replies.append)
    for _ in range(40):
        loop.run_once(max_wait=0.05)
        if replies:
            break
    assert len(replies) == 1 and isinstance(replies[0], NotRunning)
    client.close()
    loop.close()


def _run_until(loop: Loop, predicate: Any, rounds: int = 500) -> None:
    for _ in range(rounds):
        if predicate():
            return
        loop.run_once(max_wait=0.01)
    raise AssertionError("condition not met")


def test_publish_subscribe_with_topic_filter(run_dir: Path, zctx: zmq.Context[Any]) -> None:
    loop = Loop()
    pub = Publisher(zctx, loop, run_dir, "hbcomm")
    got: list[tuple[str, object]] = []
    sub = Subscriber(zctx, loop, run_dir, "hbcomm", ["late"], lambda t, m: got.append((t, m)))
    _run_until(loop, lambda: sub.live)
    event = HeartbeatLate(node="b", interval=0.3)
    pub.publish("node", OkResult("filtered out"))
    pub.publish("late", event)
    _run_until(loop, lambda: got)
    loop.run_once(max_wait=0.05)
    assert got == [("late", event)]
    sub.close()
    pub.close()
    loop.close()


def test_no_event_after_confirmation_is_lost(run_dir: Path, zctx: zmq.Context[Any]) -> None:
    """The first event published once the subscription is confirmed arrives,
    on every topic: the confirmation reaches the publisher after the topics."""
    loop = Loop()
    pub = Publisher(zctx, loop, run_dir, "hbcomm")
    topics = ["a", "link", "msg.ccm", "node", "zzz"]
    for attempt in range(20):
        got: list[str] = []
        lives: list[int] = []

        def on_live(attempt: int = attempt, lives: list[int] = lives) -> None:
            lives.append(attempt)
            for topic in topics:  # at once, from inside the confirmation
                pub.publish(topic, OkResult(topic))

        sub = Subscriber(zctx, loop, run_dir, "hbcomm", topics,
                         lambda t, _m, got=got: got.append(t), on_live)
        _run_until(loop, lambda got=got: len(got) == len(topics))
        assert sorted(got) == topics and lives == [attempt]
        sub.close()
    pub.close()
    loop.close()


def test_confirmation_again_after_publisher_restart(run_dir: Path,
                                                    zctx: zmq.Context[Any]) -> None:
    """A restarted daemon confirms again: the cue to take a fresh snapshot."""
    loop = Loop()
    lives: list[float] = []
    got: list[object] = []
    sub = Subscriber(zctx, loop, run_dir, "hbcomm", ["node"], lambda _t, m: got.append(m),
                     lambda: lives.append(loop.clock()))
    pub = Publisher(zctx, loop, run_dir, "hbcomm")  # bound after the subscriber connects
    _run_until(loop, lambda: len(lives) == 1)
    pub.close()
    pub = Publisher(zctx, loop, run_dir, "hbcomm")
    _run_until(loop, lambda: len(lives) == 2)
    pub.publish("node", OkResult("after restart"))
    _run_until(loop, lambda: got)
    assert got == [OkResult("after restart")]
    sub.close()
    pub.close()
    loop.close()


def test_other_subscribers_confirmations_are_not_events(run_dir: Path,
                                                       zctx: zmq.Context[Any]) -> None:
    loop = Loop()
    pub = Publisher(zctx, loop, run_dir, "hbcomm")
    everything: list[str] = []
    wide = Subscriber(zctx, loop, run_dir, "hbcomm", [""], lambda t, _m: everything.append(t))
    _run_until(loop, lambda: wide.live)
    narrow = Subscriber(zctx, loop, run_dir, "hbcomm", ["node"], lambda _t, _m: None)
    _run_until(loop, lambda: narrow.live)
    pub.publish("node", OkResult())
    _run_until(loop, lambda: everything)
    assert everything == ["node"]
    for closer in (narrow.close, wide.close, pub.close, loop.close):
        closer()
