from __future__ import annotations

import pytest

from cluster.mcp.child import (
    Child,
    ChildState,
    GiveUp,
    IllegalTransition,
    NoRespawn,
    RespawnPolicy,
    Spawn,
    SpawnAt,
    Terminate,
)


def _running(now: float = 0.0) -> Child:
    child = Child("hbcomm")
    assert child.start() == Spawn()
    child.spawned(100, now)
    return child


def test_start_spawn_and_become_running_after_startsecs() -> None:
    child = _running()
    assert child.state is ChildState.STARTING
    child.tick(0.5)
    assert child.state is ChildState.STARTING
    child.tick(1.0)
    assert child.state is ChildState.RUNNING


def test_first_death_respawns_at_once() -> None:
    child = _running()
    child.tick(2.0)
    assert child.exited(-9, 3.0) == Spawn()
    assert child.state is ChildState.BACKOFF and child.restarts == 1
    child.spawned(101, 3.0)
    assert child.state is ChildState.STARTING


def test_exit_100_is_never_respawned() -> None:
    child = _running()
    action = child.exited(100, 5.0)
    assert isinstance(action, NoRespawn)
    assert child.state is ChildState.EXITED


def test_fast_deaths_back_off_doubling_then_give_up() -> None:
    policy = RespawnPolicy(flap_limit=10, first_backoff=0.25, max_backoff=5.0)
    child = Child("crmd", policy)
    child.start()
    now = 0.0
    child.spawned(1, now)
    delays = []
    for _ in range(10):
        now += 0.1
        action = child.exited(1, now)
        if isinstance(action, SpawnAt):
            delays.append(action.delay)
            now = action.when
            assert child.tick(now) == Spawn()
        else:
            assert action == Spawn()
            delays.append(0.0)
        child.spawned(2, now)
    assert delays == [0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0, 5.0]
    action = child.exited(1, now + 0.1)
    assert isinstance(action, GiveUp) and "respawning too fast" in action.reason
    assert child.state is ChildState.FATAL


def test_a_slow_death_resets_the_fast_count() -> None:
    child = _running()
    child.exited(1, 0.1)
    child.spawned(2, 0.1)
    child.exited(1, 0.2)          # second fast death: would back off
    assert child.fast_deaths == 2
    child.spawned(3, 0.5)
    assert child.exited(1, 100.0) == Spawn()   # lived 99.5 s: slow
    assert child.fast_deaths == 1


def test_stop_terminates_and_exit_leads_to_stopped() -> None:
    child = _running()
    assert child.stop() == Terminate()
    assert child.state is ChildState.STOPPING
    assert child.exited(-15, 1.0) is None
    assert child.state is ChildState.STOPPED


def test_stop_during_backoff_cancels_the_respawn() -> None:
    child = _running()
    child.exited(1, 0.1)
    child.spawned(2, 0.1)
    child.exited(1, 0.2)
    assert child.state is ChildState.BACKOFF
    assert child.stop() is None
    assert child.state is ChildState.STOPPED


def test_spawn_failure_backs_off_and_never_spins() -> None:
    child = Child("respawn:x", RespawnPolicy(flap_limit=2))
    child.start()
    first = child.spawn_failed(0.0, "no such file")
    assert isinstance(first, SpawnAt) and first.delay > 0
    child.spawn_failed(first.when, "no such file")
    assert isinstance(child.spawn_failed(10.0, "no such file"), GiveUp)


def test_impossible_edge_raises() -> None:
    child = Child("ccm")
    with pytest.raises(IllegalTransition):
        child.spawned(1, 0.0)
        child.spawned(2, 0.0)
