"""The host's own stalls: a SCHED_FIFO sleeper's wake-up lateness over a window.

``python3 -m bench.stalls SECONDS PERIOD`` sleeps to absolute deadlines every
PERIOD seconds (CLOCK_MONOTONIC), at the priority hbcomm runs with under
``realtime on``, and prints one JSON object: how many wake-ups, how many were
late by at least each bound in :data:`BOUNDS`, the worst lateness and when
(monotonic).  It does nothing but sleep, so its stalls are the VM's and the
kernel's, not any daemon's: the yardstick for hbcomm's own.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

BOUNDS = (0.005, 0.010, 0.020)  # seconds; 20 ms = deadtime - keepalive at 10 ms / 30 ms


@dataclass(frozen=True, slots=True)
class Stalls:
    wakeups: int
    late: tuple[int, ...]  # late by at least each of BOUNDS
    worst: float  # seconds
    worst_at: float  # monotonic

    def summary(self) -> str:
        counts = "/".join(str(n) for n in self.late)
        return f"{counts} (max {self.worst * 1000:.1f} ms)"


def sleep_and_measure(seconds: float, period: float) -> Stalls:
    """Wake every `period` for `seconds`, SCHED_FIFO if allowed, and count late wake-ups."""
    with contextlib.suppress(OSError):
        low, high = os.sched_get_priority_min(os.SCHED_FIFO), os.sched_get_priority_max(
            os.SCHED_FIFO)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param((low + high) // 2))
    late = [0] * len(BOUNDS)
    worst = worst_at = 0.0
    wakeups = 0
    due = time.monotonic() + period
    end = due + seconds
    while due < end:
        time.sleep(max(0.0, due - time.monotonic()))
        now = time.monotonic()
        lateness = now - due
        wakeups += 1
        for index, bound in enumerate(BOUNDS):
            late[index] += lateness >= bound
        if lateness > worst:
            worst, worst_at = lateness, now
        due = max(due + period, now)
    return Stalls(wakeups, tuple(late), worst, worst_at)


@contextlib.contextmanager
def sleeper(seconds: float, period: float) -> Iterator[list[Stalls]]:
    """Run the sleeper in a child for the body's duration; its result lands in the list."""
    proc = subprocess.Popen([sys.executable, "-m", "bench.stalls", str(seconds), str(period)],
                            stdout=subprocess.PIPE, text=True)
    result: list[Stalls] = []
    try:
        yield result
        out, _ = proc.communicate(timeout=seconds + 30)
        data = json.loads(out)
        result.append(Stalls(data["wakeups"], tuple(data["late"]), data["worst"],
                             data["worst_at"]))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main(argv: list[str]) -> int:
    seconds, period = float(argv[0]), float(argv[1])
    stalls = sleep_and_measure(seconds, period)
    print(json.dumps({"wakeups": stalls.wakeups, "late": list(stalls.late),
                      "worst": stalls.worst, "worst_at": stalls.worst_at}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
