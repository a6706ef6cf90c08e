"""hbcomm's read batching: only from a handful of nodes on, never longer than
half a keepalive or 50 ms, and shorter in proportion below 32 nodes."""

from __future__ import annotations

import pytest

from cluster.hbcomm.service import read_batch_interval


@pytest.mark.parametrize("nodes", [1, 2, 4])
def test_a_few_nodes_read_every_datagram_at_once(nodes: int) -> None:
    assert read_batch_interval(0.01, nodes) == 0.0
    assert read_batch_interval(1.0, nodes) == 0.0


@pytest.mark.parametrize(("keepalive", "nodes", "interval"), [
    (0.01, 32, 0.005),  # half a keepalive: inside any deadtime
    (0.1, 32, 0.050),  # half a keepalive
    (0.1, 16, 0.025),  # fewer nodes, sparser input: shorter batches
    (0.1, 8, 0.0125),
    (2.0, 64, 0.050),  # the ceiling: messages wait at most 50 ms
])
def test_many_nodes_batch_for_up_to_half_a_keepalive_at_most_50_ms(
        keepalive: float, nodes: int, interval: float) -> None:
    assert read_batch_interval(keepalive, nodes) == pytest.approx(interval)
