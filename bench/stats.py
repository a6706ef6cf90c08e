"""Summary statistics of benchmark samples (seconds) and how they are printed.

Pure: samples in, numbers and text out.  The 90th percentile is the sample
at rank round(0.9 * (n - 1)) of the sorted list, so it is always one of the
measured values (with n = 3 it is the largest).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Stats:
    n: int
    median: float
    p90: float
    minimum: float
    maximum: float
    stdev: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        if not samples:
            raise ValueError("no samples")
        ordered = sorted(samples)
        p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
        return cls(n=len(ordered), median=statistics.median(ordered), p90=p90,
                   minimum=ordered[0], maximum=ordered[-1], stdev=statistics.pstdev(ordered))


def ms(seconds: float) -> str:
    """A duration for a table cell: "577.2 ms"."""
    return f"{seconds * 1000:.1f} ms"


def summary(samples: Sequence[float]) -> str:
    """One line for the single-benchmark commands."""
    s = Stats.of(samples)
    return (f"median {ms(s.median)}, p90 {ms(s.p90)}, min {ms(s.minimum)}, "
            f"max {ms(s.maximum)}, stdev {ms(s.stdev)} (n={s.n})")
