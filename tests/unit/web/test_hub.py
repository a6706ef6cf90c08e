"""The hub: snapshot, event numbering and Last-Event-ID replay."""

from __future__ import annotations

import asyncio
import json

from cluster.web.hub import Hub


def _host(node: str, when: float) -> dict[str, object]:
    return {"node": node, "when": when, "cpu": 5.0, "load": [0.1, 0.2, 0.3], "mem_used": 1,
            "mem_total": 4, "net": [{"rx": 1.0, "tx": 2.0}]}


async def _take(hub: Hub, last: int | None, count: int) -> list[tuple[int, str, str] | None]:
    stream = hub.stream(last)
    taken = [await anext(stream) for _ in range(count)]
    await stream.aclose()
    return taken


def test_fresh_stream_starts_with_a_snapshot() -> None:
    hub = Hub()
    hub.publish("cluster", {"nodes": []})
    hub.publish("host", _host("a", 1.0))
    hub.publish("timeline", {"kind": "failover", "when": hub.started - 60, "duration": 9.0})
    hub.publish("timeline", {"kind": "failover", "when": hub.started + 1, "duration": 0.5})
    hub.publish("timeline", {"kind": "failover", "when": hub.started - 30, "duration": 7.0})
    (ident, kind, data), = asyncio.run(_take(hub, None, 1))
    assert (ident, kind) == (5, "snapshot")
    snap = json.loads(data)
    assert snap["cluster"] == {"nodes": []} and snap["history"]["a"][0][1] == 5.0
    assert hub.failovers == 1 and hub.last_failover == 0.5   # kept ones: not since the start


def test_reconnect_gets_exactly_what_it_missed() -> None:
    hub = Hub()
    for i in range(5):
        hub.publish("log", {"node": "a", "daemon": "crmd", "lines": [f"line {i}"]})
    missed = asyncio.run(_take(hub, 3, 2))
    assert [m[0] for m in missed] == [4, 5]
    assert hub.missed_since(5) == [] and hub.missed_since(99) is None


def test_too_old_an_id_falls_back_to_a_snapshot() -> None:
    hub = Hub()
    for i in range(4100):        # more than the ring holds
        hub.publish("log", {"node": "a", "daemon": "crmd", "lines": [str(i)]})
    assert hub.missed_since(10) is None
    (_, kind, _), = asyncio.run(_take(hub, 10, 1))
    assert kind == "snapshot"


def test_live_events_follow() -> None:
    async def scenario() -> list[str]:
        hub = Hub()
        stream = hub.stream(None)
        await anext(stream)                   # the snapshot
        hub.publish("cluster", {"dc": "a"})
        event = await anext(stream)
        await stream.aclose()
        return [event[1], event[2]]

    assert asyncio.run(scenario()) == ["cluster", '{"dc":"a"}']


def test_idle_stream_gets_keepalives_and_stays_open() -> None:
    async def scenario() -> list[object]:
        hub = Hub()
        stream = hub.stream(None, idle=0.05)
        await anext(stream)                   # the snapshot
        quiet = await anext(stream)           # nothing happened: a keep-alive marker
        hub.publish("cluster", {"dc": "b"})
        later = await anext(stream)
        hub.close_streams()
        ended = [e async for e in stream]
        return [quiet, later[1] if later else None, ended]

    assert asyncio.run(scenario()) == [None, "cluster", []]
