"""The real keeper process against the FIFO watchdog and a stand-in MCP in this process.

The keeper only counts Ping answers from its parent's pid; it is our child,
so a ControlServer named ``mcp`` in a thread of this process is its MCP.
Pausing that thread is a hung MCP.  ha.cf: keepalive 100 ms, deadtime 500 ms,
so the watchdog timeout is ceil(0.51) = 1 s and the keeper pings every 0.1 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

from cluster.bus.client import RemoteError, request
from cluster.bus.loop import Loop
from cluster.bus.messages.common import OkResult
from cluster.bus.messages.watchdog import WatchdogDisarm
from cluster.bus.server import ControlServer
from cluster.lab.waiting import wait_for
from cluster.lab.watchdog_sim import WatchdogSimulator

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class FakeMcp:
    """mcp.ctl answering Ping from a thread; `pause()` stops answering (a hung MCP)."""

    def __init__(self, run_dir: Path) -> None:
        self.answering = threading.Event()
        self.answering.set()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(run_dir,), daemon=True)
        self._thread.start()
        assert self._ready.wait(10)

    def _run(self, run_dir: Path) -> None:
        ctx: zmq.Context[Any] = zmq.Context()
        loop = Loop()
        server = ControlServer(ctx, loop, run_dir, "mcp", {}, loop.clock())
        self._ready.set()
        try:
            while not self._stop.is_set():
                if self.answering.is_set():
                    loop.run_once(max_wait=0.01)
                else:
                    time.sleep(0.01)
        finally:
            server.close()
            loop.close()
            ctx.term()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


class Keeper:
    def __init__(self, tmp_path: Path, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.log_dir = tmp_path / "log"
        self.log_dir.mkdir()
        self.resets: list[float] = []
        self.dog = WatchdogSimulator(tmp_path / "watchdog", lambda: self.resets.append(0.0))
        conf = tmp_path / "conf"
        conf.mkdir()
        (conf / "ha.cf").write_text("keepalive 100ms\ndeadtime 500ms\nbcast lo\nnode alice\n"
                                    f"watchdog {self.dog.path}\n")
        (conf / "authkeys").write_text("auth 1\n1 sha256 secret\n")
        (conf / "authkeys").chmod(0o600)
        self.mcp = FakeMcp(run_dir)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cluster.watchdog", "-c", str(conf), "--node", "alice",
             "--run-dir", str(run_dir), "--log-dir", str(self.log_dir),
             "--state-dir", str(self.log_dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def log(self) -> str:
        path = self.log_dir / "watchdog.log"
        return path.read_text() if path.exists() else ""

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self.mcp.close()
        self.dog.close()


@pytest.fixture
def keeper(tmp_path: Path, run_dir: Path) -> Iterator[Keeper]:
    started = Keeper(tmp_path, run_dir)
    try:
        started.dog.wait_for("timeout 1", 20)      # opened, timeout set in-band
        started.dog.wait_for("armed", 20)
        # Signal handlers are installed once the daemon says it started.
        wait_for(lambda: "watchdog started (pid" in started.log(), 20, interval=0.02)
        yield started
    finally:
        started.close()


def test_feeds_while_the_mcp_answers_and_starves_when_it_hangs(keeper: Keeper) -> None:
    with pytest.raises(TimeoutError):
        keeper.dog.wait_fired(2.5)                 # 2.5 device timeouts: fed all along
    assert "Using watchdog device: " in keeper.log()
    assert "watchdog timeout set to 1 s" in keeper.log()
    keeper.mcp.answering.clear()                   # the MCP hangs
    hung = time.monotonic()
    fired = keeper.dog.wait_fired(10)
    assert fired - hung < 1.0 + 2.0                # fed no more (slack for a loaded box)
    assert keeper.resets == [0.0]
    assert "master control process not answering" in keeper.log()


def test_orderly_shutdown_closes_with_magic_and_nothing_fires(keeper: Keeper) -> None:
    with pytest.raises(RemoteError, match="not this keeper's MCP"):
        request(keeper.run_dir, "watchdog", WatchdogDisarm(1), timeout=5)
    reply = request(keeper.run_dir, "watchdog", WatchdogDisarm(os.getpid()), timeout=5)
    assert isinstance(reply, OkResult)
    keeper.proc.send_signal(signal.SIGTERM)
    assert keeper.proc.wait(timeout=10) == 0
    keeper.dog.wait_for("magic close", 5)
    with pytest.raises(TimeoutError):
        keeper.dog.wait_fired(2.0)
    assert keeper.resets == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_any_other_ending_leaves_the_device_armed(keeper: Keeper, sig: signal.Signals) -> None:
    keeper.proc.send_signal(sig)
    keeper.proc.wait(timeout=10)
    closed = keeper.dog.wait_for("unexpected close", 5)
    fired = keeper.dog.wait_fired(5)
    assert fired - closed < 1.0 + 2.0              # slack for a loaded box
    if sig == signal.SIGTERM:
        assert "closing the watchdog device armed" in keeper.log()
