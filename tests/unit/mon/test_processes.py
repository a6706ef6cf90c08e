"""Child processes on the daemon's loop: output, exit status, deadlines, cancel."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator

import pytest

from cluster.bus.loop import Loop
from cluster.mon.processes import MAX_OUTPUT, ProcessResult, Runner

pytestmark = pytest.mark.integration


@pytest.fixture
def loop() -> Iterator[Loop]:
    loop = Loop()
    yield loop
    loop.close()


@pytest.fixture
def runner(loop: Loop) -> Iterator[Runner]:
    runner = Runner(loop)
    loop.add_signal(signal.SIGCHLD, lambda _s: runner.reap())
    yield runner
    runner.kill_all()


def drive(loop: Loop, done: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the loop did not get there in time"
        loop.run_once(max_wait=0.05)


def run(
    loop: Loop,
    runner: Runner,
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
) -> ProcessResult:
    results: list[ProcessResult] = []
    job = runner.start("test", argv, done=results.append, timeout=10.0, env=env, stdin=stdin)
    drive(loop, lambda: bool(results))
    assert job.proc.returncode is not None
    return results[0]


def test_output_status_and_stdin(loop: Loop, runner: Runner) -> None:
    result = run(loop, runner, ["/bin/sh", "-c", "read l; echo got $l; echo oops >&2; exit 3"],
                 stdin=b"summary\n")  # fmt: skip
    assert (result.status, result.stdout, result.stderr) == (3, "got summary\n", "oops\n")
    assert not result.timed_out and result.signal is None
    assert len(runner) == 0


def test_environment_is_passed(loop: Loop, runner: Runner) -> None:
    result = run(loop, runner, ["/bin/sh", "-c", "echo $MON_GROUP"], env={"MON_GROUP": "g"})
    assert result.stdout == "g\n"


@pytest.mark.slow
def test_a_hung_program_and_its_children_are_killed_at_the_deadline(
    loop: Loop, runner: Runner
) -> None:
    started = time.monotonic()
    results: list[ProcessResult] = []
    argv = ["/bin/sh", "-c", "echo before; sleep 60 & sleep 60"]
    job = runner.start("test", argv, timeout=0.3, done=results.append)
    drive(loop, lambda: bool(results))
    assert results[0].timed_out and results[0].status == 128 + signal.SIGKILL
    assert results[0].stdout == "before\n"
    assert time.monotonic() - started < 5

    def group_gone() -> bool:
        try:
            os.killpg(job.proc.pid, 0)
        except ProcessLookupError:
            return True
        return False

    drive(loop, group_gone)  # the background sleep went with it


def test_cancel_kills_without_a_callback(loop: Loop, runner: Runner) -> None:
    called: list[ProcessResult] = []
    job = runner.start("test", ["/bin/sh", "-c", "echo partial; exec sleep 60"], timeout=60,
                       done=called.append)  # fmt: skip
    drive(loop, lambda: bool(job.out))
    assert runner.cancel(job) == "partial\n"
    drive(loop, lambda: len(runner) == 0)
    assert called == []
    with pytest.raises(ProcessLookupError):
        os.kill(job.proc.pid, 0)


def test_output_is_capped_and_a_missing_program_raises(loop: Loop, runner: Runner) -> None:
    result = run(loop, runner, ["/bin/sh", "-c", f"head -c {MAX_OUTPUT * 3} /dev/zero"])
    assert result.status == 0 and len(result.stdout) == MAX_OUTPUT
    with pytest.raises(OSError):
        runner.start("test", ["/nonexistent/monitor"], timeout=1, done=lambda _r: None)
