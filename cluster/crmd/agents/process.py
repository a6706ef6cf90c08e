"""One agent program, run without blocking the daemon's event loop.

Role: :class:`ChildProcess` starts a program for the executor and calls
``on_exit(Completed)`` from the loop once it has exited and been reaped. Input:
argv and the complete environment. Output: a :class:`Completed` with the exit
status and the last :data:`CAPTURE_BYTES` of stdout and of stderr.

* stdin is /dev/null; the program gets its own session, hence its own process
  group (pgid == pid), so :meth:`ChildProcess.kill` can SIGKILL everything it
  started that stayed in the group (a timed-out script and its ``sleep``).
* stdout/stderr are pipes registered as loop readers and drained as data comes,
  so a chatty program never blocks on a full pipe; only the tail is kept.
* Exit is detected with a pidfd (``pidfd_open(2)``), which becomes readable
  when the process exits: no SIGCHLD handler, no ``waitpid(-1)`` stealing other
  children, and no reliance on pipe EOF, which never comes when a script leaves
  a daemon behind that inherited its stdout. On exit we reap with
  ``Popen.poll()``, take what is in the pipes now and close them. Without
  pidfds (kernels before 5.3) the child is polled every :data:`_POLL_INTERVAL`.
* A script without ``#!`` (``ENOEXEC``) is run by ``/bin/sh``, as a shell
  would, since Heartbeat ran resource scripts from its shell scripts.

Nobody else may reap our children: a process using this module must not call
``waitpid(-1)``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence

from cluster.bus.loop import Loop, Timer
from cluster.crmd.agents.protocol import Completed

__all__ = ["CAPTURE_BYTES", "ChildProcess"]

#: How much of each output stream is kept for ``detail`` and status matching.
CAPTURE_BYTES = 4096
_POLL_INTERVAL = 0.01  # fallback exit polling when pidfd_open is unavailable
_READ_SIZE = 65536


class _Capture:
    """One non-blocking output pipe; keeps only the last CAPTURE_BYTES."""

    def __init__(self, loop: Loop, fd: int) -> None:
        self._loop = loop
        self.fd: int | None = fd
        self.data = bytearray()
        os.set_blocking(fd, False)
        loop.add_reader(fd, self.read)

    def read(self) -> None:
        """Read what is available (called when readable, and once after exit)."""
        while self.fd is not None:
            try:
                chunk = os.read(self.fd, _READ_SIZE)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self.close()
                return
            self.data += chunk
            if len(self.data) > CAPTURE_BYTES:
                del self.data[: len(self.data) - CAPTURE_BYTES]

    def close(self) -> None:
        if self.fd is not None:
            self._loop.remove_reader(self.fd)
            os.close(self.fd)
            self.fd = None

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


class ChildProcess:
    """A running agent program; ``on_exit`` is called exactly once, from the loop.

    The constructor raises ``OSError`` when the program cannot be started
    (missing, not executable); nothing is left open then.
    """

    def __init__(
        self,
        loop: Loop,
        argv: Sequence[str],
        env: Mapping[str, str],
        on_exit: Callable[[Completed], None],
    ) -> None:
        self._loop = loop
        self._on_exit = on_exit
        self._pidfd: int | None = None
        self._poll_timer: Timer | None = None
        self._finished = False
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        try:
            self._proc = _popen(argv, env, out_w, err_w)
        except BaseException:
            for fd in (out_r, err_r):
                os.close(fd)
            raise
        finally:
            for fd in (out_w, err_w):
                os.close(fd)
        self.pid = self._proc.pid
        self._stdout = _Capture(loop, out_r)
        self._stderr = _Capture(loop, err_r)
        self._watch_exit()

    def kill(self) -> None:
        """SIGKILL the program's whole process group; ``on_exit`` follows."""
        if not self._finished:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)

    def close(self) -> None:
        """Kill and reap now, without calling ``on_exit`` (executor shutdown).
        Blocks only while the kernel delivers the SIGKILL."""
        if self._finished:
            return
        self.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=5.0)
        self._release()

    # -- internals -----------------------------------------------------------

    def _watch_exit(self) -> None:
        try:
            self._pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            self._poll_timer = self._loop.call_later(_POLL_INTERVAL, self._poll)
            return
        self._loop.add_reader(self._pidfd, self._poll)

    def _poll(self) -> None:
        self._poll_timer = None
        rc = self._proc.poll()
        if rc is None:
            if self._pidfd is None:
                self._poll_timer = self._loop.call_later(_POLL_INTERVAL, self._poll)
            return
        self._stdout.read()
        self._stderr.read()
        done = Completed(rc, self._stdout.text(), self._stderr.text())
        self._release()
        self._on_exit(done)

    def _release(self) -> None:
        self._finished = True
        if self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        if self._poll_timer is not None:
            self._poll_timer.cancel()
            self._poll_timer = None
        self._stdout.close()
        self._stderr.close()


def _popen(
    argv: Sequence[str], env: Mapping[str, str], out_w: int, err_w: int
) -> subprocess.Popen[bytes]:
    def start(args: Sequence[str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=out_w,
            stderr=err_w,
            env=dict(env),
            start_new_session=True,
            close_fds=True,
        )

    try:
        return start(argv)
    except OSError as err:
        if err.errno != errno.ENOEXEC:
            raise
        return start(["/bin/sh", *argv])
