"""hbcomm's read batching: only from a handful of nodes on, never longer than
a quarter keepalive or 25 ms."""

from __future__ import annotations

import pytest

from cluster.hbcomm.service import read_batch_interval


@pytest.mark.parametrize("nodes", [1, 2, 4])
def test_a_few_nodes_read_every_datagram_at_once(nodes: int) -> None:
    assert read_batch_interval(0.01, nodes) == 0.0
    assert read_batch_interval(1.0, nodes) == 0.0


@pytest.mark.parametrize(("keepalive", "nodes", "interval"), [
    (0.01, 5, 0.0025),  # a quarter keepalive: far inside any deadtime
    (0.1, 32, 0.025),  # a quarter keepalive
    (2.0, 64, 0.025),  # the ceiling: messages wait at most 25 ms
])
def test_many_nodes_batch_for_a_quarter_keepalive_at_most_25_ms(
        keepalive: float, nodes: int, interval: float) -> None:
    assert read_batch_interval(keepalive, nodes) == pytest.approx(interval)
