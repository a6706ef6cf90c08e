"""Memory of a whole node, daemon by daemon: RSS, PSS, USS and locked, with `realtime` on and off.

Two nodes at keepalive 100 ms / deadtime 500 ms, no resources.  Once they
agree on the membership and have settled, /proc/<pid>/smaps_rollup of every
process in each node's namespace is read; each figure is the mean of the
two nodes.  PSS splits a shared page (the interpreter, libzmq) among every
process on the host that maps it, so a node's PSS sum counts no page twice
but depends on what else runs: measure on a quiet box.  USS is what the
process alone holds.  The "full" configuration adds the optional daemons
(stonithd with a null device, ipfail with a ping node, the web dashboard).
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from bench.common import (
    Timing,
    build,
    node_names,
    progress,
    progress_failure,
    wait_agreed,
    wait_all_active,
)
from bench.report import Table
from cluster.common.procfs import MemoryUse, memory_use
from cluster.lab import Lab, Node

_TIMING = Timing(0.1, 0.5)
_START_TIMEOUT = 120.0
_SETTLE = 3.0  # after agreement: crmd's first reports and probes are behind us
_NODE = "whole node"
_OPTIONAL = ("stonith_host * null n1 n2\n"
             "ping {vip}\n"
             "respawn hacluster /usr/lib/heartbeat/ipfail\n"
             "web 127.0.0.1:7630\n")


@dataclass(frozen=True, slots=True)
class Setup:
    label: str
    extra: str  # ha.cf lines


SETUPS = (Setup("realtime on", "realtime on\n"), Setup("realtime off", "realtime off\n"),
          Setup("realtime on, full", "realtime on\n" + _OPTIONAL))


def node_memory(node: Node) -> dict[str, MemoryUse]:
    """Every process of `node` by title (cluster-mcp's children show theirs), and the sum."""
    found: dict[str, MemoryUse] = {}
    for pid, title in node.processes().items():
        use = memory_use(pid)
        if use is not None:
            found[title.removeprefix("cluster: ")] = use
    found[_NODE] = MemoryUse(*(sum(getattr(use, name) for use in found.values())
                               for name in ("rss", "pss", "uss", "locked")))
    return found


def _mean(samples: Sequence[MemoryUse]) -> MemoryUse:
    return MemoryUse(*(round(statistics.mean(getattr(use, name) for use in samples))
                       for name in ("rss", "pss", "uss", "locked")))


def measure(setup: Setup) -> dict[str, MemoryUse]:
    """Per process title, the mean over the two nodes (a title on one node only is as it is)."""
    with Lab() as lab:
        nodes, _ = build(lab, node_names(2), _TIMING, extra=setup.extra)
        for node in nodes:
            node.start_stack()
        wait_all_active(nodes, timeout=_START_TIMEOUT)
        wait_agreed(nodes, timeout=_START_TIMEOUT)
        time.sleep(_SETTLE)
        by_title: dict[str, list[MemoryUse]] = defaultdict(list)
        for node in nodes:
            for title, use in node_memory(node).items():
                by_title[title].append(use)
        return {title: _mean(samples) for title, samples in by_title.items()}


def _mib(kib: int) -> str:
    return f"{kib / 1024:.1f}"


def table(setups: Sequence[Setup] = SETUPS) -> Table:
    made = Table("Memory per daemon (MiB)",
                 f"Two nodes at {_TIMING.label}, no resources; mean of the two nodes. "
                 "PSS splits a shared page among every process on the host mapping it "
                 "(so it depends on what else runs); USS is the process's own; Locked is "
                 "what `realtime on` keeps resident (hbcomm only, locked as touched). "
                 "\"full\" adds stonithd (null device), ipfail (a ping node) and the web "
                 "dashboard.",
                 ("configuration", "process", "RSS", "PSS", "USS", "Locked"))
    for setup in setups:
        try:
            found = measure(setup)
        except Exception as exc:
            progress_failure(f"memory with {setup.label}")
            made.add_failure(setup.label, exc)
            continue
        whole = found.pop(_NODE)
        progress(f"memory {setup.label}: node PSS {_mib(whole.pss)} MiB, "
                 f"locked {_mib(whole.locked)} MiB")
        for title, use in [*sorted(found.items()), (_NODE, whole)]:
            made.add(setup.label, title, _mib(use.rss), _mib(use.pss), _mib(use.uss),
                     _mib(use.locked))
    return made
