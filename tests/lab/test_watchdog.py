"""The watchdog keeper in a running stack: a dead or hung MCP gets the node reset.

node n1 runs the whole stack with ``watchdog <fifo>``; the FIFO is the lab's
watchdog simulator (:mod:`cluster.lab.watchdog_sim`), which powers n1 off
when it is not fed for its timeout.  deadtime 2 s gives Heartbeat's
timeout ceil(2.01) = 3 s, announced by the keeper; keepalive 200 ms makes
the keeper ping the MCP every 0.2 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from cluster.lab import Lab, Node, wait_for
from cluster.lab.watchdog_sim import WatchdogSimulator

_TIMEOUT = 30.0
_DOG_TIMEOUT = 3.0
_SLACK = 1.0            # thread scheduling on a loaded host; the keeper pets every 0.2 s
_KEEPER_TITLE = "cluster: watchdog"

HA_CF = """\
keepalive 200ms
deadtime 2
warntime 1
initdead 4
auto_failback off
bcast eth0
node n1
watchdog {device}
"""


def _keeper_pid(node: Node) -> int | None:
    return node.pid_of(_KEEPER_TITLE)


def _log(node: Node, daemon: str) -> str:
    return node.daemon_log(daemon)


@pytest.fixture
def stack(lab: Lab) -> Iterator[tuple[Node, subprocess.Popen[bytes], WatchdogSimulator]]:
    lan = lab.add_lan("lan")
    n1 = lab.add_node("n1", [lan])
    dog = WatchdogSimulator(n1.dir / "watchdog", n1.power_off, lab=lab)
    n1.write_config(ha_cf=HA_CF.format(device=dog.path))
    mcp = n1.start_stack()
    dog.wait_for("timeout 3", _TIMEOUT)
    dog.wait_for("armed", _TIMEOUT)
    wait_for(lambda: _keeper_pid(n1), _TIMEOUT, message="keeper running")
    assert "Using watchdog device: " + str(dog.path) in _log(n1, "watchdog")
    yield n1, mcp, dog


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGSTOP])
def test_a_dead_or_hung_mcp_gets_the_node_reset(
        stack: tuple[Node, subprocess.Popen[bytes], WatchdogSimulator],
        how: signal.Signals) -> None:
    n1, mcp, dog = stack
    broken = time.monotonic()
    os.kill(mcp.pid, how)
    fired = dog.wait_fired(_TIMEOUT)
    assert _DOG_TIMEOUT - 0.5 <= fired - broken <= _DOG_TIMEOUT + _SLACK
    wait_for(lambda: not n1.powered, _TIMEOUT, message="node not powered off")
    assert not n1.pids()
    assert "master control process not answering" in _log(n1, "watchdog")
    assert dog.count("magic close") == 0


def test_an_orderly_stop_disarms_the_watchdog(
        stack: tuple[Node, subprocess.Popen[bytes], WatchdogSimulator]) -> None:
    n1, mcp, dog = stack
    mcp.send_signal(signal.SIGTERM)
    assert mcp.wait(timeout=_TIMEOUT) == 0
    dog.wait_for("magic close", _TIMEOUT)
    with pytest.raises(TimeoutError):
        dog.wait_fired(2 * _DOG_TIMEOUT)
    assert n1.powered and not n1.pids()
    assert "watchdog keeper told this stop is orderly" in _log(n1, "mcp")
    assert "closing the watchdog device with the magic close" in _log(n1, "watchdog")


def test_a_killed_keeper_is_respawned_in_time_and_the_node_lives(
        stack: tuple[Node, subprocess.Popen[bytes], WatchdogSimulator]) -> None:
    n1, mcp, dog = stack
    old = _keeper_pid(n1)
    assert old is not None
    killed = time.monotonic()
    os.kill(old, signal.SIGKILL)
    dog.wait_for("unexpected close", _TIMEOUT, since=killed)
    wait_for(lambda: _keeper_pid(n1) not in (None, old), _TIMEOUT, message="keeper respawn")
    dog.wait_for("timeout 3", _TIMEOUT, since=killed)   # the new keeper reopened the device
    with pytest.raises(TimeoutError):
        dog.wait_fired(2 * _DOG_TIMEOUT)
    assert mcp.poll() is None and n1.powered
    mcp.send_signal(signal.SIGTERM)
    assert mcp.wait(timeout=_TIMEOUT) == 0
    dog.wait_for("magic close", _TIMEOUT)
