"""One operation of one resource, carried out on the event loop under a deadline.

Role: the executor's worker. An :class:`Operation` asks the resource's agent
for its answer and, for a procedure, runs each ``Command`` as a
:class:`ChildProcess` and each ``Sleep`` as a loop timer, feeding results back
until the procedure returns its :class:`Reply`. Inputs: the agent, the request,
the base environment. Output: ``on_done(operation, reply)``, called exactly once
from the loop when the operation leaves ``RUNNING``; the reply is
``TIMEOUT`` when the deadline passed, and ``cancelled`` is set when the caller
withdrew it (the executor then reports nothing).

Theory of operation (``phase``)::

    QUEUED --begin--> RUNNING --reply / deadline / cancel--> DONE
    QUEUED --cancel-------------------------------------------> DONE

The deadline timer covers the whole operation. When it fires (or on cancel)
the procedure is closed, a pending sleep dropped and the running program's
process group killed; the operation ends once that program has been reaped,
so the next operation of the resource never overlaps a dying one, or
:data:`KILL_GRACE` later if the kernel will not let it die (D state).
Agent bugs (exceptions) end the operation as ``FAILED``; they never escape.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping

from cluster.bus.loop import Loop, Timer
from cluster.crmd.agents.process import ChildProcess
from cluster.crmd.agents.protocol import (
    Agent,
    Command,
    Completed,
    OpRequest,
    Outcome,
    Procedure,
    Reply,
)

__all__ = ["KILL_GRACE", "Operation", "Phase"]

log = logging.getLogger(__name__)

KILL_GRACE = 5.0  #: seconds a SIGKILLed program may take to die before we give up on it


class Phase(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


class Operation:
    """``action`` as requested (``probe`` stays ``probe``); see the module doc."""

    def __init__(
        self,
        loop: Loop,
        action: str,
        request: OpRequest,
        env: Mapping[str, str],
        on_done: Callable[[Operation, Reply], None],
        *,
        label: str,
    ) -> None:
        self.action = action
        self.request = request
        self.label = label  # "start IPaddr::10.0.0.5" for log lines
        self.phase = Phase.QUEUED
        self.started = 0.0
        self.cancelled = False
        self._loop = loop
        self._env = env
        self._on_done = on_done
        self._procedure: Procedure | None = None
        self._child: ChildProcess | None = None
        self._sleep: Timer | None = None
        self._deadline: Timer | None = None
        self._kill_timer: Timer | None = None
        self._timed_out = False

    def begin(self, agent: Agent) -> None:
        self._require(Phase.QUEUED)
        self.phase, self.started = Phase.RUNNING, self._loop.clock()  # QUEUED -> RUNNING
        self._deadline = self._loop.call_later(self.request.timeout, self._expire)
        try:
            answer = agent.execute(self.request)
        except Exception as err:
            log.exception("%s: agent raised", self.label)
            self._end(Reply(Outcome.FAILED, detail=f"internal error: {err!r}"))
            return
        if isinstance(answer, Reply):
            self._end(answer)
        else:
            self._procedure = answer
            self._advance(None)

    def cancel(self) -> None:
        """Withdraw: nothing is reported; a running program is killed first."""
        if self.phase is Phase.QUEUED:
            self.cancelled, self.phase = True, Phase.DONE  # QUEUED -> DONE
        elif self.phase is Phase.RUNNING and not self.cancelled:
            self.cancelled = True
            self._abort()

    def close(self) -> None:
        """Shutdown: kill and reap the program now, end without a report."""
        self.cancelled = True
        if self._child is not None:
            self._child.close()
            self._child = None
        if self.phase is Phase.RUNNING:
            self._abort()
        self.phase = Phase.DONE

    # -- internals ---------------------------------------------------------------

    def _require(self, phase: Phase) -> None:
        if self.phase is not phase:
            raise RuntimeError(f"{self.label}: operation is {self.phase.value}, not {phase.value}")

    def _advance(self, value: Completed | None) -> None:
        """Feed the procedure its last step's result and start its next step."""
        assert self._procedure is not None
        try:
            step = self._procedure.send(value)
        except StopIteration as stop:
            self._end(stop.value)
            return
        except Exception as err:
            log.exception("%s: agent raised", self.label)
            self._end(Reply(Outcome.FAILED, detail=f"internal error: {err!r}"))
            return
        if isinstance(step, Command):
            self._spawn(step)
        else:
            self._sleep = self._loop.call_later(step.seconds, self._woke)

    def _spawn(self, command: Command) -> None:
        env = {**self._env, **command.env}
        try:
            self._child = ChildProcess(self._loop, command.argv, env, self._exited)
        except OSError as err:
            self._advance(Completed(None, error=f"{command.argv[0]}: {err.strerror or err}"))

    def _woke(self) -> None:
        self._sleep = None
        self._advance(None)

    def _exited(self, done: Completed) -> None:
        self._child = None
        if self._timed_out or self.cancelled:
            self._end(Reply(Outcome.FAILED, done.rc, "killed"))
        elif self.phase is Phase.RUNNING:
            self._advance(done)

    def _expire(self) -> None:
        self._deadline = None
        if self.phase is not Phase.RUNNING:
            return
        self._timed_out = True
        self._abort()

    def _abort(self) -> None:
        """Close the procedure and stop its step; end now, or once the killed
        program has been reaped (``_exited``)."""
        if self._procedure is not None:
            self._procedure.close()
        if self._sleep is not None:
            self._sleep.cancel()
            self._sleep = None
        if self._child is None:
            self._end(Reply(Outcome.FAILED, detail="cancelled"))
            return
        self._child.kill()
        self._kill_timer = self._loop.call_later(KILL_GRACE, self._give_up)

    def _give_up(self) -> None:
        pid = self._child.pid if self._child is not None else "?"
        log.error("%s: process group %s survived SIGKILL for %g s", self.label, pid, KILL_GRACE)
        self._end(Reply(Outcome.FAILED, detail="killed"))

    def _end(self, reply: Reply) -> None:
        if self.phase is not Phase.RUNNING:
            return
        self.phase = Phase.DONE  # RUNNING -> DONE
        for timer in (self._deadline, self._kill_timer, self._sleep):
            if timer is not None:
                timer.cancel()
        if self._timed_out and not self.cancelled:
            timeout = self.request.timeout
            reply = Reply(Outcome.TIMEOUT, None, f"no result within {timeout:g} s; killed")
        self._on_done(self, reply)
