"""The keeper's rules (sans-I/O): when it pets, when it starves, how it closes."""

from __future__ import annotations

import pytest

from cluster.watchdog.keeper import (
    Close,
    Keeper,
    KeeperState,
    Pet,
    Recovered,
    SendPing,
    Starving,
    device_timeout,
    feed_period,
    ping_timeout,
)

MCP = 4242


def test_heartbeat_timeout_formula_and_feeding_period() -> None:
    assert device_timeout(30.0) == 31          # ceil(30.010)
    assert device_timeout(2.0) == 3
    assert device_timeout(0.5) == 1
    assert device_timeout(2.99) == 3
    assert feed_period(2.0, 31) == 1.0         # every second at most
    assert feed_period(0.5, 31) == 0.5         # or every keepalive
    assert feed_period(1.0, 2) == pytest.approx(2 / 3)   # several pets per device timeout
    assert feed_period(0.01, None) == 0.1      # bounded below
    assert ping_timeout(0.2, 3) == 1.0         # a slow answer is not a dead MCP
    assert ping_timeout(0.5, None) == 0.5


def test_pets_only_for_answers_from_our_mcp() -> None:
    keeper = Keeper(0.5, MCP, now=0.0)
    assert keeper.start(0.0) == [Pet(), SendPing(0.5)]
    assert keeper.tick(0.5) == []              # one ping at a time
    assert keeper.answered(MCP, 0.6) == [Pet()]
    assert keeper.tick(1.0) == [SendPing(0.5)]
    assert Keeper(0.2, MCP, now=0.0, ping_timeout=1.0).start(0.0) == [Pet(), SendPing(1.0)]
    actions = keeper.answered(999, 1.1)
    assert actions == [Starving("mcp.ctl answered from pid 999, not our MCP (pid 4242)", 0.6)]
    assert keeper.state is KeeperState.STARVING


def test_unanswered_pings_stop_the_feeding_until_the_mcp_answers_again() -> None:
    keeper = Keeper(1.0, MCP, now=0.0)
    assert keeper.start(0.0) == [Pet(), SendPing(1.0)]
    assert keeper.unanswered("mcp did not answer in time", 1.0) == [
        Starving("mcp did not answer in time", 0.0)]
    for now in (2.0, 3.0):
        assert keeper.tick(now) == [SendPing(1.0)]
        assert keeper.unanswered("still nothing", now + 1.0) == []   # logged once
    keeper.tick(4.0)
    assert keeper.answered(MCP, 4.5) == [Recovered(3.5), Pet()]
    assert keeper.state is KeeperState.FEEDING and keeper.last_pet == 4.5


def test_magic_close_needs_the_disarm_from_our_mcp_still_alive() -> None:
    keeper = Keeper(1.0, MCP, now=0.0)
    assert not keeper.disarm(777)
    assert keeper.terminate(MCP) == [Close(False, "no orderly shutdown was announced by the MCP")]
    assert keeper.terminate(MCP) == []
    assert keeper.tick(5.0) == [] and keeper.answered(MCP, 5.0) == []

    keeper = Keeper(1.0, MCP, now=0.0)
    assert keeper.disarm(MCP)
    assert keeper.terminate(MCP) == [Close(True, "orderly shutdown of the stack")]

    keeper = Keeper(1.0, MCP, now=0.0)
    assert keeper.disarm(MCP)
    (close,) = keeper.terminate(1)             # re-parented: the MCP died after disarming
    assert close == Close(False, "the MCP (pid 4242) that announced the shutdown is gone")


def test_impossible_transitions_raise() -> None:
    keeper = Keeper(1.0, MCP, now=0.0)
    keeper.terminate(MCP)
    with pytest.raises(RuntimeError, match="CLOSED -> FEEDING"):
        keeper._move(KeeperState.FEEDING)
