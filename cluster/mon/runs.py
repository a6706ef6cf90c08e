"""Starting one run of a service's monitor, whatever kind of monitor it is.

Role: the daemon asks :class:`Launcher` to run a service's monitor and gets
the outcome back through a callback from the loop; it never needs to know
which of four kinds ran:

* a Mon script: ``path args... hosts...`` (no hosts after ``;;``) as a
  child process with the MON_* environment, summary and detail from stdout;
* ``tcp``/``http``/``https``: the same, with ``python -m cluster.mon.probes``;
* ``icmp``: an echo round on the daemon's one ICMP socket (``pinger.py``);
* ``cluster``: a ``GetStatus`` request to crmd on the bus (``clusterview.py``).

Every run returns a handle whose ``cancel()`` stops it at once, without a
callback, and returns the output so far: the daemon's scheduler owns the
timeout of every monitor and reports a timed-out run itself. Child
processes also carry a backstop deadline in the runner, in case.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import zmq

from cluster.bus.client import AsyncClient, BusError
from cluster.bus.loop import Loop
from cluster.bus.messages.crmd import GetStatus, StatusResult
from cluster.mon import clusterview
from cluster.mon.builtins import ClusterOptions, IcmpOptions
from cluster.mon.outcome import MonitorOutcome
from cluster.mon.pinger import Pinger, PingHandle
from cluster.mon.processes import Job, ProcessResult, Runner
from cluster.mon.specs import ServiceSpec

__all__ = ["Launcher", "MonitorRun"]

log = logging.getLogger(__name__)

Done = Callable[[MonitorOutcome], None]
# The scheduler kills a monitor at its timeout; the runner's own deadline is
# only a backstop if that ever failed to happen.
_BACKSTOP = 5.0


class MonitorRun(Protocol):
    in_process: bool

    def cancel(self) -> str: ...


@dataclass(eq=False)
class _ProcessRun:
    runner: Runner
    job: Job | None = None
    in_process: bool = False

    def cancel(self) -> str:
        return self.runner.cancel(self.job) if self.job is not None else ""


@dataclass(eq=False)
class _PingRun:
    handle: PingHandle
    in_process: bool = True

    def cancel(self) -> str:
        self.handle.cancel()
        return ""


@dataclass(eq=False)
class _BusRun:
    cancelled: bool = False
    in_process: bool = True

    def cancel(self) -> str:
        self.cancelled = True
        return ""


class Launcher:
    """Runs monitors of every kind for the daemon."""

    def __init__(self, loop: Loop, runner: Runner, run_dir: Path,
                 ctx: zmq.Context[Any] | None) -> None:  # fmt: skip
        self._loop = loop
        self._runner = runner
        self._run_dir = run_dir
        self._ctx = ctx
        self._pinger: Pinger | None = None
        self._crmd: AsyncClient | None = None

    @staticmethod
    def in_process(spec: ServiceSpec) -> bool:
        """Runs without a child process (does not count against maxprocs)."""
        return isinstance(spec.monitor.builtin, IcmpOptions | ClusterOptions)

    def start(self, spec: ServiceSpec, env: Mapping[str, str], done: Done) -> MonitorRun:
        """Start one run of `spec`'s monitor; raises OSError if it cannot start."""
        builtin = spec.monitor.builtin
        hosts = list(spec.hosts) if spec.monitor.append_hosts else []
        if isinstance(builtin, IcmpOptions):
            if self._pinger is None:
                self._pinger = Pinger(self._loop)
            return _PingRun(self._pinger.ping(hosts, builtin, done))
        if isinstance(builtin, ClusterOptions):
            return self._ask_crmd(spec, builtin, hosts, done)
        if builtin is not None:  # tcp, http, https: our own Mon-style programs
            program = [sys.executable, "-m", "cluster.mon.probes", spec.monitor.name]
        else:
            assert spec.monitor.path is not None, "resolve_programs() was not called"
            program = [spec.monitor.path]
        argv = [*program, *spec.monitor.args, *hosts]
        run = _ProcessRun(self._runner)

        def finished(result: ProcessResult) -> None:
            for line in result.stderr.splitlines()[:20]:
                log.info("monitor %s said on stderr: %s", spec.key, line)
            if result.timed_out:
                done(MonitorOutcome.timeout(spec.timeout, result.stdout))
            else:
                done(MonitorOutcome.from_output(result.status, result.stdout))

        run.job = self._runner.start(f"monitor {spec.key}", argv, env=env, done=finished,
                                     timeout=spec.timeout + _BACKSTOP)  # fmt: skip
        return run

    def close(self) -> None:
        if self._pinger is not None:
            self._pinger.close()
            self._pinger = None
        if self._crmd is not None:
            self._crmd.close()
            self._crmd = None

    def _ask_crmd(self, spec: ServiceSpec, options: ClusterOptions, hosts: list[str],
                  done: Done) -> MonitorRun:  # fmt: skip
        run = _BusRun()
        if self._ctx is None:
            self._loop.call_later(0, lambda: done(clusterview.unavailable("no bus context")))
            return run
        if self._crmd is None:
            self._crmd = AsyncClient(self._ctx, self._loop, self._run_dir, "crmd")

        def answered(reply: object) -> None:
            if run.cancelled:
                return
            if isinstance(reply, StatusResult):
                done(clusterview.judge(reply, hosts, options))
            elif isinstance(reply, BusError):
                done(clusterview.unavailable(str(reply)))
            else:
                done(clusterview.unavailable(f"unexpected reply {type(reply).__name__}"))

        self._crmd.call(GetStatus(), min(options.timeout, spec.timeout), answered)
        return run
