"""Membership cores wired through an in-memory network (ccmsim): kills, partitions, cuts, loss.

After each step settles, `ClusterSim.check` holds: every member of a view has
the same instance and members, and no node's instance ever went back.  Each
test then states which groups must exist: each partition's connected clique.
"""

from __future__ import annotations

from typing import Any

import pytest

from .ccmsim import ClusterSim

SETTLE = 60.0  # simulated seconds: several wait timeouts at keepalive 1 s


def names(count: int) -> list[str]:
    return [f"node{i}" for i in range(1, count + 1)]


def groups(*members: list[str]) -> set[frozenset[str]]:
    return {frozenset(m) for m in members}


def started(count: int, **kwargs: Any) -> ClusterSim:
    sim = ClusterSim(names(count), **kwargs)
    sim.start()
    sim.run(SETTLE)
    sim.check()
    assert sim.groups() == groups(names(count))
    return sim


def settle(sim: ClusterSim) -> None:
    sim.run(SETTLE)
    sim.check()


@pytest.mark.parametrize("count", [3, 5])
def test_kill_one_then_power_it_on(count: int) -> None:
    sim = started(count)
    before = sim.view("node1").instance
    sim.kill("node2")
    settle(sim)
    rest = [n for n in names(count) if n != "node2"]
    assert sim.groups() == groups(rest)
    assert sim.view("node1").instance > before
    sim.revive("node2")
    settle(sim)
    assert sim.groups() == groups(names(count))


@pytest.mark.parametrize("count", [3, 5])
def test_the_leader_dies(count: int) -> None:
    sim = started(count)
    sim.kill("node1")
    settle(sim)
    assert sim.groups() == groups(names(count)[1:])
    assert sim.view("node2").leader == "node2"


@pytest.mark.parametrize("count", [3, 5])
def test_partition_and_heal(count: int) -> None:
    sim = started(count)
    left, right = names(count)[:2], names(count)[2:]
    sim.connect([left, right])
    settle(sim)
    assert sim.groups() == groups(left, right)
    highest = max(sim.view(n).instance for n in names(count))
    sim.heal()
    settle(sim)
    assert sim.groups() == groups(names(count))
    assert sim.view("node1").instance > highest  # the merge outranks both sides


@pytest.mark.parametrize("count", [3, 5])
@pytest.mark.parametrize("both_ways", [False, True])
def test_node1_cannot_hear_the_last_node(count: int, both_ways: bool) -> None:
    """Max clique: the last node is connected to all but node1, so it is cut off."""
    sim = started(count)
    last = names(count)[-1]
    sim.cut("node1", last)
    if both_ways:
        sim.cut(last, "node1")
    settle(sim)
    assert sim.groups() == groups(names(count)[:-1], [last])
    sim.heal()
    settle(sim)
    assert sim.groups() == groups(names(count))


def test_a_node_hearing_only_the_middle_one_is_left_alone() -> None:
    """node1 hears only node2; node2..node5 hear each other: {node2..5} is the clique."""
    sim = started(5)
    sim.cut("node1", "node3")
    sim.cut("node1", "node4")
    sim.cut("node1", "node5")
    for other in ("node3", "node4", "node5"):
        sim.cut(other, "node1")
    settle(sim)
    assert sim.groups() in (groups(["node1", "node2"], ["node3", "node4", "node5"]),
                            groups(["node1"], ["node2", "node3", "node4", "node5"]))


def test_cut_between_two_followers_splits_off_one() -> None:
    sim = started(3)
    sim.cut("node2", "node3")
    sim.cut("node3", "node2")
    settle(sim)
    assert sim.groups() == groups(["node1", "node2"], ["node3"])


@pytest.mark.parametrize("count", [3, 5])
def test_ccm_restart_never_reuses_an_instance(count: int) -> None:
    sim = started(count)
    for _ in range(3):
        sim.kill("node3")
        settle(sim)
        sim.revive("node3")
        settle(sim)
    high = sim.view("node1").instance
    views = len(sim.published)
    sim.persisted["node2"] = 0  # lost its state file too
    sim.restart_ccm("node2")
    settle(sim)
    # A ccm that lost its state makes a new instance: its node may have restarted.
    assert sim.groups() == groups(names(count))
    assert sim.view("node2").instance == high + 1
    assert {p.view.instance for p in sim.published[views:]} == {0, high + 1}
    high += 1
    sim.persisted["node2"] = 0
    sim.restart_ccm("node2")
    sim.kill("node3")  # and now the membership changes while it restarts
    settle(sim)
    assert sim.groups() == groups([n for n in names(count) if n != "node3"])
    assert sim.view("node2").instance > high


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("count", [3, 5])
def test_random_loss_delay_and_churn(seed: int, count: int) -> None:
    sim = started(count, seed=seed, loss=0.05, delay=(0.001, 0.3), skew=1.5)
    rng = sim.rng
    for _ in range(6):
        step = rng.choice(["partition", "kill", "heal", "cut"])
        if step == "partition" and len(sim.alive) > 1:
            nodes = sorted(sim.alive)
            rng.shuffle(nodes)
            split = rng.randrange(1, len(nodes))
            sim.connect([nodes[:split], nodes[split:]])
        elif step == "kill" and len(sim.alive) > 1:
            sim.kill(rng.choice(sorted(sim.alive)))
        elif step == "cut" and len(sim.alive) > 1:
            a, b = rng.sample(sorted(sim.alive), 2)
            sim.cut(a, b)
        elif step == "heal":
            for node in sorted(set(sim.names) - sim.alive):
                sim.revive(node)
            sim.heal()
        sim.run(rng.uniform(0.0, 3.0))  # the next fault may come mid-agreement
        if rng.random() < 0.5:
            settle(sim)
    for node in sorted(set(sim.names) - sim.alive):
        sim.revive(node)
    sim.heal()
    settle(sim)
    sim.run(3 * SETTLE)  # and it stays put: periodic announcements change nothing
    sim.check()
    assert sim.groups() == groups(sorted(sim.alive))


def test_a_stable_cluster_is_quiet() -> None:
    """Once agreed, only the periodic announcements travel: no rounds, no new views."""
    sim = started(5)
    views = len(sim.published)
    sent = sim.sent
    sim.run(100.0)
    assert len(sim.published) == views
    assert sim.sent - sent <= 5 * (100 // 10 + 1)


@pytest.mark.parametrize("victim", ["node1", "node7", "node32"])
def test_one_death_in_32_costs_messages_linear_in_n(victim: str) -> None:
    """A death every survivor's hbcomm sees: the leader asks, each answers, it decides.
    Every follower announcing it to every peer (and again once decided) is N^2:
    some 2000 receptions here, each a wake-up of a ccm on a shared box."""
    count = 32
    sim = started(count, keepalive=0.1, skew=0.03)
    before = sim.delivered
    sim.kill(victim)
    sim.run(1.0)  # ten keepalives: agreed by then, and one periodic announcement each
    assert sim.delivered - before <= 8 * count
    sim.check()
    assert sim.groups() == groups([n for n in names(count) if n != victim])


def test_idle_announcements_go_to_the_leader() -> None:
    """Followers tell their state to their leader only: N receptions per interval, not N^2."""
    count = 32
    sim = started(count, keepalive=0.1)
    before = sim.delivered
    sim.run(10.0)  # ten announce intervals
    assert sim.delivered - before <= 10 * 3 * count
