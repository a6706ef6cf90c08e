"""LocalGroups (crmd/transition.py): driving local groups one op at a time, no processes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cluster.crmd.state import GroupState
from cluster.crmd.transition import (
    Effect,
    Failure,
    GroupChanged,
    LocalGroups,
    MonitorsOff,
    MonitorsOn,
    OpStatus,
    ResourceState,
    Retired,
    RunOp,
    _Group,
)

G = "web"
OK, NOT_RUNNING, FAILED, HARD = OpStatus.OK, OpStatus.NOT_RUNNING, OpStatus.FAILED, OpStatus.HARD
Answer = Callable[[RunOp], OpStatus]


class Driver:
    """Answers every RunOp with `answer(op)` and records the ops and effects."""

    def __init__(self, size: int = 3, threshold: int = 3, groups: int = 1) -> None:
        names = [(G if i == 0 else f"g{i}", size) for i in range(groups)]
        self.local = LocalGroups(names, threshold)
        self.ops: list[tuple[str, int, str]] = []
        self.effects: list[Effect] = []

    def drain(self, effects: list[Effect], answer: Answer) -> None:
        queue = list(effects)
        while queue:
            effect = queue.pop(0)
            self.effects.append(effect)
            if isinstance(effect, RunOp):
                self.ops.append((effect.group, effect.index, effect.action))
                queue += self.local.op_done(effect.group, effect.index, effect.action,
                                            answer(effect))

    def probe(self, answer: Answer = lambda op: NOT_RUNNING) -> None:
        self.drain(self.local.probe_all(), answer)
        self.clear()

    def clear(self) -> None:
        self.ops.clear()
        self.effects.clear()

    def states(self) -> list[GroupState]:
        return [e.state for e in self.effects if isinstance(e, GroupChanged)]


def ok(_op: RunOp) -> OpStatus:
    return OK


def test_probe_nothing_running_reports_stopped() -> None:
    d = Driver()
    assert not d.local.probed
    d.drain(d.local.probe_all(), lambda op: NOT_RUNNING)
    assert d.ops == [(G, 0, "probe"), (G, 1, "probe"), (G, 2, "probe")]
    assert d.local.probed
    assert d.local.status(G).state is GroupState.STOPPED
    assert d.local.settled


def test_probe_everything_running_adopts_and_monitors() -> None:
    d = Driver()
    d.drain(d.local.probe_all(), ok)
    assert d.local.status(G).state is GroupState.STARTED
    assert MonitorsOn(G) in d.effects
    d.local.adopt_since(4)
    assert d.local.status(G).since == 4


def test_probe_partly_running_is_failed_without_a_fail_count() -> None:
    d = Driver()
    d.drain(d.local.probe_all(), lambda op: OK if op.index == 0 else NOT_RUNNING)
    status = d.local.status(G)
    assert status.state is GroupState.FAILED
    assert status.fail_count == 0
    assert d.local.resources(G) == (ResourceState.STARTED, ResourceState.STOPPED,
                                    ResourceState.STOPPED)


def test_probe_hard_error_bans_this_node() -> None:
    d = Driver(threshold=3)
    d.drain(d.local.probe_all(), lambda op: HARD if op.index == 1 else NOT_RUNNING)
    assert d.local.status(G).state is GroupState.STOPPED
    assert d.local.status(G).fail_count == 3
    assert Failure(G, 1, "probe") in d.effects


def test_commands_before_the_probe_finished_are_ignored() -> None:
    d = Driver()
    d.local.probe_all()
    assert d.local.command(G, "start", 1) == []


def test_start_runs_left_to_right_then_monitors() -> None:
    d = Driver()
    d.probe()
    d.drain(d.local.command(G, "start", 7), ok)
    assert d.ops == [(G, 0, "start"), (G, 1, "start"), (G, 2, "start")]
    assert d.states() == [GroupState.STARTING, GroupState.STARTED]
    assert d.effects[-1] == MonitorsOn(G)
    assert d.local.status(G).since == 7


def test_failed_start_stops_everything_right_to_left_and_reports_failed() -> None:
    d = Driver()
    d.probe()
    d.drain(d.local.command(G, "start", 2), lambda op: FAILED if op == RunOp(G, 1, "start")
            else OK)
    assert d.ops == [(G, 0, "start"), (G, 1, "start"), (G, 1, "stop"), (G, 0, "stop")]
    assert d.states() == [GroupState.STARTING, GroupState.STOPPING, GroupState.FAILED]
    assert d.local.status(G).fail_count == 1
    assert Failure(G, 1, "start") in d.effects
    assert MonitorsOn(G) not in d.effects
    assert d.local.settled


def test_hard_start_failure_reaches_the_threshold_at_once() -> None:
    d = Driver(threshold=3)
    d.probe()
    d.drain(d.local.command(G, "start", 2), lambda op: HARD if op.action == "start" else OK)
    assert d.local.status(G).fail_count == 3


def test_stop_runs_right_to_left() -> None:
    d = Driver()
    d.probe()
    d.drain(d.local.command(G, "start", 2), ok)
    d.clear()
    d.drain(d.local.command(G, "stop", 2), ok)
    assert d.ops == [(G, 2, "stop"), (G, 1, "stop"), (G, 0, "stop")]
    assert d.effects[0] == MonitorsOff(G)
    assert d.states() == [GroupState.STOPPING, GroupState.STOPPED]


def test_stop_of_something_not_running_counts_as_stopped() -> None:
    d = Driver()
    d.probe()
    d.drain(d.local.command(G, "start", 2), ok)
    d.drain(d.local.command(G, "stop", 2), lambda op: NOT_RUNNING)
    assert d.local.status(G).state is GroupState.STOPPED


def test_a_stop_arriving_mid_start_finishes_the_op_then_unwinds() -> None:
    d = Driver()
    d.probe()
    first = d.local.command(G, "start", 2)
    assert first[-1] == RunOp(G, 0, "start")
    assert d.local.status(G).state is GroupState.STARTING
    assert d.local.command(G, "stop", 2) == [], "the op in flight is not interrupted"
    d.drain(d.local.op_done(G, 0, "start", OK), ok)
    assert d.ops == [(G, 0, "stop")]
    assert d.local.status(G).state is GroupState.STOPPED


def test_a_start_arriving_mid_stop_finishes_the_stop_phase_first() -> None:
    d = Driver()
    d.probe()
    d.drain(d.local.command(G, "start", 2), ok)
    d.clear()
    first = d.local.command(G, "stop", 3)
    assert first[-1] == RunOp(G, 2, "stop")
    d.drain(d.local.command(G, "start", 3), ok)
    d.drain(d.local.op_done(G, 2, "stop", OK), ok)
    assert d.ops == [(G, 2, "start")], "only the stopped resource is started again"
    assert d.local.status(G).state is GroupState.STARTED


def test_restart_stops_all_then_starts_all() -> None:
    d = Driver()
    d.probe()
    d.drain(d.local.command(G, "start", 2), ok)
    d.clear()
    d.drain(d.local.command(G, "restart", 3), ok)
    assert d.ops == [(G, 2, "stop"), (G, 1, "stop"), (G, 0, "stop"),
                     (G, 0, "start"), (G, 1, "start"), (G, 2, "start")]
    assert d.states() == [GroupState.STOPPING, GroupState.STARTING, GroupState.STARTED]


def test_monitor_failure_marks_failed_and_counts() -> None:
    d = Driver()
    d.probe()
    d.drain(d.local.command(G, "start", 2), ok)
    d.clear()
    d.drain(d.local.monitor_failed(G, 2, NOT_RUNNING), ok)
    assert d.effects == [Failure(G, 2, "monitor"), MonitorsOff(G),
                         GroupChanged(G, GroupState.STARTED, GroupState.FAILED,
                                      "a monitor failed")]
    assert d.local.status(G).fail_count == 1
    d.clear()
    d.drain(d.local.command(G, "restart", 2), ok)
    assert d.local.status(G).state is GroupState.STARTED
    assert d.local.status(G).fail_count == 1, "recovery does not forget the failure"


def test_monitor_result_for_a_group_on_the_move_is_ignored() -> None:
    d = Driver()
    d.probe()
    d.drain(d.local.command(G, "start", 2), ok)
    d.local.command(G, "stop", 2)
    assert d.local.monitor_failed(G, 0, FAILED) == []
    assert d.local.status(G).fail_count == 0


def test_failed_stop_leaves_the_group_failed_without_counting() -> None:
    d = Driver()
    d.probe()
    d.drain(d.local.command(G, "start", 2), ok)
    d.clear()
    d.drain(d.local.command(G, "stop", 2), lambda op: FAILED if op.index == 1 else OK)
    assert d.ops == [(G, 2, "stop"), (G, 1, "stop")]
    assert d.local.status(G).state is GroupState.FAILED
    assert d.local.status(G).fail_count == 0
    d.clear()
    d.drain(d.local.command(G, "stop", 2), ok)
    assert d.ops == [(G, 1, "stop"), (G, 0, "stop")]
    assert d.local.status(G).state is GroupState.STOPPED


def test_leave_stops_every_group_and_refuses_starts() -> None:
    d = Driver(groups=2)
    d.probe(ok)
    d.drain(d.local.leave(), ok)
    assert d.local.status(G).state is GroupState.STOPPED
    assert d.local.status("g1").state is GroupState.STOPPED
    assert d.local.settled
    assert d.local.command(G, "start", 3) == []


def test_leave_while_probing_stops_what_the_probe_found() -> None:
    d = Driver()
    pending = d.local.probe_all()
    assert pending == [RunOp(G, 0, "probe")]
    d.local.leave()
    d.drain(d.local.op_done(G, 0, "probe", OK), ok)
    assert d.ops[-1] == (G, 0, "stop")
    assert d.local.status(G).state is GroupState.STOPPED


def test_retry_stops_while_leaving() -> None:
    d = Driver()
    d.probe(ok)
    d.drain(d.local.leave(), lambda op: FAILED)
    assert d.local.status(G).state is GroupState.FAILED
    d.drain(d.local.retry_stops(), ok)
    assert d.local.status(G).state is GroupState.STOPPED


def test_cleanup_forgets_failures_and_probes_failed_groups() -> None:
    d = Driver()
    d.probe()
    d.drain(d.local.command(G, "start", 2), lambda op: FAILED)   # the clean-up stop fails too
    assert d.local.status(G).state is GroupState.FAILED
    assert d.local.resources(G)[0] is ResourceState.FAILED
    d.clear()
    d.drain(d.local.cleanup([G]), lambda op: NOT_RUNNING)
    assert d.local.status(G).fail_count == 0
    assert [op for op in d.ops if op[2] == "probe"] == [(G, 0, "probe"), (G, 1, "probe"),
                                                        (G, 2, "probe")]
    assert d.states() == [GroupState.UNKNOWN, GroupState.STOPPED]


def test_unknown_action_is_refused() -> None:
    d = Driver()
    d.probe()
    with pytest.raises(ValueError, match="unknown group action"):
        d.local.command(G, "promote", 1)


def test_stale_op_results_are_ignored() -> None:
    d = Driver()
    d.probe()
    assert d.local.op_done(G, 2, "start", OK) == []
    assert d.local.op_done("nope", 0, "start", OK) == []


def test_impossible_edges_raise() -> None:
    group = _Group(G, 1, 3)
    group.state = GroupState.STOPPED
    with pytest.raises(RuntimeError, match="impossible transition stopped -> started"):
        group._enter(GroupState.STARTED, "test", [])


def test_reprobe_of_a_started_group_starts_only_what_died() -> None:
    """Leaving maintenance mode: resource 2 was killed; 0 and 1 are left alone."""
    d = Driver()
    d.probe(ok)
    d.drain(d.local.reprobe("leaving maintenance mode"),
            lambda op: NOT_RUNNING if op.index == 2 and op.action == "probe" else OK)
    assert d.ops == [(G, 0, "probe"), (G, 1, "probe"), (G, 2, "probe"), (G, 2, "start")]
    assert d.states() == [GroupState.UNKNOWN, GroupState.FAILED, GroupState.STARTING,
                          GroupState.STARTED]
    assert d.local.status(G).fail_count == 0


def test_reprobe_of_a_stopped_group_only_probes() -> None:
    d = Driver()
    d.probe()
    d.drain(d.local.reprobe("refresh"), lambda op: NOT_RUNNING)
    assert [op[2] for op in d.ops] == ["probe"] * 3
    assert d.local.status(G).state is GroupState.STOPPED


# -- reload: groups added, removed, changed ------------------------------------------------

def _started(d: Driver, key: str = G) -> None:
    d.drain(d.local.command(key, "start", 1), ok)
    assert d.local.status(key).state is GroupState.STARTED
    d.clear()


def test_a_changed_group_stops_with_its_old_resources_then_is_probed_anew() -> None:
    d = Driver(size=3, groups=2)
    d.probe()
    _started(d)
    _started(d, "g1")
    d.drain(d.local.replace(G, 2), lambda op: NOT_RUNNING if op.action == "probe" else OK)
    assert d.ops == [(G, 2, "stop"), (G, 1, "stop"), (G, 0, "stop"),
                     (G, 0, "probe"), (G, 1, "probe")]
    assert Retired(G, 2) in d.effects
    assert d.local.status(G).state is GroupState.STOPPED and len(d.local.resources(G)) == 2
    assert all(getattr(e, "group", "g1") != "g1" for e in d.effects), "g1 is not touched"
    assert d.local.status("g1").state is GroupState.STARTED
    d.clear()
    _started(d)  # the DC starts the new version like any stopped group


def test_a_removed_group_stops_and_is_forgotten_commands_meanwhile_are_ignored() -> None:
    d = Driver(size=2)
    d.probe()
    d.drain(d.local.command(G, "start", 1), ok)
    d.clear()
    effects = d.local.replace(G, None)
    assert MonitorsOff(G) in effects and effects[-1] == RunOp(G, 1, "stop")
    assert d.local.command(G, "start", 2) == [], "a retiring group takes no command"
    d.drain(effects, ok)
    assert Retired(G, None) in d.effects
    assert d.local.keys == () and d.local.settled


def test_a_group_retired_while_starting_finishes_the_op_in_flight_then_stops() -> None:
    d = Driver(size=2)
    d.probe()
    first = d.local.command(G, "start", 1)
    assert RunOp(G, 0, "start") in first
    assert d.local.replace(G, None) == []  # the start in flight is waited for
    d.drain(d.local.op_done(G, 0, "start", OK), ok)
    assert (G, 1, "start") not in d.ops
    assert d.ops == [(G, 0, "stop")] and Retired(G, None) in d.effects


def test_a_failed_stop_of_a_retiring_group_is_not_retried_in_a_loop() -> None:
    d = Driver(size=1)
    d.probe()
    _started(d)
    d.drain(d.local.replace(G, None), lambda op: FAILED)
    assert d.ops == [(G, 0, "stop")]
    assert d.local.status(G).state is GroupState.FAILED and G in d.local.keys
    d.clear()
    d.drain(d.local.cleanup([G]), lambda op: NOT_RUNNING)  # the admin cleans it up
    assert d.ops == [(G, 0, "probe")] and Retired(G, None) in d.effects


def test_a_group_added_by_a_reload_is_probed() -> None:
    d = Driver(size=1)
    d.probe()
    d.drain(d.local.add("new", 2), ok)
    assert d.ops == [("new", 0, "probe"), ("new", 1, "probe")]
    assert d.local.status("new").state is GroupState.STARTED
