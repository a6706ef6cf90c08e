"""The randomized fault run, CI-sized: 60 s of random faults on three nodes.

`python3 -m cluster.lab.faultrun --seconds 300` is the long run (README).  The
seed is random and printed: a failure names the seed that reproduces it.
"""

from __future__ import annotations

import random

from cluster.lab import Lab
from cluster.lab.faultrun import FaultRun

_SECONDS = 60.0


def test_random_faults_never_give_two_owners_and_always_recover(lab: Lab) -> None:
    seed = random.randrange(1 << 32)
    print(f"\nfault run seed {seed} (python3 -m cluster.lab.faultrun --seconds 60 "
          f"--seed {seed} repeats it)")
    report = FaultRun(lab, _SECONDS, seed).run()
    print(report.render())
    assert sum(report.faults.values()) >= 5, "too few faults to mean anything"
    assert report.violations == [], report.render()
    assert report.unobserved == [], report.render()
    assert report.missed_recoveries == [], report.render()
    assert report.requests > 0 and report.availability > 0.5, report.render()
