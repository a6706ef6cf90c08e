"""Membership convergence: how long until every node agrees after a join or a leave.

N nodes n1..nN on one LAN, keepalive 100 ms / deadtime 500 ms, no resources.
n1..n(N-1) start together and agree on themselves; then each run

* join: nN's stack starts → every node's ccm has a formed view of all N;
* leave: nN is powered off → every survivor's ccm has a view of the N-1;

and nN is powered on again for the next run.  The survivors' times come from
their ccm ``view`` events (EventLog, subscribed before the step); the
joiner's own view is polled with GetView every 10 ms, as it has no socket to
subscribe to before it starts.  A run's time is the last node's.

A join is also timed from the joiner's first heartbeat (the first survivor
hbcomm ``node`` event naming it, of a few survivors watched): that is the
protocol's share, without the start of its Python processes, which on a
2-core box busy with N stacks is most of the join.  The stack's CPU per node
is read over a short idle window once the N-1 agree.  From 32 nodes on, a
quarter of the runs (at least 3) keep the whole bench near its budget.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench.common import (
    Timing,
    build,
    ccm_view,
    has_members,
    node_names,
    progress,
    progress_failure,
    start_timeout,
    wait_agreed,
)
from bench.idle import cpu_table, cpu_used
from bench.report import Table, stat_cells
from bench.stats import Stats, ms
from cluster.bus.messages.ccm import ViewChanged
from cluster.bus.messages.hbcomm import NodeStatusChanged
from cluster.lab import Lab, Node
from cluster.lab.events import EventLog
from cluster.lab.waiting import wait_for

TIMING = Timing(0.1, 0.5)
_SETTLE = 1.0  # pause before each step, so the previous one's traffic is behind us
_POLL = 0.01
_CPU_WINDOW = 5.0
_HEARD_BY = 3  # survivors whose hbcomm events time the joiner's first heartbeat
_BIG = 32  # from this size on, fewer runs


def runs_for(size: int, runs: int) -> int:
    return runs if size < _BIG else max(3, runs // 4)


@dataclass(frozen=True, slots=True)
class Convergence:
    joins: list[float]
    joins_from_heard: list[float]  # from the joiner's first heartbeat heard
    leaves: list[float]
    cpu_percent: float  # stack CPU per node, N-1 idle nodes


def _agreed_at(logs: Sequence[EventLog], members: Sequence[str], since: float,
               timeout: float) -> float:
    """When the last of `logs` published a formed view of exactly `members`."""
    return max(log.wait_for(lambda e: isinstance(e.msg, ViewChanged)
                            and has_members(e.msg, members),
                            timeout, message=f"a view of {len(members)} members",
                            since=since).at
               for log in logs)


def _first_heard(logs: Sequence[EventLog], node: str, since: float, timeout: float) -> float:
    """When the first of `logs` (hbcomm ``node`` events) saw `node` up."""
    return min(log.wait_for(lambda e: isinstance(e.msg, NodeStatusChanged) and e.msg.node == node
                            and e.msg.status in ("up", "active"), timeout,
                            message=f"{node} heard", since=since).at
               for log in logs)


def _step(survivors: Sequence[Node], node: Node, join: bool,
          timeout: float) -> tuple[float, float]:
    """One join or leave of `node`: seconds until everyone agrees, from the step
    and (a join) from the first survivor hearing `node`."""
    members = [n.name for n in survivors] + ([node.name] if join else [])
    time.sleep(_SETTLE)
    with contextlib.ExitStack() as stack:
        logs = [stack.enter_context(EventLog(n.run_dir, "ccm", ["view"])) for n in survivors]
        heard = [stack.enter_context(EventLog(n.run_dir, "hbcomm", ["node"]))
                 for n in survivors[:_HEARD_BY]] if join else []
        start = time.monotonic()
        if join:
            node.start_stack()
            wait_for(lambda: has_members(ccm_view(node), members), timeout, interval=_POLL,
                     message=f"{node.name} never saw all {len(members)} members")
            last = time.monotonic()
        else:
            node.power_off()
            last = start
        agreed = max(last, _agreed_at(logs, members, start, timeout))
        first = _first_heard(heard, node.name, start, timeout) if join else start
        return agreed - start, agreed - first


def measure(size: int, runs: int) -> Convergence:
    """Join and leave times of the N-th node, `runs` of each."""
    timeout = start_timeout(size)
    joins: list[float] = []
    from_heard: list[float] = []
    leaves: list[float] = []
    with Lab() as lab:
        nodes, _ = build(lab, node_names(size), TIMING)
        *survivors, mover = nodes
        for node in survivors:
            node.start_stack()
        wait_agreed(survivors, timeout)
        time.sleep(_SETTLE)
        before = [cpu_table(node) for node in survivors]
        time.sleep(_CPU_WINDOW)  # the CPU window
        after = [cpu_table(node) for node in survivors]
        cpu = statistics.mean(cpu_used(b, a) for b, a in zip(before, after, strict=True))
        for run in range(runs):
            joined, protocol = _step(survivors, mover, join=True, timeout=timeout)
            joins.append(joined)
            from_heard.append(protocol)
            leaves.append(_step(survivors, mover, join=False, timeout=timeout)[0])
            progress(f"membership {size} nodes: run {run + 1}/{runs} join {ms(joins[-1])} "
                     f"(from first heard {ms(protocol)}) leave {ms(leaves[-1])}")
            mover.power_on()
    return Convergence(joins, from_heard, leaves, cpu / _CPU_WINDOW * 100)


def table(sizes: Sequence[int], runs: int) -> Table:
    made = Table(f"Membership convergence (keepalive / deadtime {TIMING.label})",
                 "Join: the N-th node's stack starts (with N-1 running and agreed) until every "
                 "node's ccm has a view of all N, stack start-up included; from heard: from "
                 "the first survivor hearing its first heartbeat (the protocol's share). "
                 "Leave: the N-th node "
                 "is powered off until every survivor's ccm has a view of the N-1; beyond "
                 "deadtime: the leave median minus deadtime (the dead node's last heartbeat "
                 "left up to one keepalive before the power-off). Stack CPU: every process of "
                 f"a node, N-1 idle nodes, % of one core. No resources; from {_BIG} nodes on "
                 "fewer runs.",
                 ("nodes", "join median", "join p90", "join max", "join from heard median",
                  "leave median", "leave p90", "leave max", "leave beyond deadtime",
                  "stack CPU (%)", "n"))
    for size in sizes:
        try:
            result = measure(size, runs_for(size, runs))
        except Exception as exc:
            progress_failure(f"membership with {size} nodes")
            made.add_failure(str(size), exc)
            continue
        join, leave = stat_cells(result.joins)[:3], stat_cells(result.leaves)[:3]
        beyond = ms(Stats.of(result.leaves).median - TIMING.deadtime)
        made.add(str(size), *join, ms(Stats.of(result.joins_from_heard).median), *leave,
                 beyond, f"{result.cpu_percent:.2f}", str(len(result.joins)))
    return made
