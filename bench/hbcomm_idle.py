"""Idle CPU and memory of hbcomm: keepalive 1 s and 100 ms, 2 and 8 nodes.

    python3 -m bench.hbcomm_idle [--window SECONDS]

Runs each cluster in network namespaces, lets it idle for the window, and
prints hbcomm's CPU use (percent of one core, averaged over the nodes) and
PSS memory per node.
"""

from __future__ import annotations

import argparse
import statistics

from bench.common import build, cpu_seconds, daemon_pid, pss_kib, settle, wait_all_active
from cluster.lab import Lab


def measure(count: int, keepalive: float, window: float) -> tuple[float, float]:
    with Lab() as lab:
        nodes, _ = build(lab, count, keepalive, max(3 * keepalive, 0.5) * 5)
        for node in nodes:
            node.start_stack()
        wait_all_active(nodes, timeout=60)
        pids = [daemon_pid(node, "cluster: hbcomm") for node in nodes]
        before = [cpu_seconds(pid) for pid in pids]
        settle(window)
        after = [cpu_seconds(pid) for pid in pids]
        cpu = statistics.mean((a - b) / window * 100 for a, b in zip(after, before, strict=True))
        pss = statistics.mean(pss_kib(pid) for pid in pids) / 1024
        return cpu, pss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--window", type=float, default=20.0)
    args = parser.parse_args()
    print("| nodes | keepalive | hbcomm CPU (% of a core, per node) | hbcomm PSS (MiB) |")
    print("|---|---|---|---|")
    for count in (2, 8):
        for keepalive in (1.0, 0.1):
            cpu, pss = measure(count, keepalive, args.window)
            print(f"| {count} | {keepalive * 1000:.0f} ms | {cpu:.2f} | {pss:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
