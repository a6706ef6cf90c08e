"""Idle cost of a whole node: CPU (% of one core) and memory (PSS) of every process in it.

Two nodes, no resources, the daemons cluster-mcp starts for a plain ha.cf.
Once both see each other active and agree on the membership, and after a
short settle, the CPU time of every process in each node's namespace is read
from /proc; the cluster idles for the window and it is read again.  A
process's CPU time includes its children reaped in the window (cutime,
cstime), so short-lived helpers count too.  PSS is summed at the end of the
window: a shared page is split between the processes sharing it, so sums
never count a page twice.  hbcomm's own share is reported beside the node's
(it was `bench.hbcomm_idle`).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench.common import (
    Timing,
    build,
    daemon_pid,
    node_names,
    progress,
    progress_failure,
    wait_agreed,
    wait_all_active,
)
from bench.report import Table
from cluster.common.procfs import memory_use
from cluster.lab import Lab, Node
from cluster.lab.netns import cpu_seconds

_START_TIMEOUT = 120.0
_SETTLE = 2.0  # after agreement: crmd's first reports and probes are behind us
_HBCOMM = "cluster: hbcomm"


@dataclass(frozen=True, slots=True)
class IdleCost:
    cpu_percent: float         # whole node, mean over the nodes
    pss_mib: float
    hbcomm_cpu_percent: float  # hbcomm alone, mean over the nodes
    hbcomm_pss_mib: float
    processes: tuple[str, ...]  # process titles of one node


def pss_kib(pid: int) -> int:
    """Proportional set size; 0 if the process is gone."""
    use = memory_use(pid)
    return 0 if use is None else use.pss


def cpu_table(node: Node) -> dict[int, float]:
    return {pid: cpu for pid in node.pids() if (cpu := cpu_seconds(pid)) is not None}


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used in between; a process born in the window counts whole."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def measure(timing: Timing, window: float) -> IdleCost:
    with Lab() as lab:
        nodes, _ = build(lab, node_names(2), timing)
        for node in nodes:
            node.start_stack()
        wait_all_active(nodes, timeout=_START_TIMEOUT)
        wait_agreed(nodes, timeout=_START_TIMEOUT)
        time.sleep(_SETTLE)
        hbcomm = [daemon_pid(node, _HBCOMM) for node in nodes]
        before = [cpu_table(node) for node in nodes]
        time.sleep(window)  # the measurement window
        after = [cpu_table(node) for node in nodes]
        pss = [sum(pss_kib(pid) for pid in table) / 1024 for table in after]
        hb_cpu = [a.get(pid, 0.0) - b.get(pid, 0.0)
                  for pid, a, b in zip(hbcomm, after, before, strict=True)]
        return IdleCost(
            cpu_percent=statistics.mean(cpu_used(b, a) for b, a in zip(before, after, strict=True))
            / window * 100,
            pss_mib=statistics.mean(pss),
            hbcomm_cpu_percent=statistics.mean(hb_cpu) / window * 100,
            hbcomm_pss_mib=statistics.mean(pss_kib(pid) for pid in hbcomm) / 1024,
            processes=tuple(sorted(title.removeprefix("cluster: ")
                                   for title in nodes[0].processes().values())),
        )


def table(settings: Sequence[Timing], window: float) -> Table:
    made = Table("Idle cost per node (whole node: cluster-mcp and every daemon)",
                 f"Two nodes, no resources, {window:g} s window; mean of the two nodes. "
                 "PSS splits a shared page among every process on the host that maps it, "
                 "so it shrinks as more Python processes run; per daemon in the memory "
                 "table.",
                 ("keepalive / deadtime", "CPU (% of one core)", "PSS (MiB)",
                  "hbcomm CPU (%)", "hbcomm PSS (MiB)"))
    processes: tuple[str, ...] = ()
    for timing in settings:
        try:
            cost = measure(timing, window)
        except Exception as exc:
            progress_failure(f"idle cost at {timing.label}")
            made.add_failure(timing.label, exc)
            continue
        processes = cost.processes
        progress(f"idle {timing.label}: node {cost.cpu_percent:.2f} % {cost.pss_mib:.1f} MiB, "
                 f"hbcomm {cost.hbcomm_cpu_percent:.2f} % {cost.hbcomm_pss_mib:.1f} MiB")
        made.add(timing.label, f"{cost.cpu_percent:.2f}", f"{cost.pss_mib:.1f}",
                 f"{cost.hbcomm_cpu_percent:.2f}", f"{cost.hbcomm_pss_mib:.1f}")
    if processes:
        made.note += f" Processes per node: {', '.join(processes)}."
    return made
