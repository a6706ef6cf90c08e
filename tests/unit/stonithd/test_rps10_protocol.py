"""The RPS-10 protocol: the sans-I/O exchange, then the driver against the simulator on a pty."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cluster.lab.rps10 import Rps10Simulator
from cluster.stonithd.outcome import Code, Deadline
from cluster.stonithd.rps10 import (
    COMPLETE_TIMEOUT,
    PLUG_TIMEOUT,
    READY_TIMEOUT,
    Finished,
    Rps10Exchange,
    Rps10Switch,
    Send,
    command_bytes,
)

DEV = "rps10 /dev/ttyS0"


def run(exchange: Rps10Exchange, *chunks: bytes, now: float = 0.0) -> list[Send | Finished]:
    out: list[Send | Finished] = []
    for chunk in chunks:
        out += exchange.feed(chunk, now)
    return out


def finished(events: list[Send | Finished]) -> Finished:
    last = events[-1]
    assert isinstance(last, Finished), events
    return last


def test_command_is_nine_bytes_with_the_fixed_password() -> None:
    assert command_bytes("0", "T") == b"\x02\x18\x18\x02\x18\x180T\r"
    assert len(command_bytes("*", "?")) == 9


@pytest.mark.parametrize("eol", [b"\r\n", b"\n\r"])
def test_reset_needs_ready_then_plug_off_then_complete(eol: bytes) -> None:
    exchange = Rps10Exchange(DEV, "3", "T", now=0.0)
    events = run(exchange, b"noise", eol, b"RPS-10 Ready" + eol)
    assert events == [Send(b"\x02\x18\x18\x02\x18\x183T\r")]
    events = run(exchange, b"Plug 3 Off" + eol, b"Plug 3 On" + eol, b"Complete" + eol)
    outcome = finished(events).outcome
    assert outcome.code is Code.OK
    assert "Plug 3 Off / Plug 3 On / Complete" in outcome.detail
    assert exchange.feed(b"Complete\r\n", 1.0) == []


@given(st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=40))
def test_byte_boundaries_do_not_matter(cuts: list[int]) -> None:
    stream = b"RPS-10 Ready\r\nPlug 0 Off\r\nComplete\r\n"
    exchange = Rps10Exchange(DEV, "0", "0", now=0.0)
    events: list[Send | Finished] = []
    position, index = 0, 0
    while position < len(stream):
        size = cuts[index % len(cuts)]
        events += exchange.feed(stream[position:position + size], 0.0)
        position, index = position + size, index + 1
    assert events[0] == Send(command_bytes("0", "0"))
    assert finished(events).outcome.code is Code.OK


@pytest.mark.parametrize(("replies", "code", "why"), [
    (b"Complete\r\n", Code.RESETFAIL, "without a Plug"),
    (b"Plug 0 On\r\nComplete\r\n", Code.RESETFAIL, "is On, expected Off"),
    (b"Plug 4 Off\r\nComplete\r\n", Code.OOPS, "plug 4, not 0"),
])
def test_a_reset_the_switch_did_not_confirm_is_a_failure(replies: bytes, code: Code,
                                                          why: str) -> None:
    exchange = Rps10Exchange(DEV, "0", "T", now=0.0)
    outcome = finished(run(exchange, b"RPS-10 Ready\r\n", replies)).outcome
    assert outcome.code is code
    assert why in outcome.detail


def test_glue_timeouts_ready_plug_complete() -> None:
    exchange = Rps10Exchange(DEV, "0", "T", now=100.0)
    assert exchange.tick(100.0 + READY_TIMEOUT - 0.01) == []
    outcome = finished(exchange.tick(100.0 + READY_TIMEOUT)).outcome
    assert outcome.code is Code.TIMEOUT
    assert "'RPS-10 Ready'" in outcome.detail and "connected" in outcome.detail

    exchange = Rps10Exchange(DEV, "0", "T", now=0.0)
    run(exchange, b"RPS-10 Ready\r\n", now=1.0)
    assert exchange.deadline == 1.0 + PLUG_TIMEOUT
    run(exchange, b"Plug 0 Off\r\n", now=2.0)
    assert exchange.deadline == 2.0 + COMPLETE_TIMEOUT
    outcome = finished(exchange.tick(2.0 + COMPLETE_TIMEOUT)).outcome
    assert outcome.code is Code.TIMEOUT and "'Complete'" in outcome.detail


def test_on_and_status_replies() -> None:
    exchange = Rps10Exchange(DEV, "1", "1", now=0.0)
    outcome = finished(run(exchange, b"RPS-10 Ready\r\n", b"Plug 1 On\r\nComplete\r\n")).outcome
    assert outcome.code is Code.OK
    exchange = Rps10Exchange(DEV, "1", "?", now=0.0)
    outcome = finished(run(exchange, b"RPS-10 Ready\r\n", b"Plug 1 Off\r\nComplete\r\n")).outcome
    assert outcome.code is Code.ISOFF


# -- the driver against the simulator on a real pty ---------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def power_off(self) -> None:
        self.calls.append("off")

    def power_on(self) -> None:
        self.calls.append("on")


@pytest.fixture
def switch(tmp_path: Path) -> Iterator[tuple[Rps10Simulator, Recorder, Recorder]]:
    alice, bob = Recorder(), Recorder()
    simulator = Rps10Simulator({"0": alice, "1": bob}, path=tmp_path / "ttyS0",
                               toggle_delay=0.05)
    try:
        yield simulator, alice, bob
    finally:
        simulator.close()
    assert not (tmp_path / "ttyS0").exists()


@pytest.mark.slow
def test_driver_resets_the_right_outlet(switch: tuple[Rps10Simulator, Recorder, Recorder]
                                        ) -> None:
    simulator, alice, bob = switch
    driver = Rps10Switch(f"{simulator.path} alice 0 bob 1")
    outcome = driver.act("reset", "BOB", Deadline(10))
    assert outcome.code is Code.OK, outcome
    assert (alice.calls, bob.calls) == ([], ["off"])
    assert simulator.commands == [("1", "T")]
    assert driver.status(Deadline(10)).code is Code.OK
    assert driver.act("on", "bob", Deadline(10)).code is Code.OK
    assert driver.act("off", "alice", Deadline(10)).code is Code.OK
    assert (alice.calls, bob.calls) == (["off"], ["off", "on"])
    assert driver.act("reset", "carol", Deadline(10)).code is Code.BADHOST


@pytest.mark.slow
def test_unplugged_switch_is_a_timeout_and_nobody_is_powered_off(
        switch: tuple[Rps10Simulator, Recorder, Recorder]) -> None:
    simulator, alice, _bob = switch
    simulator.unplug()
    driver = Rps10Switch(f"{simulator.path} alice 0")
    started = time.monotonic()
    outcome = driver.act("reset", "alice", Deadline(1.0))
    assert 0.9 <= time.monotonic() - started < 5.0
    assert outcome.code is Code.TIMEOUT
    assert "no 'RPS-10 Ready'" in outcome.detail
    assert alice.calls == []
    assert driver.status(Deadline(0.5)).code is Code.TIMEOUT


@pytest.mark.slow
def test_outlet_missing_from_the_chain_never_confirms(
        switch: tuple[Rps10Simulator, Recorder, Recorder]) -> None:
    simulator, _alice, _bob = switch
    driver = Rps10Switch(f"{simulator.path} dave 7")
    outcome = driver.act("reset", "dave", Deadline(1.0))
    assert outcome.code is Code.TIMEOUT
    assert "a 'Plug' reply" in outcome.detail


def test_port_that_does_not_exist(tmp_path: Path) -> None:
    outcome = Rps10Switch(f"{tmp_path}/ttyS9 alice 0").act("reset", "alice", Deadline(5))
    assert outcome.code is Code.OOPS
    assert "cannot open" in outcome.detail
