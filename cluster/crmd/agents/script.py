"""Heartbeat ``resource.d`` scripts and LSB init scripts (``httpd``, ``drbddisk::r0``).

Role: a procedure agent for every haresources resource that is not a built-in
or an OCF agent. Inputs: the script name and its ``::`` arguments. Lookup, as
Heartbeat's ResourceManager (heartbeat.md 2.3): ``CONFDIR/resource.d/<name>``,
then ``/etc/init.d/<name>``; the first regular executable file wins. Missing:
``NOT_INSTALLED`` naming both paths. Invocation: ``script [args...] ACTION``
with ACTION ``start``, ``stop`` or ``status`` (for monitor), the action last.

* ``status`` -> :func:`exitcodes.status_outcome` (text and LSB code).
* ``start``: like ResourceManager's takegroup, ``status`` first and no start
  when it already runs (Heartbeat scripts are not all idempotent); then
  ``start``, judged by its exit code (LSB table).
* ``stop``: judged by its exit code; when it fails, ``status`` decides: a
  resource that reports itself stopped was stopped (Heartbeat only warned
  "probably not LSB-compliant"), so stop of a stopped resource is always ok.
  Heartbeat's 10 retries of a failing stop are the caller's policy, not ours.
"""

from __future__ import annotations

import os
from pathlib import Path

from cluster.crmd.agents.exitcodes import lsb_outcome, status_outcome
from cluster.crmd.agents.protocol import (
    AgentPaths,
    Completed,
    OpRequest,
    Outcome,
    Procedure,
    Reply,
    run_command,
)

__all__ = ["ScriptAgent", "find_script"]


def find_script(name: str, paths: AgentPaths) -> tuple[Path | None, tuple[Path, ...]]:
    """``(the script to run or None, the paths searched)``."""
    searched = (paths.conf_dir / "resource.d" / name, paths.init_dir / name)
    for candidate in searched:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate, searched
    return None, searched


class ScriptAgent:
    """A Heartbeat/LSB script resource."""

    def __init__(self, name: str, args: tuple[str, ...], paths: AgentPaths) -> None:
        self._name = name
        self._args = args
        self._paths = paths

    @property
    def busy(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def execute(self, request: OpRequest) -> Reply | Procedure:
        script, searched = find_script(self._name, self._paths)
        if script is None:
            listed = ", ".join(str(path) for path in searched)
            return Reply(Outcome.NOT_INSTALLED, detail=f"no executable script (searched {listed})")
        if request.action == "start":
            return self._start(script)
        if request.action == "stop":
            return self._stop(script)
        return self._status(script)

    def _argv(self, script: Path, action: str) -> tuple[str, ...]:
        return (str(script), *self._args, action)

    def _status(self, script: Path) -> Procedure:
        done = yield from run_command(self._argv(script, "status"))
        return _status_reply(done)

    def _start(self, script: Path) -> Procedure:
        status = yield from run_command(self._argv(script, "status"))
        if status.rc is not None and status_outcome(status.rc, status.stdout) is Outcome.OK:
            return Reply(Outcome.OK, status.rc, f"already running: {status.stdout.strip()}")
        done = yield from run_command(self._argv(script, "start"))
        return _action_reply(done, "start")

    def _stop(self, script: Path) -> Procedure:
        done = yield from run_command(self._argv(script, "stop"))
        reply = _action_reply(done, "stop")
        if reply.outcome is Outcome.OK:
            return reply
        status = yield from run_command(self._argv(script, "status"))
        if _status_reply(status).outcome is Outcome.NOT_RUNNING:
            return Reply(
                Outcome.OK,
                done.rc,
                f"stop exited {done.rc} but status says stopped (not LSB-compliant?): "
                f"{done.tail()}",
            )
        return reply


def _status_reply(done: Completed) -> Reply:
    if done.rc is None:
        return Reply(Outcome.FAILED, detail=f"cannot run: {done.error}")
    outcome = status_outcome(done.rc, done.stdout)
    return Reply(outcome, done.rc, (done.stdout.strip() or done.tail())[-400:])


def _action_reply(done: Completed, action: str) -> Reply:
    if done.rc is None:
        return Reply(Outcome.FAILED, detail=f"cannot run: {done.error}")
    if done.rc < 0:
        return Reply(Outcome.FAILED, done.rc, f"killed by signal {-done.rc}: {done.tail()}")
    outcome = lsb_outcome(done.rc, action)
    detail = "" if outcome is Outcome.OK and done.rc == 0 else done.tail()
    return Reply(outcome, done.rc, detail)
