"""ccm's shell over real ipc:// sockets, with a fake hbcomm in the same loop.

The fake answers GetNodes and SendToCluster (looping broadcasts back, as the
real one does) and publishes node events; views are read from ccm.pub and
GetView.  Every wait is bounded; the loop polls, nobody sleeps.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zmq

from cluster.bus import codec
from cluster.bus.client import AsyncClient, Subscriber
from cluster.bus.loop import Loop
from cluster.bus.messages.ccm import (
    CcmGroup,
    CcmJoin,
    CcmJoinResult,
    CcmViewDecided,
    GetView,
    ViewChanged,
)
from cluster.bus.messages.common import OkResult
from cluster.bus.messages.hbcomm import (
    ClusterMessage,
    GetNodes,
    NodeInfo,
    NodesResult,
    NodeStatusChanged,
    SendToCluster,
)
from cluster.bus.server import ControlServer, Publisher
from cluster.ccm.service import RESERVE, STATE_FILE, CcmService
from cluster.config.confdir import load_config
from cluster.runtime.daemon import DaemonContext
from cluster.runtime.paths import NodePaths

HA_CF = "keepalive 100ms\ndeadtime 1\nbcast lo\nnode alice bob\n"


class FakeHbcomm:
    def __init__(self, zctx: zmq.Context[Any], loop: Loop, run_dir: Path) -> None:
        self._zctx, self._loop, self._run_dir = zctx, loop, run_dir
        self.statuses = {"alice": "active", "bob": "dead"}
        self.sent: list[SendToCluster] = []
        self.snapshots = 0
        self.seq = 0
        self.stale_answers: list[NodesResult] = []  # answered first, as if taken earlier
        self.pub = Publisher(zctx, loop, run_dir, "hbcomm")
        self.server = ControlServer(zctx, loop, run_dir, "hbcomm",
                                    {GetNodes: self._nodes, SendToCluster: self._send}, 0.0)

    def restart_publisher(self) -> None:
        self.pub.close()
        self.pub = Publisher(self._zctx, self._loop, self._run_dir, "hbcomm")

    def _nodes(self, _msg: GetNodes) -> NodesResult:
        self.snapshots += 1
        if self.stale_answers:
            return self.stale_answers.pop(0)
        nodes = tuple(NodeInfo(n, s, "normal", ()) for n, s in self.statuses.items())
        return NodesResult("alice", 7, 1.0, True, nodes, node_seq=self.seq)

    def _send(self, msg: SendToCluster) -> OkResult:
        self.sent.append(msg)
        if msg.dest in (None, "alice"):
            self.pub.publish(f"msg.{msg.mtype}", ClusterMessage("alice", msg.mtype, msg.body))
        return OkResult()

    def node(self, name: str, status: str) -> None:
        previous, self.statuses[name] = self.statuses[name], status
        self.seq += 1
        self.pub.publish("node", NodeStatusChanged(name, status, previous, generation=7,
                                                   seq=self.seq))

    def close(self) -> None:
        self.server.close()
        self.pub.close()


@dataclass
class Rig:
    loop: Loop
    ctx: DaemonContext
    hbcomm: FakeHbcomm
    service: CcmService
    views: list[ViewChanged]  # as seen on ccm.pub

    def until(self, predicate: Callable[[], object], timeout: float = 15.0) -> None:
        deadline = self.loop.clock() + timeout
        while not predicate():
            assert self.loop.clock() < deadline, "condition not met in time"
            self.loop.run_once(max_wait=0.02)

    def get_view(self) -> ViewChanged:
        replies: list[object] = []
        client = AsyncClient(self.ctx.zmq, self.loop, self.ctx.paths.run_dir, "ccm")
        try:
            client.call(GetView(), 10.0, replies.append)
            self.until(lambda: replies)
        finally:
            client.close()
        assert isinstance(replies[0], ViewChanged)
        return replies[0]


def _rig(tmp_path: Path, run_dir: Path, zctx: zmq.Context[Any]) -> Iterator[Rig]:
    conf = tmp_path / "conf"
    conf.mkdir(exist_ok=True)
    (conf / "ha.cf").write_text(HA_CF)
    keys = conf / "authkeys"
    keys.write_text("auth 1\n1 sha1 secret\n")
    os.chmod(keys, 0o600)
    paths = NodePaths(conf, run_dir, tmp_path / "state", tmp_path / "log")
    loop = Loop()
    ctx = DaemonContext("ccm", "alice", paths, load_config(conf, "alice"), loop, zctx,
                        started=loop.clock())
    hbcomm = FakeHbcomm(zctx, loop, run_dir)
    views: list[ViewChanged] = []
    watcher = Subscriber(zctx, loop, run_dir, "ccm", ["view"],
                         lambda _t, m: views.append(m))
    service = CcmService(ctx)
    rig = Rig(loop, ctx, hbcomm, service, views)
    try:
        rig.until(lambda: watcher.live)  # our view of ccm.pub misses nothing from here
        yield rig
    finally:
        service.close()
        watcher.close()
        ctx.close_bus()
        hbcomm.close()
        loop.close()


@pytest.fixture
def rig(tmp_path: Path, run_dir: Path, zctx: zmq.Context[Any]) -> Iterator[Rig]:
    yield from _rig(tmp_path, run_dir, zctx)


def test_alone_at_comm_up_forms_itself_publishes_and_persists(rig: Rig,
                                                              tmp_path: Path) -> None:
    rig.until(lambda: rig.get_view().formed)
    assert rig.get_view() == ViewChanged(1, ("alice",), True, "alice", formed=True)
    assert (tmp_path / "state" / STATE_FILE).read_text() == f"{1 + RESERVE}\n"


def test_a_round_with_a_peer_runs_through_hbcomm_and_ccm_pub(rig: Rig) -> None:
    rig.until(lambda: rig.get_view().formed)

    def sent(kind: type[Any]) -> list[Any]:
        return [m for m in (codec.decode(s.body) for s in rig.hbcomm.sent if s.mtype == "ccm")
                if isinstance(m, kind)]

    rig.hbcomm.node("bob", "active")  # ccm's subscription is confirmed: no retry needed
    rig.until(lambda: sent(CcmJoin))
    join = sent(CcmJoin)[0]
    assert join.proposal == ("alice", "bob")
    answer = CcmJoinResult(join.round, True, "alice", ("alice", "bob"), 0, 0, ())
    rig.hbcomm.pub.publish("msg.ccm", ClusterMessage("bob", "ccm", codec.encode(answer)))
    rig.until(lambda: sent(CcmViewDecided))
    assert sent(CcmViewDecided)[0].groups == (CcmGroup(2, ("alice", "bob")),)
    rig.until(lambda: rig.views)
    assert rig.views[-1] == ViewChanged(2, ("alice", "bob"), True, "alice", formed=True)
    assert rig.get_view() == rig.views[-1]


def test_snapshot_at_confirmation_and_again_when_an_event_overtook_it(
        tmp_path: Path, run_dir: Path, zctx: zmq.Context[Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """hbcomm restarts: ccm re-snapshots once the new one confirms the
    subscription, and an answer older than an event already applied (bob
    "dead" at seq 0, after the seq-1 event said "active") is asked again.
    The periodic safety-net snapshot is out of the picture."""
    monkeypatch.setattr("cluster.ccm.service._RECONCILE", 1e6)
    for rig in _rig(tmp_path, run_dir, zctx):
        _overtaken_snapshot_is_asked_again(rig)


def _overtaken_snapshot_is_asked_again(rig: Rig) -> None:
    rig.until(lambda: rig.get_view().formed)
    sent_before = len(rig.hbcomm.sent)
    rig.hbcomm.node("bob", "active")
    rig.until(lambda: len(rig.hbcomm.sent) > sent_before)  # ccm acted on the event
    before = rig.hbcomm.snapshots
    stale = NodesResult("alice", 7, 1.0, True, (NodeInfo("alice", "active", "normal", ()),
                                                NodeInfo("bob", "dead", "normal", ())),
                        node_seq=0)
    rig.hbcomm.stale_answers.append(stale)
    rig.hbcomm.restart_publisher()
    rig.until(lambda: rig.hbcomm.snapshots >= before + 2)
    assert not rig.hbcomm.stale_answers


def test_garbage_from_a_peer_is_dropped_and_counted(rig: Rig) -> None:
    rig.until(lambda: rig.get_view().formed)

    def flood() -> int:
        rig.hbcomm.pub.publish("msg.ccm", ClusterMessage("bob", "ccm", b"\xc1 not msgpack"))
        rig.hbcomm.pub.publish("msg.ccm", ClusterMessage(
            "bob", "ccm", codec.encode(CcmJoin(-5, (), 0))))
        return rig.service.dropped

    rig.until(lambda: flood() >= 2)
    assert rig.get_view().members == ("alice",)


def test_restart_continues_above_the_persisted_instance(tmp_path: Path, run_dir: Path,
                                                        zctx: zmq.Context[Any]) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / STATE_FILE).write_text("41\n")
    for rig in _rig(tmp_path, run_dir, zctx):
        rig.until(lambda r=rig: r.get_view().formed)  # type: ignore[misc]
        assert rig.get_view().instance == 42
        # A ceiling: the next RESERVE views (a failover's among them) need no disk sync.
        assert (tmp_path / "state" / STATE_FILE).read_text() == f"{42 + RESERVE}\n"
