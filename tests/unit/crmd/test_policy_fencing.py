"""StonithdFencer: FenceNode requests for the DC, one per node at a time."""

from __future__ import annotations

from collections.abc import Callable

from cluster.bus.client import NotRunning
from cluster.bus.messages.stonithd import FenceNode, FenceResult
from cluster.crmd.fencing import StonithdFencer


class FakeClient:
    def __init__(self) -> None:
        self.calls: list[tuple[object, float, Callable[[object], None]]] = []

    def call(self, msg: object, timeout: float, callback: Callable[[object], None]) -> None:
        self.calls.append((msg, timeout, callback))


def _fencer(available: bool = True) -> tuple[StonithdFencer, FakeClient, list[tuple[str, bool]]]:
    client = FakeClient()
    results: list[tuple[str, bool]] = []
    return StonithdFencer(lambda: client, lambda: available, timeout=30.0), client, results


def test_a_confirmed_reset_is_reported_ok() -> None:
    fencer, client, results = _fencer()
    fencer.fence("node1", "gone", lambda n, ok: results.append((n, ok)))
    ((msg, timeout, callback),) = client.calls
    assert msg == FenceNode("node1", "reset", "gone", 30.0)
    assert timeout > 30.0
    callback(FenceResult("node1", True, "reset", "external/ssh", "done"))
    assert results == [("node1", True)]
    assert fencer.notices() == []


def test_one_request_per_node_at_a_time() -> None:
    fencer, client, results = _fencer()
    fencer.fence("node1", "gone", lambda n, ok: results.append((n, ok)))
    fencer.fence("node1", "gone", lambda n, ok: results.append((n, ok)))
    fencer.fence("node2", "gone", lambda n, ok: results.append((n, ok)))
    assert [c[0].node for c in client.calls] == ["node1", "node2"]  # type: ignore[attr-defined]


def test_failures_are_reported_and_listed_until_forgotten() -> None:
    fencer, client, results = _fencer()
    fencer.fence("node1", "gone", lambda n, ok: results.append((n, ok)))
    client.calls[0][2](FenceResult("node1", False, "reset", "", "no device can fence node1"))
    fencer.fence("node1", "gone", lambda n, ok: results.append((n, ok)))
    client.calls[1][2](NotRunning("stonithd did not answer in time"))
    assert results == [("node1", False), ("node1", False)]
    assert fencer.notices() == ["STONITH of node1 failed: stonithd did not answer in time"]
    fencer.forget("node1")
    assert fencer.notices() == []


def test_without_stonithd_it_fails_at_once() -> None:
    fencer, client, results = _fencer(available=False)
    fencer.fence("node1", "gone", lambda n, ok: results.append((n, ok)))
    assert client.calls == []
    assert results == [("node1", False)]
    assert "stonithd is not running" in fencer.notices()[0]
