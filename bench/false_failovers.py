"""False failovers: nothing is broken; does the cluster act anyway?

One 2-node cluster per timing setting, all in one lab, each pair on its own
LAN and running side by side in the same window: first idle, then with one
core of the host kept busy by a busy loop (killed afterwards).  Each pair
holds one group, ``<first node> IPaddr::VIP/24/eth0``.  Counted from the
nodes' bus events in the window, where no fault is injected:

* nodes declared dead: hbcomm NodeStatusChanged to "dead", on either node;
* group (re)starts: crmd GroupStateChanged to "started" on either node (the
  group was already started when the window opened, so each one is a move or
  a restart);
* late heartbeats: hbcomm HeartbeatLate (warntime passed; a warning, not a fault);
* each false death by cause, as hbcomm's trace judged it from the timestamps
  of both ends (``cluster/hbcomm/falsedeath.py``: sender, receiver, delivery), with
  the senders' own send gaps and hbcomm's own pauses (its counters);
* the host's own stalls in the same window: a SCHED_FIFO sleeper waking
  every keepalive of the fastest setting (``bench/stalls.py``), late by
  5/10/20 ms or more: what no daemon can do better than.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial

from bench.common import (
    Timing,
    build,
    crm_status,
    node_names,
    progress,
    progress_failure,
    wait_agreed,
    wait_all_active,
)
from bench.report import Table
from bench.stalls import BOUNDS, Stalls, sleeper
from cluster.bus.client import BusError, request
from cluster.bus.messages.crmd import GroupStateChanged
from cluster.bus.messages.hbcomm import (
    CountersResult,
    GetCounters,
    HeartbeatLate,
    NodeStatusChanged,
)
from cluster.lab import Lab, Node
from cluster.lab.events import EventLog
from cluster.lab.waiting import wait_for

_START_TIMEOUT = 120.0
_SETTLE = 2.0  # after the groups started: the start's own reports are behind us
_BUSY_LOOP = "while True: pass"
LOADS = ("idle", "one core busy")
CAUSES = ("sender", "receiver", "delivery")  # cluster/hbcomm/falsedeath.py
_TRACED = (*(f"false_death_{cause}" for cause in CAUSES), "send_gaps", "pauses")


@dataclass(frozen=True, slots=True)
class Alarms:
    dead: int
    group_starts: int
    late: int
    traced: tuple[int, ...] = (0,) * len(_TRACED)  # hbcomm's counters _TRACED, in the window

    def causes(self) -> str:
        return " / ".join(str(n) for n in self.traced[:len(CAUSES)])

    def stalls(self) -> str:
        """The senders' send gaps and hbcomm's own pauses."""
        return " / ".join(str(n) for n in self.traced[len(CAUSES):])


@contextlib.contextmanager
def busy_core(busy: bool) -> Iterator[None]:
    """A busy loop in the root namespace for the duration, when `busy`."""
    if not busy:
        yield
        return
    proc = subprocess.Popen([sys.executable, "-c", _BUSY_LOOP])
    try:
        yield
    finally:
        proc.kill()
        proc.wait()


def _group_started(node: Node) -> bool:
    status = crm_status(node)
    return status is not None and bool(status.resources) \
        and all(r.state == "started" for r in status.resources)


def _traced(nodes: Sequence[Node]) -> tuple[int, ...]:
    """hbcomm's trace counters, summed over `nodes` (a node that does not answer adds 0)."""
    totals = [0] * len(_TRACED)
    for node in nodes:
        try:
            reply = request(node.run_dir, "hbcomm", GetCounters(), timeout=2.0)
        except BusError:
            continue
        if isinstance(reply, CountersResult):
            for index, name in enumerate(_TRACED):
                totals[index] += reply.counters.get(name, 0)
    return tuple(totals)


def _count(logs: Sequence[EventLog], before: tuple[int, ...], after: tuple[int, ...]) -> Alarms:
    msgs = [event.msg for log in logs for event in log.events()]
    return Alarms(
        dead=sum(isinstance(m, NodeStatusChanged) and m.status == "dead" for m in msgs),
        group_starts=sum(isinstance(m, GroupStateChanged) and m.state == "started"
                         for m in msgs),
        late=sum(isinstance(m, HeartbeatLate) for m in msgs),
        traced=tuple(b - a for a, b in zip(before, after, strict=True)),
    )


def _watch(pairs: Sequence[Sequence[Node]], window: float, busy: bool, period: float
           ) -> tuple[list[Alarms], Stalls]:
    """Events of every pair during one window, and the host's stalls meanwhile."""
    with contextlib.ExitStack() as stack:
        logs = [[stack.enter_context(log) for node in pair for log in (
                    EventLog(node.run_dir, "hbcomm", ["node", "late"]),
                    EventLog(node.run_dir, "crmd", ["group"]))]
                for pair in pairs]
        before = [_traced(pair) for pair in pairs]
        with busy_core(busy), sleeper(window, period) as stalls:
            time.sleep(window)  # the observation window
        after = [_traced(pair) for pair in pairs]
        return ([_count(pair_logs, b, a) for pair_logs, b, a in zip(logs, before, after,
                                                                     strict=True)],
                stalls[0])


def measure(settings: Sequence[Timing], window: float
            ) -> tuple[dict[tuple[Timing, str], Alarms], dict[str, Stalls]]:
    """Alarms per (setting, load), every setting's pair running at once, and the
    host's stalls per load."""
    with Lab() as lab:
        pairs = []
        for index, timing in enumerate(settings, start=1):
            names = node_names(2, prefix=f"s{index}n")
            nodes, _ = build(lab, names, timing, lan_name=f"hb{index}",
                             haresources=f"{names[0]} IPaddr::{{vip}}/24/eth0\n")
            pairs.append(nodes)
        for node in (node for pair in pairs for node in pair):
            node.start_stack()
        for pair in pairs:
            wait_all_active(pair, timeout=_START_TIMEOUT)
            wait_agreed(pair, timeout=_START_TIMEOUT)
            wait_for(partial(_group_started, pair[0]), _START_TIMEOUT,
                     message=f"{pair[0].name}'s group never started")
        time.sleep(_SETTLE)
        result: dict[tuple[Timing, str], Alarms] = {}
        host: dict[str, Stalls] = {}
        period = min(timing.keepalive for timing in settings)
        for load in LOADS:
            progress(f"false failovers: {window:g} s window, {load}")
            counts, host[load] = _watch(pairs, window, busy=load != "idle", period=period)
            result.update({(timing, load): alarms
                           for timing, alarms in zip(settings, counts, strict=True)})
        return result, host


def table(settings: Sequence[Timing], minutes: float) -> Table:
    made = Table(f"False failovers in {minutes:g} min with no fault injected",
                 f"One 2-node cluster per setting holding `IPaddr::VIP`; the {len(settings)} "
                 "clusters ran concurrently in the same window, first idle, then with one "
                 "core of the host kept busy by a busy loop. Nodes declared dead by hbcomm "
                 "and group (re)starts are false failovers; late heartbeats (warntime) are "
                 "warnings. Each false death's cause is hbcomm's trace of both ends' "
                 "timestamps (sender: nothing sent in a deadtime reached the peer; receiver: "
                 "the judging hbcomm ran late; delivery: sent in time, judged on time, "
                 "arrived late). Send gaps: heartbeats sent half a deadtime or more after "
                 "the previous one; pauses: hbcomm's own timer late. Host stalls: a "
                 "SCHED_FIFO sleeper waking every "
                 f"{min(t.keepalive for t in settings) * 1000:g} ms in the same window, "
                 "wake-ups late by at least "
                 + "/".join(f"{b * 1000:g}" for b in BOUNDS) + " ms.",
                 ("keepalive / deadtime", "load", "nodes declared dead", "group (re)starts",
                  "late heartbeats", "false deaths: sender / receiver / delivery",
                  "send gaps / pauses", "host stalls"))
    try:
        result, host = measure(settings, minutes * 60)
    except Exception as exc:
        progress_failure("false failovers")
        made.add_failure("all", exc)
        return made
    for timing in settings:
        for load in LOADS:
            alarms = result[timing, load]
            made.add(timing.label, load, str(alarms.dead), str(alarms.group_starts),
                     str(alarms.late), alarms.causes(), alarms.stalls(), host[load].summary())
    return made
