"""The ICMP socket shell on loopback: concurrent rounds share one socket.

Unreachable hosts are proven in the lab (tests/lab/test_mon.py), where a
host can be powered off without sending a packet beyond the lab.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from cluster.bus.loop import Loop
from cluster.mon.builtins import IcmpOptions
from cluster.mon.outcome import MonitorOutcome
from cluster.mon.pinger import Pinger

pytestmark = pytest.mark.integration


@pytest.fixture
def pinger() -> Iterator[tuple[Loop, Pinger]]:
    loop = Loop()
    try:
        pinger = Pinger(loop)
    except PermissionError:
        loop.close()
        pytest.skip("no ICMP socket: needs root or net.ipv4.ping_group_range")
    yield loop, pinger
    pinger.close()
    loop.close()


def test_two_rounds_at_once_on_loopback(pinger: tuple[Loop, Pinger]) -> None:
    loop, ping = pinger
    results: dict[str, MonitorOutcome] = {}
    options = IcmpOptions(timeout_ms=500, retries=2)
    ping.ping(["127.0.0.1", "127.0.0.2"], options, lambda o: results.update(first=o))
    ping.ping(["127.0.0.3", "localhost"], options, lambda o: results.update(second=o))
    deadline = time.monotonic() + 10
    while len(results) < 2:
        assert time.monotonic() < deadline
        loop.run_once(max_wait=0.05)
    for outcome in results.values():
        assert outcome.ok and outcome.summary == "", outcome.detail
        assert outcome.detail.count(" ms") == 2  # a round trip for each host
    assert "127.0.0.3" in results["second"].detail and "localhost" in results["second"].detail


def test_a_round_over_at_once_still_reports_from_the_loop(pinger: tuple[Loop, Pinger]) -> None:
    loop, ping = pinger
    results: list[MonitorOutcome] = []
    ping.ping([], IcmpOptions(), results.append)  # (names that do not resolve: test_icmp.py)
    assert results == []  # never from inside ping()
    loop.run_once(max_wait=1.0)
    assert len(results) == 1 and results[0].ok
