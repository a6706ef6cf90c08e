"""Monitor and alert programs as non-blocking child processes with deadlines.

Role: start a program (its own session, so its whole process group can be
killed), feed it stdin from a temporary file (never a pipe we could block
on), read its stdout and stderr from the daemon's loop as they arrive, and
report exactly once through a callback when it has exited: exit status,
output, and whether it had to be killed at its deadline. Nothing here
waits: exits are noticed on SIGCHLD (the daemon calls :meth:`Runner.reap`),
pipes through the loop's poller, deadlines through loop timers. A hung
program is killed with SIGKILL (the whole group) at its deadline; output
beyond ``MAX_OUTPUT`` bytes is read and dropped, so a chatty monitor can
neither fill memory nor block on a full pipe.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO

from cluster.bus.loop import Loop, Timer

__all__ = ["MAX_OUTPUT", "Job", "ProcessResult", "Runner"]

log = logging.getLogger(__name__)

MAX_OUTPUT = 256 * 1024
_READ_SIZE = 65536


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """How a program ended. ``status``: exit status, or 128+N after signal N."""

    status: int
    stdout: str
    stderr: str
    timed_out: bool
    duration: float
    signal: int | None = None


@dataclass(eq=False)
class Job:
    label: str
    proc: subprocess.Popen[bytes]
    started: float
    timeout: float
    done: Callable[[ProcessResult], None]
    timer: Timer | None = None
    timed_out: bool = False
    cancelled: bool = False
    out: bytearray = field(default_factory=bytearray)
    err: bytearray = field(default_factory=bytearray)
    fds: dict[int, bytearray] = field(default_factory=dict)


class Runner:
    """Child processes of the daemon, each with a deadline."""

    def __init__(self, loop: Loop) -> None:
        self._loop = loop
        self._jobs: dict[int, Job] = {}

    def __len__(self) -> int:
        return len(self._jobs)

    def start(
        self,
        label: str,
        argv: Sequence[str],
        *,
        timeout: float,
        done: Callable[[ProcessResult], None],
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
        cwd: str | None = None,
    ) -> Job:
        """Start `argv`; `done` is called from the loop once it ended.
        Raises OSError when it cannot be started at all."""
        with _stdin_file(stdin) as source:
            proc = subprocess.Popen(
                list(argv), stdin=source, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=dict(env) if env is not None else None, cwd=cwd, close_fds=True,
                start_new_session=True,
            )  # fmt: skip
        job = Job(label, proc, self._loop.clock(), timeout, done)
        for stream, buffer in ((proc.stdout, job.out), (proc.stderr, job.err)):
            assert stream is not None
            fd = stream.fileno()
            os.set_blocking(fd, False)
            job.fds[fd] = buffer
            self._loop.add_reader(fd, functools.partial(self._read, job, fd))
        job.timer = self._loop.call_later(timeout, lambda: self._expire(job))
        self._jobs[proc.pid] = job
        log.debug("started %s (pid %d): %s", label, proc.pid, " ".join(argv))
        return job

    def reap(self) -> None:
        """Collect every child that exited (call on SIGCHLD, and now and then)."""
        for job in list(self._jobs.values()):
            if job.proc.poll() is not None:
                self._finish(job)

    def cancel(self, job: Job) -> str:
        """Kill `job` now without a callback (its caller gave up on it);
        returns what it wrote to stdout so far. It is reaped on SIGCHLD."""
        job.cancelled = True
        if job.proc.poll() is None:
            _kill_group(job.proc)
        for fd in list(job.fds):
            self._read(job, fd)
        return job.out.decode("utf-8", errors="replace")

    def kill_all(self) -> None:
        """Shutdown: kill every running program's group and forget it."""
        for job in list(self._jobs.values()):
            _kill_group(job.proc)
            with contextlib.suppress(subprocess.TimeoutExpired):
                job.proc.wait(timeout=5)
            self._close(job)
        self._jobs.clear()

    # -- internals ----------------------------------------------------------------

    def _read(self, job: Job, fd: int) -> None:
        buffer = job.fds.get(fd)
        if buffer is None:
            return
        for _ in range(16):  # bounded: a fast writer must not starve the loop
            try:
                chunk = os.read(fd, _READ_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                chunk = b""
            if not chunk:
                self._drop_fd(job, fd)
                return
            room = MAX_OUTPUT - len(buffer)
            if room > 0:
                buffer += chunk[:room]

    def _expire(self, job: Job) -> None:
        job.timer = None
        if job.proc.pid in self._jobs and job.proc.poll() is None:
            log.warning("%s (pid %d) still running after %.1f s; killing it",
                        job.label, job.proc.pid, job.timeout)  # fmt: skip
            job.timed_out = True
            _kill_group(job.proc)
        self.reap()

    def _finish(self, job: Job) -> None:
        # The program exited: what it wrote is in the pipes, read what is left.
        for fd in list(job.fds):
            self._read(job, fd)
        self._jobs.pop(job.proc.pid, None)
        self._close(job)
        code = job.proc.returncode
        sig = -code if code < 0 else None
        result = ProcessResult(
            status=128 + sig if sig is not None else code,
            stdout=job.out.decode("utf-8", errors="replace"),
            stderr=job.err.decode("utf-8", errors="replace"),
            timed_out=job.timed_out,
            duration=self._loop.clock() - job.started,
            signal=sig,
        )
        if not job.cancelled:
            job.done(result)

    def _drop_fd(self, job: Job, fd: int) -> None:
        self._loop.remove_reader(fd)
        job.fds.pop(fd, None)

    def _close(self, job: Job) -> None:
        if job.timer is not None:
            job.timer.cancel()
            job.timer = None
        for fd in list(job.fds):
            self._drop_fd(job, fd)
        for stream in (job.proc.stdout, job.proc.stderr):
            if stream is not None:
                stream.close()


@contextlib.contextmanager
def _stdin_file(data: bytes | None) -> Iterator[IO[bytes] | int]:
    """A child's stdin: /dev/null, or an unlinked temporary file holding `data`."""
    if data is None:
        yield subprocess.DEVNULL
        return
    with tempfile.TemporaryFile() as handle:
        handle.write(data)
        handle.seek(0)
        yield handle


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
