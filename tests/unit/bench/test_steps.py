"""The failover trace: records written by `cluster.common.trace`, read back and split into steps."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.steps import SERVED, breakdown, table
from cluster.common.trace import ENV, Record, read


def _run(*steps: tuple[str, float]) -> list[Record]:
    return [Record(at, step, "") for step, at in steps]


def test_each_step_counts_from_the_first_record_after_the_step_before() -> None:
    records = _run(("crmd.evaluate", 0.5),          # an evaluation before the death: ignored
                   ("hbcomm.dead", 1.0), ("hbcomm.publish", 1.0001),
                   ("ccm.event", 1.0004), ("ccm.view", 1.0010), ("crmd.view", 1.0015),
                   ("crmd.evaluate", 1.0020), ("crmd.decided", 1.0030),
                   ("crmd.order", 1.0031), ("crmd.op", 1.0032),
                   ("arp.sent", 1.0050))            # no ipaddr.added: the address was there
    steps = dict(breakdown(records, served=1.0080))
    assert steps["crmd.evaluate"] == pytest.approx(0.0005)
    assert "ipaddr.added" not in steps
    assert steps["arp.sent"] == pytest.approx(0.0018)
    assert steps[SERVED[0]] == pytest.approx(0.0030)
    assert sum(steps.values()) == pytest.approx(0.0080)


def test_a_run_without_a_death_decision_has_no_breakdown() -> None:
    assert breakdown(_run(("ccm.view", 1.0)), served=2.0) == []


def test_the_table_gives_medians_per_step_the_stacks_share_and_the_total() -> None:
    runs = [breakdown(_run(("hbcomm.dead", 0.0), ("ccm.view", d), ("arp.sent", 2 * d)),
                      served=3 * d)
            for d in (0.001, 0.002, 0.003)]
    rows = {row[0]: row for row in table({"10 ms / 30 ms": runs, "1 s / 3 s": []}).rows}
    assert rows["ccm.view"][2:] == ("2.0 ms", "-")
    assert rows["crmd.view"][2:] == ("-", "-")
    assert rows["stack"][2:] == ("4.0 ms", "-")
    assert rows["total"][2:] == ("6.0 ms", "-")


def test_marks_from_other_processes_land_in_one_file_on_the_monotonic_clock(
        tmp_path: Path) -> None:
    path = tmp_path / "trace"
    before = time.monotonic()
    code = "from cluster.common import trace; trace.mark('a.b', 'x y')"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", code], env={**os.environ, ENV: str(path)},
                       check=True)
    path.write_text(path.read_text() + "garbage line\n")
    records = list(read(path))
    assert [(r.step, r.detail) for r in records] == [("a.b", "x y")] * 2
    assert all(before <= r.at <= time.monotonic() for r in records)
