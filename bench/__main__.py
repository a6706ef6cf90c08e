"""Every benchmark in one command; prints one Markdown report for README.md.

    python3 -m bench [--runs 20] [--false-minutes 10] [--idle-seconds 30]
                     [--sizes 2,4,8,16,32] [--only SECTION[,SECTION]] [--quick]

Sections: failover (power off node1), graceful (SIGTERM node1's cluster-mcp),
address (power off node1 when the group is the address alone), false (false
failovers, idle and with a core busy), idle (CPU and PSS of a whole node),
membership (join and leave convergence; fewer runs from 32 nodes on),
traffic (packets per node by kind and how they grow with the cluster size,
idle-seconds window), hbcomm (CPU per heartbeat packet on hbcomm's send and
receive paths, see bench/hbcomm_cost.py), handover (the client gap of
hb_standby and of SIGTERM, for the address alone and with the web server in
the group, see bench/graceful_address.py), memory
(RSS, PSS, USS and locked memory of every daemon with realtime on and off,
see bench/memory.py).  failover, graceful, address,
false, idle and handover run at keepalive / deadtime 10 ms / 30 ms,
100 ms / 500 ms and 1 s / 3 s.  Progress
goes to stderr; the report to stdout at the end.  --quick is a smoke test
(3 runs, 0.5 min, 10 s, 2 and 4 nodes); options given explicitly win.
Exit status 1 if any measurement failed (its row says why).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from bench import (
    failover,
    false_failovers,
    graceful_address,
    hbcomm_cost,
    idle,
    membership,
    memory,
    traffic,
)
from bench.common import SETTINGS, progress, progress_failure
from bench.failover import Fault
from bench.report import Table, document

SECTIONS = ("failover", "graceful", "address", "false", "idle", "memory", "membership",
            "traffic", "hbcomm", "handover")


@dataclasses.dataclass(frozen=True, slots=True)
class Options:
    runs: int
    false_minutes: float
    idle_seconds: float
    sizes: tuple[int, ...]
    only: tuple[str, ...]


# 64 nodes only on request (--sizes ...,64): at 100 ms keepalive their heartbeats
# alone need more CPU than a 2-core box has (see bench/traffic.py).
_DEFAULT = Options(runs=20, false_minutes=10.0, idle_seconds=30.0,
                   sizes=(2, 4, 8, 16, 32), only=SECTIONS)
_QUICK = dataclasses.replace(_DEFAULT, runs=3, false_minutes=0.5, idle_seconds=10.0,
                             sizes=(2, 4))


def _sizes(text: str) -> tuple[int, ...]:
    values = tuple(int(part) for part in text.split(","))
    if any(value < 2 for value in values):
        raise argparse.ArgumentTypeError("cluster sizes are at least 2")
    return values


def _sections(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(","))
    unknown = [name for name in names if name not in SECTIONS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown section {', '.join(unknown)}; "
                                         f"choose from {', '.join(SECTIONS)}")
    return names


def parse(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(prog="python3 -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, help="faults per setting (default 20)")
    parser.add_argument("--false-minutes", type=float,
                        help="false-failover window per load (default 10)")
    parser.add_argument("--idle-seconds", type=float, help="idle-cost window (default 30)")
    parser.add_argument("--sizes", type=_sizes,
                        help="cluster sizes for membership and traffic "
                             "(default 2,4,8,16,32)")
    parser.add_argument("--only", type=_sections,
                        help=f"comma-separated sections: {','.join(SECTIONS)}")
    parser.add_argument("--quick", action="store_true", help="a smoke test of every section")
    args = parser.parse_args(argv)
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(Options)
             if getattr(args, f.name) is not None}
    opts = dataclasses.replace(_QUICK if args.quick else _DEFAULT, **given)
    if opts.runs < 1 or opts.idle_seconds <= 0 or opts.false_minutes < 0:
        parser.error("--runs and --idle-seconds must be positive, --false-minutes not negative")
    return opts


def _guarded(name: str, run: Callable[[], list[Table]]) -> list[Table]:
    """A section's tables, or one table saying it failed: the rest still run."""
    try:
        return run()
    except Exception as exc:
        progress_failure(name)
        failed = Table(name, "", ("section", "result"))
        failed.add_failure(name, exc)
        return [failed]


def run(opts: Options) -> list[Table]:
    tables: list[Table] = []
    faults = [fault for name, fault in (("failover", Fault.POWER_OFF),
                                        ("graceful", Fault.SIGTERM)) if name in opts.only]
    if faults:
        tables += _guarded("failover", lambda: failover.tables(SETTINGS, opts.runs, faults))
    if "address" in opts.only:
        tables += _guarded("address", lambda: failover.tables(
            SETTINGS, opts.runs, [Fault.POWER_OFF], address_only=True))
    if "false" in opts.only:
        tables += _guarded("false", lambda: [false_failovers.table(SETTINGS,
                                                                   opts.false_minutes)])
    if "idle" in opts.only:
        tables += _guarded("idle", lambda: [idle.table(SETTINGS, opts.idle_seconds)])
    if "memory" in opts.only:
        tables += _guarded("memory", lambda: [memory.table()])
    if "membership" in opts.only:
        tables += _guarded("membership", lambda: [membership.table(opts.sizes, opts.runs)])
    if "traffic" in opts.only:
        tables += _guarded("traffic", lambda: [traffic.table(opts.sizes, opts.idle_seconds)])
    if "hbcomm" in opts.only:
        tables += _guarded("hbcomm", lambda: [hbcomm_cost.table()])
    if "handover" in opts.only:
        tables += _guarded("handover", lambda: graceful_address.tables(SETTINGS, opts.runs))
    return tables


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    opts = parse(args)
    started, clock = datetime.now().astimezone(), time.monotonic()
    progress(f"bench: {opts}")
    tables = run(opts)
    print(document(tables, args, started, time.monotonic() - clock), flush=True)
    return 1 if any(table.failures for table in tables) else 0


if __name__ == "__main__":
    raise SystemExit(main())
