"""The failover share step by step: node2's trace (`cluster.common.trace`) → time per step.

Pure: one run's trace records and the client's first answer in, the time
spent reaching each step from the one before out.  The steps are those of
docs/flows.md section 3, in the order they happen on the surviving node;
each is the first record of its name at or after the step before (crmd
evaluates many times; only the one after the view counts).  A step absent
from the trace (an address already present: no add)
is left out and its time goes to the next one found.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence

from bench.report import Table
from bench.stats import ms
from cluster.common.trace import Record

#: (trace step, what the time up to it covers), in path order.
STEPS: tuple[tuple[str, str], ...] = (
    ("hbcomm.dead", "hbcomm: death decided"),
    ("hbcomm.publish", "hbcomm: logged, publishing NodeStatusChanged"),
    ("ccm.event", "bus hop hbcomm → ccm"),
    ("ccm.view", "ccm: new view decided (and persisted when due), publishing"),
    ("crmd.view", "bus hop ccm → crmd"),
    ("crmd.evaluate", "crmd: view applied, evaluation scheduled"),
    ("crmd.decided", "crmd: policy decided"),
    ("crmd.order", "crmd: dispatch (fencing check, logging)"),
    ("crmd.op", "crmd: group transition → start operation"),
    ("ipaddr.added", "executor + IPaddr: netlink address add"),
    ("arp.sent", "IPaddr: first gratuitous ARP sent"),
)
SERVED = ("client.served", "client's first answer from node2")
ARP = "arp.sent"


def breakdown(records: Iterable[Record], served: float) -> list[tuple[str, float]]:
    """(step, seconds since the previous step found) for one run, ending with the
    client's answer; empty when the trace has no death decision."""
    ordered = sorted(records, key=lambda r: r.at)
    found: list[tuple[str, float]] = []
    at: float | None = None
    for step, _ in STEPS:
        hit = next((r.at for r in ordered if r.step == step and (at is None or r.at >= at)),
                   None)
        if hit is None:
            if at is None:
                return []
            continue
        found.append((step, 0.0 if at is None else hit - at))
        at = hit
    assert at is not None
    found.append((SERVED[0], served - at))
    return found


def table(runs_by_setting: Mapping[str, Sequence[list[tuple[str, float]]]]) -> Table:
    """Median per step over the runs of each setting (a column each), then the
    stack's share (death decided → first gratuitous ARP) and the total."""
    labels = list(runs_by_setting)
    result = Table("Failover share, step by step on node2: death decided → client served",
                   "Median time of each step from the step before, over the runs that "
                   "reached it (`python3 -m bench.failover --address-only --trace`; "
                   "CLOCK_MONOTONIC marks from hbcomm, ccm and crmd in one file). The "
                   "client's part includes waiting for its next request (one every 10 ms).",
                   ("step", "what", *labels))

    def cell(values: list[float]) -> str:
        return ms(statistics.median(values)) if values else "-"

    for step, what in (*STEPS[1:], SERVED):
        result.add(step, what, *(cell([delta for run in runs for name, delta in run
                                       if name == step])
                                 for runs in runs_by_setting.values()))
    result.add("stack", "death decided → first gratuitous ARP sent",
               *(cell([_until(run, ARP) for run in runs if any(n == ARP for n, _ in run)])
                 for runs in runs_by_setting.values()))
    result.add("total", "death decided → client served",
               *(cell([sum(delta for _, delta in run) for run in runs if run])
                 for runs in runs_by_setting.values()))
    return result


def _until(run: list[tuple[str, float]], step: str) -> float:
    total = 0.0
    for name, delta in run:
        total += delta
        if name == step:
            break
    return total
