"""One Operation driving fake agents: steps, deadlines, cancel, agent bugs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.bus.loop import Loop
from cluster.crmd.agents.operation import Operation, Phase
from cluster.crmd.agents.protocol import (
    Completed,
    OpRequest,
    Outcome,
    Procedure,
    Reply,
    run_command,
    sleep,
)

from .agentkit import FakeClock


class FakeAgent:
    """Answers with whatever ``answer`` returns (a Reply or a procedure)."""

    def __init__(self, answer: object) -> None:
        self._answer = answer
        self.busy = False

    def execute(self, request: OpRequest) -> Reply | Procedure:
        if callable(self._answer):
            result: Reply | Procedure = self._answer()
            return result
        raise RuntimeError("agent bug")

    def close(self) -> None:
        pass


class Rig:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.loop = Loop(self.clock)
        self.ended: list[tuple[Operation, Reply]] = []

    def operation(self, timeout: float = 20.0) -> Operation:
        request = OpRequest("start", 0.0, timeout)
        env = {"PATH": "/usr/bin:/bin"}
        return Operation(self.loop, "start", request, env, self._ended, label="start x")

    def _ended(self, op: Operation, reply: Reply) -> None:
        self.ended.append((op, reply))

    def advance(self, seconds: float) -> None:
        self.clock.now += seconds
        self.loop.run_once(max_wait=0)


@pytest.fixture
def rig() -> Iterator[Rig]:
    rig = Rig()
    yield rig
    rig.loop.close()


def test_an_immediate_reply_ends_at_once(rig: Rig) -> None:
    op = rig.operation()
    op.begin(FakeAgent(lambda: Reply(Outcome.OK, detail="done")))
    assert op.phase is Phase.DONE and rig.ended == [(op, Reply(Outcome.OK, detail="done"))]
    with pytest.raises(RuntimeError, match="not queued"):
        op.begin(FakeAgent(lambda: Reply(Outcome.OK)))


def test_an_agent_bug_is_a_failed_operation(rig: Rig) -> None:
    op = rig.operation()
    op.begin(FakeAgent(None))
    ((_, reply),) = rig.ended
    assert reply.outcome is Outcome.FAILED and "agent bug" in reply.detail


def test_sleep_steps_use_loop_timers_and_the_deadline_covers_them(rig: Rig) -> None:
    def naps() -> Procedure:
        yield from sleep(5.0)
        yield from sleep(10.0)
        return Reply(Outcome.OK)

    op = rig.operation(timeout=12.0)
    op.begin(FakeAgent(naps))
    rig.advance(5.0)
    assert rig.ended == []
    rig.advance(7.0)  # 12 s: the deadline, during the second sleep
    ((_, reply),) = rig.ended
    assert reply.outcome is Outcome.TIMEOUT and op.phase is Phase.DONE
    rig.advance(10.0)
    assert len(rig.ended) == 1  # the cancelled sleep never wakes the procedure


def test_a_program_that_cannot_start_is_reported_to_the_procedure(rig: Rig, tmp_path: Path) -> None:
    seen: list[Completed] = []

    def missing() -> Procedure:
        done = yield from run_command((str(tmp_path / "no-such-program"),))
        seen.append(done)
        return Reply(Outcome.NOT_INSTALLED, detail=done.error)

    op = rig.operation()
    op.begin(FakeAgent(missing))
    ((_, reply),) = rig.ended
    assert seen[0].rc is None and "no-such-program" in seen[0].error
    assert reply.outcome is Outcome.NOT_INSTALLED


def test_cancel_during_a_sleep_ends_without_waiting(rig: Rig) -> None:
    def nap() -> Procedure:
        yield from sleep(5.0)
        return Reply(Outcome.OK)

    op = rig.operation()
    op.begin(FakeAgent(nap))
    op.cancel()
    ((ended, _),) = rig.ended
    assert ended.cancelled and op.phase is Phase.DONE


def test_cancel_before_begin(rig: Rig) -> None:
    op = rig.operation()
    op.cancel()
    assert op.phase is Phase.DONE and op.cancelled and rig.ended == []
