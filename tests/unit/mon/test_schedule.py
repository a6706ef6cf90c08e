"""The scheduler: Mon's interval rules and monitor timeouts, on a fake clock."""

from __future__ import annotations

import math

import pytest

from cluster.mon.config import parse
from cluster.mon.schedule import Phase, ScheduleError, Scheduler
from cluster.mon.specs import ServiceSpec

TEXT = """\
watch a
 service fast
  interval 1s
  timeout 3s
  monitor icmp
 service slow
  interval 10s
  failure_interval 2s
  monitor icmp
"""


def services() -> tuple[ServiceSpec, ...]:
    return parse(TEXT, "mon.cf").services


def test_first_run_is_one_interval_after_start_as_in_mon() -> None:
    sched = Scheduler(services(), now=100.0)
    assert sched.due(100.0) == []
    assert sched.next_deadline() == 101.0
    assert sched.due(101.0) == ["a/fast"]
    assert sched.due(110.0) == ["a/fast", "a/slow"]


def test_randstart_draws_the_first_run() -> None:
    sched = Scheduler(services(), now=0.0,
                      first_delay=lambda spec: 0.0 if spec.name == "slow" else 0.5)
    assert sched.due(0.0) == ["a/slow"]
    assert sched.next_deadline(skip=["a/slow"]) == 0.5


def test_interval_counts_from_the_start_of_the_previous_run() -> None:
    sched = Scheduler(services(), now=0.0)
    assert sched.start("a/fast", 1.0) == 4.0  # deadline: timeout 3 s
    assert sched.phase("a/fast") is Phase.RUNNING
    assert sched.due(5.0) == []  # fast is running: never twice
    assert "a/fast" not in sched.due(50.0)
    assert sched.finish("a/fast", 1.4, failed=False) == 2.0
    assert sched.next_run("a/fast") == 2.0


def test_a_run_longer_than_the_interval_is_followed_at_once() -> None:
    sched = Scheduler(services(), now=0.0)
    sched.start("a/fast", 1.0)
    sched.finish("a/fast", 2.5, failed=False)
    assert sched.due(2.5) == ["a/fast"]


def test_failure_interval_while_failing() -> None:
    sched = Scheduler(services(), now=0.0)
    sched.start("a/slow", 10.0)
    assert sched.finish("a/slow", 10.5, failed=True) == 12.0
    sched.start("a/slow", 12.0)
    assert sched.finish("a/slow", 12.5, failed=False) == 22.0


def test_overdue_runs_are_named_at_their_timeout() -> None:
    sched = Scheduler(services(), now=0.0)
    sched.start("a/fast", 1.0)
    assert sched.next_deadline() == 4.0
    assert sched.overdue(3.999) == []
    assert sched.overdue(4.0) == ["a/fast"]
    sched.finish("a/fast", 4.0, failed=True)
    assert sched.overdue(100.0) == []
    assert sched.due(4.0) == ["a/fast"]


def test_impossible_edges_raise() -> None:
    sched = Scheduler(services(), now=0.0)
    with pytest.raises(ScheduleError, match="finish while idle"):
        sched.finish("a/fast", 1.0, failed=False)
    sched.start("a/fast", 1.0)
    with pytest.raises(ScheduleError, match="start while running"):
        sched.start("a/fast", 1.0)
    with pytest.raises(ScheduleError, match="unknown service"):
        sched.start("a/nope", 1.0)


def test_run_now_and_skipping_in_next_deadline() -> None:
    sched = Scheduler(services(), now=0.0)
    sched.run_now("a/slow", 0.5)
    assert sched.due(0.5) == ["a/slow"]
    assert sched.next_deadline(skip=["a/slow"]) == 1.0
    assert Scheduler((), now=0.0).next_deadline() == math.inf
