"""Runs the child table: spawns, reaps, respawns and stops processes.

The shell around :class:`cluster.mcp.child.Child`: it starts processes
through :class:`cluster.mcp.spawner.Spawner` (the process template or exec),
turns SIGCHLD into ``Child.exited`` calls, carries out the
actions the machines return, logs every transition and publishes it on
``mcp.pub`` topic ``child``.  Shutdown stops children one at a time in
reverse start order, SIGTERM first and SIGKILL after the child's stop
timeout, as Heartbeat does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from cluster.bus.loop import Loop, Timer
from cluster.bus.messages.mcp import ChildInfo, ChildStateChanged
from cluster.mcp.child import Child, ChildState, GiveUp, NoRespawn, Spawn, SpawnAt, Terminate
from cluster.mcp.children import ChildSpec
from cluster.mcp.spawner import Spawner

log = logging.getLogger(__name__)

Publish = Callable[[ChildStateChanged], None]


class _Managed:
    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.machine = Child(spec.name)
        self.timers: list[Timer] = []
        self.retired = False  # a reload removed or changed it: leaves the table once dead

    def cancel_timers(self) -> None:
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()


class Supervisor:
    def __init__(self, loop: Loop, specs: Sequence[ChildSpec], log_dir: Path,
                 publish: Publish, spawner: Spawner | None = None) -> None:
        self._loop = loop
        self._children = [_Managed(spec) for spec in specs]
        self._log_dir = log_dir
        self._publish = publish
        self._spawner = spawner or Spawner()
        self._stopping = False
        self._on_stopped: Callable[[], None] | None = None

    # -- queries -------------------------------------------------------------
    def info(self) -> tuple[ChildInfo, ...]:
        return tuple(
            ChildInfo(name=m.spec.name, state=m.machine.state.value, pid=m.machine.pid,
                      command=m.spec.command, restarts=m.machine.restarts, user=m.spec.user)
            for m in self._children)

    def pids(self) -> dict[str, int]:
        return {m.spec.name: m.machine.pid for m in self._children if m.machine.pid is not None}

    # -- start ---------------------------------------------------------------
    def start_all(self) -> None:
        for managed in self._children:
            self._apply(managed, managed.machine.start())

    def replace_specs(self, specs: Sequence[ChildSpec]) -> None:
        """After a config reload: stop children no longer wanted or whose command
        changed, start new ones; a stopped child leaves the table once it has exited,
        so a line removed and added back by later reloads starts again."""
        wanted = {spec.name: spec for spec in specs}
        for managed in self._children:
            spec = wanted.get(managed.spec.name)
            if managed.retired or spec == managed.spec:
                continue
            why = ("is no longer configured" if spec is None
                   else f"changed (was: {managed.spec.command})")
            log.info("child %s %s; stopping it", managed.spec.name, why)
            managed.retired = True
            managed.cancel_timers()
            self._apply(managed, managed.machine.stop())
        self._drop_retired()
        current = {m.spec.name for m in self._children if not m.retired}
        for spec in specs:
            if spec.name not in current:
                managed = _Managed(spec)
                self._children.append(managed)
                self._apply(managed, managed.machine.start())

    def _drop_retired(self) -> None:
        self._children = [m for m in self._children if not (m.retired and not m.machine.alive)]

    def signal_all(self, signum: int) -> None:
        for managed in self._children:
            if managed.machine.alive:
                self._kill(managed, signum)

    # -- reaping -------------------------------------------------------------
    def reap(self) -> None:
        """SIGCHLD: collect every child that exited, then act on each death."""
        for pid, returncode in self._spawner.reap():
            managed = next((m for m in self._children if m.machine.pid == pid), None)
            if managed is None:
                log.debug("reaped pid %d (an orphan of one of our children)", pid)
                continue
            self._on_exit(managed, returncode)
        self._drop_retired()
        self._continue_shutdown()

    def _on_exit(self, managed: _Managed, returncode: int) -> None:
        machine = managed.machine
        pid = machine.pid
        was_stopping = machine.state is ChildState.STOPPING
        action = machine.exited(returncode, self._loop.clock())
        managed.cancel_timers()
        if was_stopping or isinstance(action, NoRespawn):
            log.info("child %s (pid %s) %s", managed.spec.name, pid, machine.last_exit)
        else:
            log.warning("child %s (pid %s) %s", managed.spec.name, pid, machine.last_exit)
        if self._stopping and not was_stopping and isinstance(action, Spawn | SpawnAt):
            machine.stop()
            self._changed(managed, "died during shutdown; not respawned")
            return
        if managed.spec.failfast and returncode != 0 and not was_stopping:
            log.critical("failfast child %s died (%s); this node must be rebooted",
                         managed.spec.name, machine.last_exit)
        self._apply(managed, action)

    # -- shutdown ------------------------------------------------------------
    def stop_all(self, on_stopped: Callable[[], None]) -> None:
        self._stopping = True
        self._on_stopped = on_stopped
        for managed in self._children:
            if managed.machine.state in (ChildState.BACKOFF, ChildState.EXITED,
                                         ChildState.FATAL):
                managed.cancel_timers()
                managed.machine.stop()
        self._continue_shutdown()

    def _continue_shutdown(self) -> None:
        if not self._stopping:
            return
        for managed in reversed(self._children):
            state = managed.machine.state
            if state is ChildState.STOPPING:
                return  # one at a time: wait for this one
            if state in (ChildState.STARTING, ChildState.RUNNING):
                self._apply(managed, managed.machine.stop())
                return
        callback, self._on_stopped = self._on_stopped, None
        if callback is not None:
            callback()

    # -- carrying out actions ---------------------------------------------------
    def _apply(self, managed: _Managed, action: object) -> None:
        name = managed.spec.name
        if isinstance(action, Spawn):
            self._spawn(managed)
        elif isinstance(action, SpawnAt):
            log.warning("child %s died %d times in a row; respawning in %.2f s",
                        name, managed.machine.fast_deaths, action.delay)
            managed.timers.append(self._loop.call_at(action.when, lambda: self._retry(managed)))
            self._changed(managed, f"backoff {action.delay:.2f} s")
        elif isinstance(action, GiveUp):
            log.error("child %s %s; not restarting it again", name, action.reason)
            self._changed(managed, action.reason)
        elif isinstance(action, NoRespawn):
            log.info("child %s: %s; leaving it stopped", name, action.reason)
            self._changed(managed, action.reason)
        elif isinstance(action, Terminate):
            log.info("stopping child %s (pid %s)", name, managed.machine.pid)
            self._kill(managed, signal.SIGTERM)
            managed.timers.append(self._loop.call_later(
                managed.spec.stop_timeout, lambda: self._escalate(managed)))
            self._changed(managed, "stop requested")

    def _retry(self, managed: _Managed) -> None:
        if managed.machine.state is ChildState.BACKOFF and not self._stopping:
            self._spawn(managed)

    def _escalate(self, managed: _Managed) -> None:
        if managed.machine.state is ChildState.STOPPING:
            log.error("child %s did not stop within %.0f s; killing it",
                      managed.spec.name, managed.spec.stop_timeout)
            self._kill(managed, signal.SIGKILL)

    def _spawn(self, managed: _Managed) -> None:
        spec = managed.spec
        now = self._loop.clock()
        was_restart = managed.machine.restarts > 0 and managed.machine.state is ChildState.BACKOFF
        try:
            output = open(self._log_dir / f"{_file_name(spec.name)}.console", "ab")  # noqa: SIM115
        except OSError as err:
            self._apply(managed, managed.machine.spawn_failed(now, f"cannot open its log: {err}"))
            return
        try:
            with output:
                pid = self._spawner.spawn(spec, output.fileno())
        except (OSError, KeyError, subprocess.SubprocessError) as err:
            log.error("cannot start child %s (%s): %s", spec.name, spec.command, err)
            self._apply(managed, managed.machine.spawn_failed(now, str(err)))
            return
        managed.machine.spawned(pid, now)
        managed.timers.append(self._loop.call_later(
            managed.machine.policy.startsecs + 0.01, lambda: self._tick(managed)))
        verb = "respawned" if was_restart else "started"
        log.info("%s child %s (pid %d, user %s): %s", verb, spec.name, pid,
                 spec.user, spec.command)
        self._changed(managed, verb)

    def _tick(self, managed: _Managed) -> None:
        before = managed.machine.state
        managed.machine.tick(self._loop.clock())
        if managed.machine.state is not before:
            self._changed(managed, "running")

    def _started_up(self) -> bool:
        """Is every built-in daemon past its start (running, or given up on)?"""
        return all(m.machine.state not in (ChildState.STOPPED, ChildState.STARTING,
                                           ChildState.BACKOFF)
                   for m in self._children if m.spec.builtin)

    def _kill(self, managed: _Managed, signum: int) -> None:
        pid = managed.machine.pid
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    def _changed(self, managed: _Managed, reason: str) -> None:
        if self._started_up():
            self._spawner.retire_template()
        self._publish(ChildStateChanged(name=managed.spec.name,
                                        state=managed.machine.state.value,
                                        pid=managed.machine.pid, reason=reason))

    def kill_everything(self) -> None:
        """Last resort on exit: no child may outlive the master control process."""
        for managed in self._children:
            pid = managed.machine.pid
            if pid is None:
                continue
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            self._spawner.wait(pid)
        self._spawner.close()


def _file_name(name: str) -> str:
    return name.replace(":", "-").replace("/", "_")
