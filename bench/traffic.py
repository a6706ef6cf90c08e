"""Idle traffic by cluster size: packets each node sends per second, per kind, and how that grows.

N nodes n1..nN on one LAN at keepalive 100 ms / deadtime 500 ms, no
resources, all started together.  Once every node agrees on all N and
after a settle, hbcomm's own counters (GetCounters: ``sent_<type>`` per
packet type, ``sent_msg.<mtype>`` per daemon's messages, ``received_<type>``)
and the CPU time of every process of every node are read; the cluster
idles for the window and they are read again.  A packet is counted once
however many media carry it.  Growth is the least-squares slope of
log(cluster-wide sent per second) over log(N): 1 means each node sends the
same whatever the size (heartbeats), 2 means every node sends something per
peer.

What each node *receives* grows with its N-1 peers whatever we do: every
heartbeat is broadcast to everyone, so cluster-wide receptions grow as N²,
and so does the CPU of hearing them.  At 100 ms keepalive 32 nodes hear
~10,000 heartbeats per second in all, which with the per-packet cost of a
Python hbcomm (event-loop wake-up and syscalls included, about 80 µs) is most
of a 2-core box; 64 nodes need a longer keepalive on such a box.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.common import (
    Timing,
    build,
    hbcomm_counters,
    node_names,
    progress,
    progress_failure,
    start_timeout,
    wait_agreed,
)
from bench.idle import cpu_table, cpu_used
from bench.report import Table
from cluster.lab import Lab

TIMING = Timing(0.1, 0.5)
_SETTLE = 6.0  # past crmd's first report refresh after agreement (5 s)
_SENT = "sent_"


@dataclass(frozen=True, slots=True)
class Traffic:
    size: int
    sent: dict[str, float]  # kind -> packets per second, mean per node
    sent_total: float  # every packet type, per node per second
    received: float  # every kind, per node per second
    per_pass: float  # datagrams hbcomm reads per wake-up, mean per node
    cpu_percent: float  # whole stack, mean per node


def rates(before: Mapping[str, int], after: Mapping[str, int], seconds: float,
          prefix: str) -> dict[str, float]:
    """Per second, for every counter starting with `prefix` (prefix removed)."""
    return {name.removeprefix(prefix): (after[name] - before.get(name, 0)) / seconds
            for name in after if name.startswith(prefix)}


def growth(sizes: Sequence[int], values: Sequence[float]) -> float | None:
    """Least-squares exponent k of values ~ N^k over the sizes with a nonzero value."""
    points = [(math.log(n), math.log(v)) for n, v in zip(sizes, values, strict=True) if v > 0]
    if len(points) < 2:
        return None
    mean_x = statistics.mean(x for x, _ in points)
    mean_y = statistics.mean(y for _, y in points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def _per_pass(before: Mapping[str, int], after: Mapping[str, int]) -> float:
    """Datagrams hbcomm read per wake-up that read its media (its batching)."""
    passes = after.get("read_passes", 0) - before.get("read_passes", 0)
    return (after.get("received", 0) - before.get("received", 0)) / passes if passes else 0.0


def measure(size: int, window: float) -> Traffic:
    timeout = start_timeout(size)
    with Lab() as lab:
        nodes, _ = build(lab, node_names(size), TIMING)
        for node in nodes:
            node.start_stack()
        wait_agreed(nodes, timeout)
        time.sleep(_SETTLE)
        counters_before = [hbcomm_counters(node) for node in nodes]
        cpu_before = [cpu_table(node) for node in nodes]
        time.sleep(window)  # the measurement window
        counters_after = [hbcomm_counters(node) for node in nodes]
        cpu_after = [cpu_table(node) for node in nodes]
    per_node = [rates(b, a, window, _SENT)
                for b, a in zip(counters_before, counters_after, strict=True)]
    kinds = sorted({kind for sent in per_node for kind in sent})
    received = [sum(rates(b, a, window, "received_").values())
                for b, a in zip(counters_before, counters_after, strict=True)]
    per_pass = [_per_pass(b, a) for b, a in zip(counters_before, counters_after, strict=True)]
    return Traffic(
        size=size,
        sent={kind: statistics.mean(sent.get(kind, 0.0) for sent in per_node) for kind in kinds},
        sent_total=statistics.mean(sum(v for kind, v in sent.items() if "." not in kind)
                                   for sent in per_node),
        received=statistics.mean(received),
        per_pass=statistics.mean(per_pass),
        cpu_percent=statistics.mean(cpu_used(b, a) for b, a in
                                    zip(cpu_before, cpu_after, strict=True)) / window * 100,
    )


def table(sizes: Sequence[int], window: float) -> Table:
    measured: list[Traffic] = []
    failed: list[tuple[int, Exception]] = []
    for size in sizes:
        try:
            result = measure(size, window)
        except Exception as exc:
            progress_failure(f"traffic with {size} nodes")
            failed.append((size, exc))
            continue
        progress(f"traffic {size} nodes: sent {result.sent_total:.1f}/s per node, "
                 f"received {result.received:.1f}/s, stack CPU {result.cpu_percent:.2f} %")
        measured.append(result)
    made = Table(f"Idle traffic by cluster size (keepalive / deadtime {TIMING.label})",
                 f"Packets one node sends per second (mean over the nodes, {window:g} s window "
                 "after agreement, no resources), by kind; msg.X: the messages of daemon X. "
                 "Growth: k in cluster-wide sent ~ N^k (1: constant per node). "
                 "Received: every kind, per node; read per wake-up: datagrams hbcomm "
                 "reads each time it reads its media (it batches from 5 nodes on). "
                 "Stack CPU: every process of a node, % of one core, mean per node.",
                 ("kind", *(f"{t.size} nodes" for t in measured), "growth"))
    for size, error in failed:
        made.add_failure(f"{size} nodes", error)
    if not measured:
        return made
    ns = [t.size for t in measured]

    def row(label: str, values: list[float], fit: bool = True) -> None:
        k = growth(ns, [v * n for v, n in zip(values, ns, strict=True)]) if fit else None
        made.add(label, *(f"{v:.2f}" for v in values), "" if k is None else f"N^{k:.2f}")

    for kind in sorted({kind for t in measured for kind in t.sent}):
        row(kind, [t.sent.get(kind, 0.0) for t in measured])
    row("all sent", [t.sent_total for t in measured])
    row("received", [t.received for t in measured])
    row("read per wake-up", [t.per_pass for t in measured], fit=False)
    row("stack CPU (%)", [t.cpu_percent for t in measured], fit=False)
    return made
