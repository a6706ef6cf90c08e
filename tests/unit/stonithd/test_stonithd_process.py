"""The real stonithd process on one host (no namespaces): requests, events, checks, meatware."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cluster.bus.client import request
from cluster.bus.messages.common import Ping
from cluster.bus.messages.stonithd import (
    FenceDevicesResult,
    FenceNode,
    FenceResult,
    ListFenceDevices,
    NodeFenced,
)
from cluster.cli.meatclient import main as meatclient
from cluster.lab.events import Event, EventLog
from cluster.lab.waiting import wait_for
from cluster.stonithd.service import CHECK_INTERVAL_ENV

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PLUGIN = """\
#!/bin/sh
case $1 in
getconfignames) echo hostlist ;;
gethosts) echo $hostlist ;;
status) [ -e "$(dirname "$0")/healthy" ] ;;
reset) [ "$2" = hang ] && sleep 60; echo "$2" >> "$(dirname "$0")/fenced" ;;
*) exit 1 ;;
esac
"""
AGENT = """\
#!/bin/sh
cat > "$(dirname "$0")/agent.stdin"
exit 0
"""


def _about(node: str) -> Callable[[Event], bool]:
    return lambda event: bool(event.msg.node == node)


class Stonithd:
    def __init__(self, conf: Path, run_dir: Path, log_dir: Path, env: dict[str, str]) -> None:
        self.conf, self.run_dir, self.log_dir = conf, run_dir, log_dir
        argv = [sys.executable, "-m", "cluster.stonithd", "-c", str(conf), "--node", "alice",
                "--run-dir", str(run_dir), "--log-dir", str(log_dir),
                "--state-dir", str(log_dir)]
        self.proc = subprocess.Popen(argv, env={**os.environ, **env},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._answers, 20, interval=0.05, message="stonithd did not come up")

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"stonithd exited {self.proc.returncode}: {self.log()}")
        try:
            request(self.run_dir, "stonithd", Ping(), timeout=1.0)
        except Exception:
            return False
        return True

    def ask(self, msg: object, timeout: float = 30.0) -> object:
        return request(self.run_dir, "stonithd", msg, timeout=timeout)

    def devices(self) -> dict[str, tuple[tuple[str, ...], str]]:
        reply = self.ask(ListFenceDevices())
        assert isinstance(reply, FenceDevicesResult)
        return {d.device: (d.hosts, d.status) for d in reply.devices}

    def log(self) -> str:
        path = self.log_dir / "stonithd.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    conf = tmp_path / "conf"
    (conf / "stonith" / "external").mkdir(parents=True)
    for path, text in ((conf / "stonith" / "external" / "lab", PLUGIN),
                       (conf / "stonith" / "fence_lab", AGENT)):
        path.write_text(text)
        path.chmod(0o755)
    (conf / "stonith" / "external" / "healthy").touch()
    (conf / "authkeys").write_text("auth 1\n1 sha256 secret\n")
    (conf / "authkeys").chmod(0o600)
    (conf / "ha.cf").write_text(
        "keepalive 500ms\ndeadtime 2\nbcast lo\nnode alice bob carol dave hang erin\n"
        "stonith_host * null nobody\n"
        "stonith_host alice null bob\n"
        "stonith_host alice external/lab carol hang\n"
        "stonith_host alice fence_lab ipaddr=10.0.0.9 pcmk_host_map=dave:4\n"
        "stonith_host alice meatware erin\n"
        "stonith_host bob null alice\n")
    return conf


@pytest.fixture
def daemon(conf: Path, run_dir: Path, tmp_path: Path) -> Iterator[Stonithd]:
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    stonithd = Stonithd(conf, run_dir, log_dir, {CHECK_INTERVAL_ENV: "0.3"})
    try:
        # Every device checked: host lists known, so only capable devices are tried.
        wait_for(lambda: all(s == "ok" for _h, s in stonithd.devices().values()), 20,
                 interval=0.05, message="devices not checked")
        yield stonithd
    finally:
        stonithd.stop()


def test_fences_through_each_device_type_and_publishes(daemon: Stonithd, conf: Path) -> None:
    assert daemon.devices() == {
        "null": (("bob",), "ok"), "external/lab": (("carol", "hang"), "ok"),
        "fence_lab 10.0.0.9": (("dave",), "ok"), "meatware": (("erin",), "ok")}
    with EventLog(daemon.run_dir, "stonithd", ["fence"]) as events:
        for node, device in (("bob", "null"), ("carol", "external/lab"),
                             ("dave", "fence_lab 10.0.0.9")):
            reply = daemon.ask(FenceNode(node, reason="test", requested_by="pytest"))
            assert isinstance(reply, FenceResult)
            assert (reply.node, reply.ok, reply.device, reply.attempts) == (node, True, device, 1)
            event = events.wait_for(_about(node), 10)
            assert event.msg == NodeFenced(node, True, "reset", device, reply.detail, "pytest")
    assert (conf / "stonith" / "external" / "fenced").read_text() == "carol\n"
    stdin = (conf / "stonith" / "agent.stdin").read_text().splitlines()
    assert stdin[:3] == ["action=reboot", "nodename=dave", "port=4"]
    log = daemon.log()
    assert "Resetting node carol with [external/lab]" in log
    assert "node carol now reset." in log
    refused = daemon.ask(FenceNode("alice"))
    assert isinstance(refused, FenceResult) and not refused.ok
    assert "STONITH of alice failed." in daemon.log()


def test_a_hanging_device_is_killed_and_the_request_fails_in_time(daemon: Stonithd) -> None:
    reply = daemon.ask(FenceNode("hang", timeout=4.0), timeout=10.0)
    assert isinstance(reply, FenceResult) and not reply.ok
    assert reply.device == "external/lab" and reply.attempts == 1
    assert "did not finish in time" in reply.detail or "killed" in reply.detail
    # The device is free again at once.
    ok = daemon.ask(FenceNode("carol", timeout=10.0))
    assert isinstance(ok, FenceResult) and ok.ok


def test_periodic_checks_report_a_broken_device(daemon: Stonithd, conf: Path) -> None:
    (conf / "stonith" / "external" / "healthy").unlink()
    wait_for(lambda: daemon.devices()["external/lab"][1].startswith("not operational"), 20,
             interval=0.05, message="failed check not reported")
    assert "STONITH device external/lab not operational!" in daemon.log()
    (conf / "stonith" / "external" / "healthy").touch()
    wait_for(lambda: daemon.devices()["external/lab"][1] == "ok", 20, interval=0.05)


def test_meatware_waits_for_the_operator(daemon: Stonithd,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    replies: list[object] = []
    asker = threading.Thread(target=lambda: replies.append(
        daemon.ask(FenceNode("erin", timeout=60.0), timeout=65.0)))
    asker.start()
    try:
        wait_for(lambda: "OPERATOR INTERVENTION REQUIRED to reset erin." in daemon.log(), 20,
                 interval=0.05)
        assert 'Run "meatclient -c erin" AFTER power-cycling the machine' in daemon.log()
        assert meatclient(["-c", "bob", "-y", "--run-dir", str(daemon.run_dir)]) == 1
        assert meatclient(["-c", "ERIN", "-y", "--run-dir", str(daemon.run_dir)]) == 0
    finally:
        asker.join(timeout=70)
    (reply,) = replies
    assert isinstance(reply, FenceResult)
    assert (reply.ok, reply.device, reply.detail) == (True, "meatware",
                                                      "operator confirmed with meatclient")
    assert "no meatware request is waiting for bob" in capsys.readouterr().err


def test_shutdown_answers_pending_requests(daemon: Stonithd) -> None:
    replies: list[object] = []
    asker = threading.Thread(target=lambda: replies.append(
        daemon.ask(FenceNode("erin", timeout=60.0), timeout=65.0)))
    asker.start()
    wait_for(lambda: "OPERATOR INTERVENTION REQUIRED" in daemon.log(), 20, interval=0.05)
    assert daemon.stop() == 0
    asker.join(timeout=20)
    (reply,) = replies
    assert isinstance(reply, FenceResult) and not reply.ok
    assert "shutting down" in reply.detail
