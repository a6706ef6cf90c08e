"""How long a dead node takes to be declared dead: the spread over many power-offs.

    python3 -m bench.detection [--runs 20] [--keepalive 0.1] [--deadtime 0.5]

Two nodes; n2 is powered off (every process killed, links down) and the time
from the power-off to n1's hbcomm publishing "n2 dead" is recorded; then n2
is powered on, its stack restarted, and the next run begins.
"""

from __future__ import annotations

import argparse
import time

from bench.common import Timing, build, node_names, wait_all_active
from bench.stats import summary
from cluster.bus.messages.hbcomm import NodeStatusChanged
from cluster.lab import Lab
from cluster.lab.events import EventLog


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keepalive", type=float, default=0.1)
    parser.add_argument("--deadtime", type=float, default=0.5)
    args = parser.parse_args()
    samples: list[float] = []
    with Lab() as lab:
        (n1, n2), _ = build(lab, node_names(2), Timing(args.keepalive, args.deadtime))
        n1.start_stack()
        n2.start_stack()
        for _ in range(args.runs):
            wait_all_active([n1, n2], timeout=60)
            with EventLog(n1.run_dir, "hbcomm", ["node"]) as events:
                start = time.monotonic()
                n2.power_off()
                dead = events.wait_for(lambda e: isinstance(e.msg, NodeStatusChanged)
                                       and e.msg.node == "n2" and e.msg.status == "dead",
                                       timeout=args.deadtime * 10 + 5, since=start)
            samples.append(dead.at - start)
            n2.power_on()
            n2.start_stack()
    print(f"dead-node detection, keepalive {args.keepalive * 1000:.0f} ms, deadtime "
          f"{args.deadtime * 1000:.0f} ms: {summary(samples)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
