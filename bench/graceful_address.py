"""The client gap of a graceful handover, and the stack's own share of it.

    python3 -m bench.graceful_address [--runs 20] [--keepalive 0.1] [--deadtime 0.5]
                                      [--how standby|sigterm] [--with-httpd]

The site of bench/failover.py.  By default the address alone
(``node1 IPaddr::VIP/24/eth1``, the web server running on both nodes outside
the cluster); with ``--with-httpd`` the group ``node1 IPaddr::VIP/24/eth1
httpd``.  ``auto_failback on``; the client makes a new request to the VIP
every 10 ms.  Each run moves the group away from node1 gracefully, by
``hb_standby all`` on node1 or by SIGTERM to node1's cluster-mcp, and records
the client gap: from the last answer node1 gave to the first node2 gave.  With
the web server in the group, the service's own stop (node1) and start (node2)
durations, as crmd's executor logged them, are subtracted to give the stack's
share.  node1 then takes the group back (``hb_takeover all``, or its stack
restarted and auto_failback).
"""

from __future__ import annotations

import enum
import re
import signal
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bench.common import Timing, progress_failure, setting_parser
from bench.failover import Site, runs_on_site
from bench.report import Table, stat_cells
from bench.stats import ms, summary
from cluster.lab import Node
from cluster.lab.probes import hb_tool
from cluster.lab.waiting import wait_for

_MOVE_TIMEOUT = 60.0  # a move on a loaded 2-core host
_LOG_TIMEOUT = 10.0   # the executor's line is written when the operation ends


class How(enum.Enum):
    STANDBY = "hb_standby on node1"
    SIGTERM = "SIGTERM node1's cluster-mcp"


@dataclass(frozen=True, slots=True)
class Sample:
    """A client gap and, with the web server in the group, how long httpd's stop and
    start took and the stack's share: from the end of the stop on node1 to the
    beginning of the start on node2."""

    gap: float
    service: float | None = None
    share: float | None = None

    def __str__(self) -> str:
        shown = f"client gap {ms(self.gap)}"
        if self.service is None or self.share is None:
            return shown
        return f"{shown}, httpd stop + start {ms(self.service)}, stack's share {ms(self.share)}"


def _op(node: Node, seen: int, action: str) -> tuple[float, float]:
    """(wall-clock end, seconds) of the first `action` of httpd crmd's executor
    logged after `seen` characters of `node`'s crmd log."""
    pattern = re.compile(rf"^(\w+ \d+ [\d:.]+) .*\b{action} httpd: ok in (\d+) ms", re.M)

    def found() -> re.Match[str] | None:
        return pattern.search(node.daemon_log("crmd"), seen)

    wait_for(lambda: found() is not None, _LOG_TIMEOUT, interval=0.05,
             message=f"{node.name}: no '{action} httpd: ok' in crmd's log")
    match = found()
    assert match is not None
    # Lab nodes share the host's clock; the log's stamps have no year, nor need one.
    end = datetime.strptime(match.group(1), "%b %d %H:%M:%S.%f").timestamp()
    return end, int(match.group(2)) / 1000


class _Handovers(Site):
    """The failover site, moved gracefully."""

    def handover(self, how: How) -> Sample:
        """One graceful move node1 → node2 and back; the client gap of the first."""
        assert self._client is not None and self._mcp1 is not None
        time.sleep(1.0)                       # the last failback is behind us
        logs = (len(self.n1.daemon_log("crmd")), len(self.n2.daemon_log("crmd")))
        start = time.monotonic()
        if how is How.STANDBY:
            self._tool("standby")
        else:
            self._mcp1.send_signal(signal.SIGTERM)
        last, first = self._client.gap("node1", "node2", start, _MOVE_TIMEOUT)
        sample = Sample(first - last)
        if not self.address_only:
            stopped, stop = _op(self.n1, logs[0], "stop")
            started, start = _op(self.n2, logs[1], "start")
            sample = Sample(first - last, stop + start, started - start - stopped)
        if how is How.STANDBY:
            self._tool("takeover")
        else:
            self._mcp1.wait(timeout=_MOVE_TIMEOUT)
            self._mcp1 = self.n1.start_stack()
        self._client.served_by("node1", time.monotonic(), _MOVE_TIMEOUT)
        return sample

    def _tool(self, tool: str) -> None:
        done = hb_tool(self.n1, tool, "all", wait=_MOVE_TIMEOUT)
        if done.returncode != 0:
            raise RuntimeError(f"hb_{tool} on node1: {done.stdout}{done.stderr}")


def measure(timing: Timing, runs: int, hows: Sequence[How],
            address_only: bool = True) -> dict[How, list[Sample]]:
    """`runs` handovers of every way in `hows`, on one freshly built site."""
    return runs_on_site(_Handovers, timing, runs, hows, _Handovers.handover, address_only)


_CLIENT = "the client opens a new request to the VIP every 10 ms"
_GAP = "Client gap: from node1's last answer to node2's first."
_ADDRESS_NOTE = ("The web server runs on both nodes outside the cluster; the group is "
                 f"`node1 IPaddr::VIP/24/eth1` alone (`auto_failback on`); {_CLIENT}. {_GAP} "
                 "Target: 20 ms median.")
_HTTPD_NOTE = ("The group `node1 IPaddr::VIP/24/eth1 httpd` (`auto_failback on`); "
               f"{_CLIENT}. {_GAP} httpd's stop on node1 and start on node2 as crmd's "
               "executor timed them; the stack's share: from the end of that stop to the "
               "beginning of that start, by crmd's log stamps (1 ms resolution), i.e. the "
               "address's stop, the go-ahead and the address's start (medians; target "
               "20 ms).")
_HEADER = ("keepalive / deadtime", "median", "p90", "max", "n")
_SHARE = ("httpd stop + start", "stack's share")


def tables(settings: Sequence[Timing], runs: int,
           hows: Sequence[How] = (How.STANDBY, How.SIGTERM)) -> list[Table]:
    """Per way: a table for the address alone and one with the web server in the group."""
    made = {(how, alone): Table(
        f"Graceful handover{' of the address alone' if alone else ''}: {how.value} → "
        "client gap", _ADDRESS_NOTE if alone else _HTTPD_NOTE,
        _HEADER + (() if alone else _SHARE)) for how in hows for alone in (True, False)}
    for alone in (True, False):
        for timing in settings:
            try:
                samples = measure(timing, runs, hows, address_only=alone)
            except Exception as exc:
                progress_failure(f"graceful handover at {timing.label}")
                for how in hows:
                    made[how, alone].add_failure(timing.label, exc)
                continue
            for how, runs_of in samples.items():
                gaps = [sample.gap for sample in runs_of]
                cells = [timing.label, *stat_cells(gaps)]
                if not alone:
                    cells += [_median([s.service for s in runs_of]),
                              _median([s.share for s in runs_of])]
                made[how, alone].add(*cells)
    return list(made.values())


def _median(values: Sequence[float | None]) -> str:
    return ms(statistics.median(v for v in values if v is not None))


def main() -> int:
    parser = setting_parser(__doc__)
    parser.add_argument("--how", choices=("standby", "sigterm"), default="standby")
    parser.add_argument("--with-httpd", action="store_true",
                        help="the web server in the group, not running outside it")
    args = parser.parse_args()
    timing = Timing(args.keepalive, args.deadtime)
    how = How.STANDBY if args.how == "standby" else How.SIGTERM
    samples = measure(timing, args.runs, [how], address_only=not args.with_httpd)[how]
    print(f"{how.value}, keepalive / deadtime {timing.label}: client gap "
          f"{summary([s.gap for s in samples])}")
    shares = [s.share for s in samples if s.share is not None]
    if shares:
        print(f"stack's share (httpd stopped on node1 → starting on node2): {summary(shares)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
