"""Membership convergence: how long until every node agrees after a join or a leave.

N nodes n1..nN on one LAN, keepalive 100 ms / deadtime 500 ms, no resources.
n1..n(N-1) start together and agree on themselves; then each run

* join: nN's stack starts → every node's ccm has a formed view of all N;
* leave: nN is powered off → every survivor's ccm has a view of the N-1;

and nN is powered on again for the next run.  The survivors' times come from
their ccm ``view`` events (EventLog, subscribed before the step); the
joiner's own view is polled with GetView every 10 ms, as it has no socket to
subscribe to before it starts.  A run's time is the last node's.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence

from bench.common import (
    Timing,
    build,
    ccm_view,
    has_members,
    node_names,
    progress,
    progress_failure,
    wait_agreed,
)
from bench.report import Table, stat_cells
from bench.stats import Stats, ms
from cluster.bus.messages.ccm import ViewChanged
from cluster.lab import Lab, Node
from cluster.lab.events import EventLog
from cluster.lab.waiting import wait_for

TIMING = Timing(0.1, 0.5)
_SETTLE = 1.0  # pause before each step, so the previous one's traffic is behind us
_POLL = 0.01


def _start_timeout(size: int) -> float:
    """Generous: N-1 stacks of ~4 Python processes starting at once on 2 cores."""
    return 120.0 + 10.0 * size


def _agreed_at(logs: Sequence[EventLog], members: Sequence[str], since: float,
               timeout: float) -> float:
    """When the last of `logs` published a formed view of exactly `members`."""
    return max(log.wait_for(lambda e: isinstance(e.msg, ViewChanged)
                            and has_members(e.msg, members),
                            timeout, message=f"a view of {len(members)} members",
                            since=since).at
               for log in logs)


def _step(survivors: Sequence[Node], node: Node, join: bool, timeout: float) -> float:
    """One join or leave of `node`: seconds until everyone agrees."""
    members = [n.name for n in survivors] + ([node.name] if join else [])
    time.sleep(_SETTLE)
    with contextlib.ExitStack() as stack:
        logs = [stack.enter_context(EventLog(n.run_dir, "ccm", ["view"])) for n in survivors]
        start = time.monotonic()
        if join:
            node.start_stack()
            wait_for(lambda: has_members(ccm_view(node), members), timeout, interval=_POLL,
                     message=f"{node.name} never saw all {len(members)} members")
            last = time.monotonic()
        else:
            node.power_off()
            last = start
        return max(last, _agreed_at(logs, members, start, timeout)) - start


def measure(size: int, runs: int) -> tuple[list[float], list[float]]:
    """Join and leave times of the N-th node, `runs` of each."""
    timeout = _start_timeout(size)
    joins: list[float] = []
    leaves: list[float] = []
    with Lab() as lab:
        nodes, _ = build(lab, node_names(size), TIMING)
        *survivors, mover = nodes
        for node in survivors:
            node.start_stack()
        wait_agreed(survivors, timeout)
        for run in range(runs):
            joins.append(_step(survivors, mover, join=True, timeout=timeout))
            leaves.append(_step(survivors, mover, join=False, timeout=timeout))
            progress(f"membership {size} nodes: run {run + 1}/{runs} join {ms(joins[-1])} "
                     f"leave {ms(leaves[-1])}")
            mover.power_on()
    return joins, leaves


def table(sizes: Sequence[int], runs: int) -> Table:
    made = Table(f"Membership convergence (keepalive / deadtime {TIMING.label})",
                 "Join: the N-th node's stack starts (with N-1 running and agreed) until every "
                 "node's ccm has a view of all N, stack start-up included. Leave: the N-th node "
                 "is powered off until every survivor's ccm has a view of the N-1; beyond "
                 "deadtime: the leave median minus deadtime (the dead node's last heartbeat "
                 "left up to one keepalive before the power-off). No resources.",
                 ("nodes", "join median", "join p90", "join max", "leave median", "leave p90",
                  "leave max", "leave beyond deadtime", "n"))
    for size in sizes:
        try:
            joins, leaves = measure(size, runs)
        except Exception as exc:
            progress_failure(f"membership with {size} nodes")
            made.add_failure(str(size), exc)
            continue
        join, leave = stat_cells(joins)[:3], stat_cells(leaves)[:3]
        beyond = ms(Stats.of(leaves).median - TIMING.deadtime)
        made.add(str(size), *join, *leave, beyond, str(len(joins)))
    return made
