"""Messages of ipfail: ping-node counts exchanged between nodes.

Cross-node only: each ipfail broadcasts PingCount through hbcomm as a
cluster message of type ``ipfail`` whenever its count changes and every few
seconds, so a restarted peer learns it without asking.
"""

from __future__ import annotations

from dataclasses import dataclass

from cluster.bus.catalogue import message

MTYPE = "ipfail"


@message
@dataclass(frozen=True, slots=True)
class PingCount:
    """`node` reaches `count` of the `total` configured ping nodes."""

    node: str
    count: int
    total: int
