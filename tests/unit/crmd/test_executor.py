"""The executor with a real loop and tiny real shell scripts in tmp_path.

Waits are bounded loop runs (``run_until``) on real subprocesses; no test sleeps.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.bus.loop import Loop
from cluster.config.haresources import parse_resource
from cluster.crmd.agents.protocol import OpResult, Outcome
from cluster.crmd.executor import Executor

from .agentkit import FakeNetlink, RecordingArp, run_until, write_script


class Rig:
    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path
        self.conf = tmp_path / "conf"
        self.loop = Loop()
        self.netlink = FakeNetlink()
        self.netlink.add_link("eth0", "10.0.0.1", 24)
        self.arp = RecordingArp()
        env = {"PATH": os.environ["PATH"], "OCF_ROOT": str(tmp_path / "ocf"),
               "HA_RSCTMP": str(tmp_path / "rsc"), "T": str(tmp_path)}  # fmt: skip
        self.executor = Executor(self.loop, self.conf, env, init_dir=tmp_path / "init.d",
                                 netlink=self.netlink, arp=self.arp)  # fmt: skip
        self.results: list[OpResult] = []

    def script(self, name: str, body: str) -> Path:
        return write_script(self.conf / "resource.d" / name, body)

    def run(self, token: str, action: str, timeout: float | None = None) -> OpResult:
        """Run one operation and wait for its result."""
        box: list[OpResult] = []
        self.executor.run(parse_resource(token), action, box.append, timeout)
        run_until(self.loop, lambda: box)
        return box[0]

    def submit(self, token: str, action: str, timeout: float | None = None) -> None:
        self.executor.run(parse_resource(token), action, self.results.append, timeout)

    def lines(self, name: str) -> list[str]:
        path = self.dir / name
        return path.read_text().split() if path.exists() else []


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    rig = Rig(tmp_path)
    yield rig
    rig.executor.close()
    rig.loop.close()


# A Heartbeat-style script called as "svc NAME ACTION": state in a file, status as text.
_SERVICE = """
    case "$2" in
    start) echo "$1" > "$T/$1.state"; echo "start $1" >> "$T/log" ;;
    stop) rm -f "$T/$1.state"; echo "stop $1" >> "$T/log" ;;
    status) echo "status $1" >> "$T/log"
            [ -e "$T/$1.state" ] && echo "svc $1 is running" && exit 0
            echo "svc $1 is stopped"; exit 3 ;;
    esac
"""


def test_script_lifecycle_and_lsb_status(rig: Rig) -> None:
    rig.script("svc", _SERVICE)
    assert rig.run("svc::a", "probe").outcome is Outcome.NOT_RUNNING
    started = rig.run("svc::a", "start")
    assert (started.resource, started.action, started.outcome) == ("svc::a", "start", Outcome.OK)
    assert started.duration >= 0
    monitor = rig.run("svc::a", "monitor")
    assert monitor.outcome is Outcome.OK and "is running" in monitor.detail
    assert rig.run("svc::a", "stop").outcome is Outcome.OK
    assert rig.run("svc::a", "stop").outcome is Outcome.OK
    assert rig.run("svc::a", "monitor").outcome is Outcome.NOT_RUNNING
    # start asks status first (Heartbeat's takegroup); stop of a stopped one still runs stop
    expected = ["status", "status", "start", "status", "stop", "stop", "status"]
    assert rig.lines("log")[::2] == expected


def test_not_installed_names_the_paths_searched(rig: Rig) -> None:
    result = rig.run("nosuchd", "start")
    assert result.outcome is Outcome.NOT_INSTALLED and result.rc is None
    assert str(rig.conf / "resource.d" / "nosuchd") in result.detail
    assert str(rig.dir / "init.d" / "nosuchd") in result.detail
    result = rig.run("ocf:acme:nothing::a=b", "monitor")
    assert result.outcome is Outcome.NOT_INSTALLED


def _live_members(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that are not zombies."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry))
    return members


@pytest.mark.slow
def test_timeout_kills_the_whole_process_group(rig: Rig) -> None:
    rig.script("hang", 'echo $$ > "$T/pid"; sleep 60 & sleep 60\n')
    started = time.monotonic()
    result = rig.run("hang", "start", timeout=0.5)
    assert result.outcome is Outcome.TIMEOUT and result.rc is None
    assert 0.5 <= result.duration < 5 and time.monotonic() - started < 5
    pgid = int(rig.lines("pid")[0])
    deadline = time.monotonic() + 5
    while _live_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.01)  # SIGKILL delivery to the background sleep
    assert _live_members(pgid) == []


def test_a_daemon_left_holding_stdout_does_not_delay_completion(rig: Rig) -> None:
    # The script exits at once but its background child keeps the pipes open:
    # completion comes from the pidfd, not from EOF.
    rig.script("daemonish", 'echo $$ > "$T/pid"; sleep 60 & echo started\n')
    try:
        result = rig.run("daemonish", "start", timeout=10)
        assert result.outcome is Outcome.OK and result.duration < 5
    finally:
        os.killpg(int(rig.lines("pid")[0]), signal.SIGKILL)


def test_operations_on_one_resource_run_in_order_one_at_a_time(rig: Rig) -> None:
    rig.script("slow", """
        echo "begin-$2" >> "$T/log"
        sleep 0.01
        echo "end-$2" >> "$T/log"
        [ "$2" = status ] && exit 3
        exit 0
    """)  # fmt: skip
    for action in ("start", "monitor", "stop", "monitor"):
        rig.submit("slow::x", action)
    run_until(rig.loop, lambda: len(rig.results) == 4)
    assert [r.action for r in rig.results] == ["start", "monitor", "stop", "monitor"]
    assert rig.lines("log") == [
        "begin-status", "end-status", "begin-start", "end-start",  # start: status first
        "begin-status", "end-status", "begin-stop", "end-stop", "begin-status", "end-status",
    ]  # fmt: skip


def test_different_resources_run_in_parallel(rig: Rig) -> None:
    # a waits (bounded) for b to begin: only possible if both run at once.
    rig.script("a", """
        i=0; while [ ! -e "$T/b-begun" ] && [ $i -lt 500 ]; do i=$((i+1)); sleep 0.01; done
        [ -e "$T/b-begun" ]
    """)  # fmt: skip
    rig.script("b", 'touch "$T/b-begun"\n')
    rig.submit("a", "start")
    rig.submit("b", "start")
    run_until(rig.loop, lambda: len(rig.results) == 2)
    assert {(r.resource, r.outcome) for r in rig.results} == {("a", Outcome.OK), ("b", Outcome.OK)}


def test_callbacks_never_run_inside_run(rig: Rig) -> None:
    called: list[OpResult] = []
    rig.executor.run(parse_resource("10.0.0.5/24/eth0"), "monitor", called.append)
    assert called == []  # even a built-in answers from the loop
    run_until(rig.loop, lambda: called)
    assert called[0].outcome is Outcome.NOT_RUNNING


def test_built_in_ip_through_the_executor_and_idle_after_announcements(rig: Rig) -> None:
    token = "IPaddr::10.0.0.5/24/eth0::arp_count=3::arp_interval=1"
    result = rig.run(token, "start")
    assert result.outcome is Outcome.OK and result.rc is None
    assert rig.netlink.holds("10.0.0.5") == [("eth0", 24)]
    run_until(rig.loop, lambda: rig.executor.idle)
    assert len(rig.arp.sent) == 3
    assert rig.run(token, "stop").outcome is Outcome.OK
    assert rig.netlink.holds("10.0.0.5") == []


def test_cancel_queued_and_running_operations(rig: Rig) -> None:
    rig.script("hang", """
        echo "$1" >> "$T/log"
        [ "$1" = start ] && exec sleep 60
        [ "$1" = status ] && exit 3
        exit 0
    """)  # fmt: skip
    spec = parse_resource("hang")
    running = rig.executor.run(spec, "start", rig.results.append)
    queued = rig.executor.run(spec, "stop", rig.results.append)
    queued.cancel()
    after = rig.executor.run(spec, "stop", rig.results.append)
    run_until(rig.loop, lambda: rig.lines("log") == ["status", "start"])
    running.cancel()
    run_until(rig.loop, lambda: after.done)
    assert [(r.action, r.outcome) for r in rig.results] == [("stop", Outcome.OK)]
    assert queued.done and running.done
    assert rig.lines("log") == ["status", "start", "stop"]


def test_recurring_monitor_reports_only_changes_and_never_overlaps(rig: Rig) -> None:
    rig.script("svc", """
        echo "begin" >> "$T/log"; sleep 0.01; echo "end" >> "$T/log"
        if [ -e "$T/up" ]; then echo running; else echo stopped; exit 3; fi
    """)  # fmt: skip
    changes: list[Outcome] = []
    spec = parse_resource("svc")
    rig.executor.start_monitor(spec, 0.01, lambda r: changes.append(r.outcome))
    assert rig.executor.monitors == {"svc"}
    run_until(rig.loop, lambda: rig.lines("log").count("end") >= 4)
    (rig.dir / "up").touch()
    run_until(rig.loop, lambda: len(changes) == 2)
    runs = rig.lines("log").count("end")
    run_until(rig.loop, lambda: rig.lines("log").count("end") >= runs + 3)
    (rig.dir / "up").unlink()
    run_until(rig.loop, lambda: len(changes) == 3)
    rig.executor.stop_monitor(spec)
    assert changes == [Outcome.NOT_RUNNING, Outcome.OK, Outcome.NOT_RUNNING]
    run_until(rig.loop, lambda: rig.executor.idle)
    log = rig.lines("log")
    assert log == ["begin", "end"] * (len(log) // 2)  # strictly alternating: no overlap


def test_stop_ends_the_recurring_monitor(rig: Rig) -> None:
    rig.script("svc", 'echo "$1" >> "$T/log"; [ "$1" = status ] && echo running; exit 0\n')
    spec = parse_resource("svc")
    changes: list[OpResult] = []
    rig.executor.start_monitor(spec, 0.01, changes.append)
    run_until(rig.loop, lambda: rig.lines("log").count("status") >= 2)
    assert rig.run("svc", "stop").outcome is Outcome.OK
    assert rig.executor.monitors == frozenset()
    run_until(rig.loop, lambda: rig.executor.idle)
    assert rig.lines("log")[-1] == "stop"
    assert [r.outcome for r in changes] == [Outcome.OK]


def test_ocf_agent_gets_its_environment(rig: Rig) -> None:
    write_script(rig.dir / "ocf" / "resource.d" / "acme" / "probe", """
        env | grep -E '^(OCF_|HA_RSCTMP)' | sort > "$T/env.$1"
        [ "$1" = monitor ] && exit 7
        echo "ocf-exit-reason:bad nic" >&2
        exit 2
    """)  # fmt: skip
    token = "ocf:acme:probe::ip=10.0.0.5::nic=eth0"
    result = rig.run(token, "probe")
    assert (result.action, result.outcome, result.rc) == ("probe", Outcome.NOT_RUNNING, 7)
    env = dict(line.split("=", 1) for line in rig.lines("env.monitor"))
    assert env["OCF_RESKEY_ip"] == "10.0.0.5" and env["OCF_RESKEY_nic"] == "eth0"
    assert env["OCF_RESKEY_CRM_meta_interval"] == "0"
    assert env["OCF_RESKEY_CRM_meta_timeout"] == "20000"
    assert env["OCF_ROOT"] == str(rig.dir / "ocf")
    assert env["HA_RSCTMP"] == str(rig.dir / "rsc")
    result = rig.run(token, "start", timeout=7.5)
    assert (result.outcome, result.detail) == (Outcome.INVALID_ARGS, "bad nic")
    env = dict(line.split("=", 1) for line in rig.lines("env.start"))
    assert env["OCF_RESKEY_CRM_meta_timeout"] == "7500"
    assert env["OCF_RESKEY_CRM_meta_name"] == "start"


def test_script_without_shebang_runs_under_sh_and_output_is_bounded(rig: Rig) -> None:
    path = rig.conf / "resource.d" / "old"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('yes line | head -n 100000\necho "last words" >&2\nexit 1\n')
    path.chmod(0o755)
    result = rig.run("old", "start")
    assert (result.outcome, result.rc, result.detail) == (Outcome.FAILED, 1, "last words")


def test_unknown_action_and_bad_timeout_are_refused(rig: Rig) -> None:
    spec = parse_resource("svc")
    with pytest.raises(ValueError, match="unknown action"):
        rig.executor.run(spec, "restart", rig.results.append)
    with pytest.raises(ValueError, match="timeout"):
        rig.executor.run(spec, "start", rig.results.append, timeout=0)
    with pytest.raises(ValueError, match="interval"):
        rig.executor.start_monitor(spec, 0, rig.results.append)
