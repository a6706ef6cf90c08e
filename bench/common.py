"""Shared pieces of the benchmarks: process accounting, statistics, cluster setup."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from cluster.bus.client import request
from cluster.bus.messages.hbcomm import GetNodes, NodesResult
from cluster.lab import Lab, Lan, Node
from cluster.lab.waiting import wait_for

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def pss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def summary(values: Sequence[float], unit: str = "ms", scale: float = 1000.0) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return (f"median {statistics.median(ordered) * scale:.1f} {unit}, "
            f"p90 {p90 * scale:.1f} {unit}, min {ordered[0] * scale:.1f} {unit}, "
            f"max {ordered[-1] * scale:.1f} {unit}, stdev "
            f"{(statistics.pstdev(ordered) * scale):.1f} {unit} (n={len(ordered)})")


def ha_cf(nodes: Sequence[str], keepalive: float, deadtime: float, media: str = "bcast eth0",
          extra: str = "") -> str:
    initdead = max(deadtime, 1.0)
    return (f"keepalive {round(keepalive * 1000)}ms\ndeadtime {round(deadtime * 1000)}ms\n"
            f"warntime {round(deadtime * 500)}ms\ninitdead {round(initdead * 1000)}ms\n"
            f"auto_failback off\n{media}\nnode {' '.join(nodes)}\n{extra}")


def nodes_view(node: Node) -> NodesResult | None:
    try:
        reply = request(node.run_dir, "hbcomm", GetNodes(), timeout=1.0)
    except Exception:
        return None
    return reply if isinstance(reply, NodesResult) else None


def wait_all_active(nodes: Sequence[Node], timeout: float = 30.0) -> None:
    for node in nodes:
        wait_for(lambda n=node: (r := nodes_view(n)) is not None and r.comm_up
                 and all(x.status == "active" for x in r.nodes if x.type == "normal"),
                 timeout=timeout, message=f"{node.name} never saw every node active")


def build(lab: Lab, count: int, keepalive: float, deadtime: float,
          haresources: str | None = None, files: dict[str, str] | None = None,
          extra: str = "") -> tuple[list[Node], Lan]:
    lan = lab.add_lan("hb")
    names = [f"n{i + 1}" for i in range(count)]
    nodes = [lab.add_node(name, [lan]) for name in names]
    for node in nodes:
        node.write_config(ha_cf=ha_cf(names, keepalive, deadtime, extra=extra),
                          haresources=haresources, files=files or {})
    return nodes, lan


def daemon_pid(node: Node, title: str) -> int:
    for pid, line in node.processes().items():
        if line == title:
            return pid
    raise LookupError(f"{title} not running on {node.name}")


def settle(seconds: float) -> None:
    """Let an idle cluster run: the measurement window of an idle benchmark."""
    time.sleep(seconds)
