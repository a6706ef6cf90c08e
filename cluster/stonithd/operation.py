"""One device operation running as a child of stonithd, driven by the event loop.

Role: start ``python -m cluster.stonithd.runner`` in a session of its own,
hand it the request on standard input, read its one-line JSON answer
without blocking the loop, and call back exactly once with an
:class:`~cluster.stonithd.outcome.Outcome`.  A runner that is still alive
:data:`~cluster.stonithd.fencing.KILL_GRACE` s after its own timeout is
killed with its whole session (the plugin script and anything it started)
and reported as TIMEOUT; :meth:`DeviceOperation.cancel` kills it without a
callback (a fence request preempting a status check, shutdown).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from cluster.bus.loop import Loop, Timer
from cluster.stonithd.fencing import KILL_GRACE
from cluster.stonithd.outcome import Code, Outcome
from cluster.stonithd.runner import request_json

__all__ = ["DeviceOperation"]

log = logging.getLogger(__name__)

_REAP_POLL = 0.01
_MAX_ANSWER = 1 << 20

Done = Callable[[Outcome], None]


class DeviceOperation:
    """A runner child for one operation (`op`) on one device."""

    def __init__(self, loop: Loop, device_type: str, params: str, op: str, host: str | None,
                 timeout: float, conf_dir: Path | None, done: Done) -> None:
        self._loop = loop
        self._done: Done | None = done
        self._out = b""
        self._timers: list[Timer] = []
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "cluster.stonithd.runner"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=None, start_new_session=True, close_fds=True)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._fd = self._proc.stdout.fileno()
        self._reading = True
        os.set_blocking(self._fd, False)
        try:
            self._proc.stdin.write(request_json(device_type, op, timeout, conf_dir=conf_dir,
                                                host=host, params=params))
            self._proc.stdin.close()
        except OSError as err:  # the runner died at once; its exit tells the rest
            log.warning("could not hand the request to the device runner: %s", err)
        loop.add_reader(self._fd, self._on_readable)
        self._timers.append(loop.call_later(timeout + KILL_GRACE, self._on_timeout))

    @property
    def pid(self) -> int:
        return self._proc.pid

    def cancel(self) -> None:
        """Kill the runner and forget it: no callback."""
        self._done = None
        self._kill()
        self._finish_reading()
        self._reap()

    def _on_readable(self) -> None:
        while True:
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                return
            except OSError as err:
                log.warning("reading the device runner failed: %s", err)
                chunk = b""
            if not chunk or len(self._out) > _MAX_ANSWER:
                self._finish_reading()
                self._reap()
                return
            self._out += chunk

    def _on_timeout(self) -> None:
        self._kill()
        self._report(Outcome(Code.TIMEOUT, "the device did not finish in time; the operation "
                             "was killed"))
        self._finish_reading()
        self._reap()

    def _finish_reading(self) -> None:
        # Once only: after the close the fd number may belong to someone else.
        if not self._reading:
            return
        self._reading = False
        self._loop.remove_reader(self._fd)
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def _reap(self) -> None:
        """Collect the exit status without blocking: poll until the runner is gone."""
        if self._proc.poll() is None:
            self._timers.append(self._loop.call_later(_REAP_POLL, self._reap))
            return
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._done is None:
            return
        try:
            answer = json.loads(self._out.decode("utf-8", errors="replace"))
        except ValueError:
            self._report(Outcome(Code.OOPS, f"the device runner exited "
                                 f"{self._proc.returncode} without an answer"))
            return
        self._report(Outcome.from_json(answer))

    def _report(self, outcome: Outcome) -> None:
        done, self._done = self._done, None
        if done is not None:
            done(outcome)

    def _kill(self) -> None:
        if self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
