"""Failure handling that must not lock a group out for good (issue #13, part 3).

Pure parts first (the restart backoff schedule, the policy waiting for it on
a fake clock, when the tracker says a failure was first seen, hard failures
counting once per cause), then whole clusters on the in-memory simulator
(crmdsim.py, virtual time): an interface down under a running address on
both nodes bans the group everywhere; ``failure_timeout`` brings it back by
itself once the interfaces are up, and without it ``crm_status`` says why it
stays stopped.
"""

from __future__ import annotations

from cluster.cli.status.text import render_text
from cluster.cli.status.view import StatusView
from cluster.config.haresources import parse_haresources
from cluster.crmd.policy import (
    RESTART_BACKOFF_CAP,
    PolicyConfig,
    Restart,
    decide,
    restart_delay,
)
from cluster.crmd.state import (
    ClusterState,
    GroupState,
    GroupStatus,
    NodeInfo,
    NodeReport,
    StateTracker,
    View,
)
from cluster.crmd.transition import Effect, LocalGroups, OpStatus, RunOp

from .crmdsim import VIP, CrmdSim

NODES = ("node1", "node2")
GROUPS = parse_haresources("node1 IPaddr::10.0.0.1/24/eth0 httpd\n", "haresources", NODES)
KEY = GROUPS[0].key
HTTPD = "httpd"
GROUP = (VIP, HTTPD)


# -- the backoff schedule and the policy ---------------------------------------------------


def test_restart_delay_doubles_from_one_second_and_is_capped() -> None:
    assert [restart_delay(n) for n in range(1, 8)] == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    assert restart_delay(0) == 0.0
    assert restart_delay(10**6) == RESTART_BACKOFF_CAP


def _failed_on_node1(count: int, failed_at: float, now: float) -> ClusterState:
    view = View(2, frozenset(NODES))
    failed = GroupStatus(GroupState.FAILED, count, 2)
    nodes = {
        "node1": NodeInfo("node1", True, NodeReport(2, 1, {KEY: failed}), 1,
                          failed_at={KEY: failed_at}),
        "node2": NodeInfo("node2", True, NodeReport(2, 1, {}), 1),
    }
    return ClusterState("node1", now, view, nodes)


def test_the_policy_waits_for_the_backoff_then_restarts_in_place() -> None:
    config = PolicyConfig(GROUPS, NODES, failure_threshold=5)
    plan = decide(_failed_on_node1(3, failed_at=100.0, now=101.5), config)
    assert plan.actions == ()
    assert plan.recheck == 102.0                      # restart_delay(3) == 2 s
    assert any("restarting it there 2 s after the failure" in n for n in plan.notes)
    plan = decide(_failed_on_node1(3, failed_at=100.0, now=102.0), config)
    assert [type(a) for a in plan.actions] == [Restart]
    assert plan.recheck is None
    plan = decide(_failed_on_node1(1, failed_at=100.0, now=100.0), config)
    assert [type(a) for a in plan.actions] == [Restart], "the first restart is at once"


def test_the_tracker_notes_when_each_failure_was_first_seen() -> None:
    tracker = StateTracker("node1", NODES)
    tracker.on_view(View(1, frozenset(NODES)))

    def report(state: GroupState, count: int, at: float) -> dict[str, float]:
        tracker.on_report("node2", NodeReport(1, 1, {KEY: GroupStatus(state, count)}), at)
        return dict(tracker.node("node2").failed_at)

    assert report(GroupState.FAILED, 1, 5.0) == {KEY: 5.0}
    assert report(GroupState.FAILED, 1, 7.0) == {KEY: 5.0}, "the same failure, re-sent"
    assert report(GroupState.STARTING, 1, 8.0) == {}
    assert report(GroupState.FAILED, 2, 9.0) == {KEY: 9.0}


# -- hard failures count once per cause ------------------------------------------------


def _drain(local: LocalGroups, effects: list[Effect], cause: str = "") -> None:
    """Answer every op: probes find nothing, stops succeed, starts fail hard with ``cause``."""
    while effects:
        effect = effects.pop(0)
        if isinstance(effect, RunOp):
            status = OpStatus.HARD if effect.action == "start" else OpStatus.NOT_RUNNING
            effects += local.op_done(KEY, effect.index, effect.action, status,
                                     cause if effect.action == "start" else "")


def test_a_hard_failure_with_the_same_cause_counts_once() -> None:
    local = LocalGroups([(KEY, 2)], threshold=3)
    _drain(local, local.probe_all())
    down = "start eth0: failed (None) eth0 is down"
    _drain(local, local.command(KEY, "start", 2), down)
    assert local.status(KEY).fail_count == 3
    _drain(local, local.command(KEY, "start", 2), down)
    assert local.status(KEY).fail_count == 3, "the same missing interface, seen again"
    _drain(local, local.command(KEY, "start", 2), "start eth0: not installed (5) no program")
    assert local.status(KEY).fail_count == 4, "a new cause counts"
    local.cleanup([KEY])
    assert local.status(KEY).fail_count == 0


# -- whole clusters on the simulator --------------------------------------------------------


def test_restarts_in_place_back_off() -> None:
    """A start that keeps failing: restarted at once, then 1 s later, then moved."""
    sim = CrmdSim()
    sim.fail_start["node1"] = {HTTPD}
    sim.boot_all()
    sim.run_until(lambda: sim.holds("node2", GROUP))
    executor = sim.executors["node1"]
    starts = [at for (token, action), at in zip(executor.ops, executor.times, strict=True)
              if (token, action) == (HTTPD, "start")]
    assert len(starts) == 3
    assert starts[1] - starts[0] < 0.5
    assert 1.0 <= starts[2] - starts[1] < 1.2, "Plan.recheck, not the next 1 s tick"


def test_a_respawned_crmd_still_forgets_its_failures_after_failure_timeout() -> None:
    sim = CrmdSim(hacf="failure_timeout 10s\n")
    sim.fail_start["node1"] = {HTTPD}
    sim.boot_all()
    sim.run_until(lambda: sim.holds("node2", GROUP))
    sim.kill("node1", power_off=False)                 # crmd dies; cluster-mcp respawns it
    sim.boot("node1")
    sim.form_view(sim.names)
    sim.run_for(3.0)
    assert [(c.node, c.banned) for c in sim.status("node2").fail_counts] == [("node1", True)]
    sim.run_until(lambda: not sim.status("node2").fail_counts, timeout=15.0)
    assert sim.owners() == ["node2"], "auto_failback off: nothing moves when it expires"


def _interfaces_down_everywhere(sim: CrmdSim) -> None:
    """The scenario of issue #13: the address's interface goes down under it on
    node1 (the group moves), then on node2 (banned everywhere)."""
    sim.boot_all()
    sim.run_until(lambda: sim.holds("node1", GROUP))
    sim.env_down["node1"] = {VIP}
    sim.run_until(lambda: sim.holds("node2", GROUP), timeout=60.0)
    assert sim.executors["node1"].ops.count((VIP, "start")) == 2, "one restart in place"
    sim.env_down["node2"] = {VIP}
    sim.run_until(lambda: all(c.banned for c in sim.status("node1").fail_counts)
                  and len(sim.status("node1").fail_counts) == 2 and not sim.owners(),
                  timeout=60.0)


def test_banned_everywhere_stays_stopped_and_status_says_why() -> None:
    sim = CrmdSim()
    _interfaces_down_everywhere(sim)
    sim.env_down.clear()                               # both interfaces are back
    sim.run_for(120.0)
    assert sim.owners() == [] and sim.owners(HTTPD) == []
    status = sim.status("node2")
    assert [(c.node, c.count, c.banned, c.expires) for c in status.fail_counts] == [
        ("node1", 3, True, None), ("node2", 3, True, None)]
    assert all(c.last_failure > 0 for c in status.fail_counts)
    text = render_text(StatusView(status))
    assert "Migration Summary:" in text
    assert text.count("fail-count=3 last-failure=") == 2
    assert text.count("(banned until a cleanup)") == 2
    assert any("cannot run anywhere" in n and "banned" in n for n in status.notices)
    assert sim.max_owners[VIP] == 1


def test_failure_timeout_brings_a_group_banned_everywhere_back() -> None:
    sim = CrmdSim(hacf="failure_timeout 10s\n")
    _interfaces_down_everywhere(sim)
    status = sim.status("node1")
    assert all(c.expires is not None and c.expires - c.last_failure == 10.0
               for c in status.fail_counts)
    assert "(banned until " in render_text(StatusView(status))
    sim.env_down.clear()
    back = sim.loop.now
    sim.run_until(lambda: sim.owners() != [] and sim.holds(sim.owners()[0], GROUP),
                  timeout=15.0)
    assert sim.loop.now - back <= 15.0
    sim.run_for(5.0)
    assert not sim.status(sim.owners()[0]).fail_counts or all(
        not c.banned for c in sim.status(sim.owners()[0]).fail_counts)
    assert sim.max_owners[VIP] == 1
