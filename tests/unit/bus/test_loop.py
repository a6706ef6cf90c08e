from __future__ import annotations

import os
import signal

from cluster.bus.loop import Loop


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_timers_fire_in_order_and_cancelled_ones_do_not() -> None:
    clock = FakeClock()
    loop = Loop(clock)
    fired: list[str] = []
    loop.call_at(101.0, lambda: fired.append("b"))
    loop.call_at(100.5, lambda: fired.append("a"))
    loop.call_at(100.7, lambda: fired.append("never")).cancel()
    clock.now = 102.0
    loop.run_once(max_wait=0)
    assert fired == ["a", "b"]
    loop.close()


def test_a_raising_callback_does_not_stop_the_loop() -> None:
    clock = FakeClock()
    loop = Loop(clock)
    fired: list[int] = []

    def boom() -> None:
        raise RuntimeError("boom")

    loop.call_at(100.0, boom)
    loop.call_at(100.0, lambda: fired.append(1))
    loop.run_once(max_wait=0)
    assert fired == [1]
    loop.close()


def test_fd_reader_and_signal_are_dispatched_from_the_loop() -> None:
    loop = Loop()
    r, w = os.pipe()
    got: list[object] = []
    loop.add_reader(r, lambda: got.append(os.read(r, 10)))
    loop.add_signal(signal.SIGUSR1, lambda s: got.append(s))
    os.write(w, b"hi")
    os.kill(os.getpid(), signal.SIGUSR1)
    for _ in range(10):
        loop.run_once(max_wait=0.5)
        if len(got) >= 2:
            break
    assert b"hi" in got and signal.SIGUSR1 in got
    loop.remove_reader(r)
    loop.close()
    os.close(r)
    os.close(w)
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


def test_a_timer_rearmed_in_the_past_waits_for_the_next_pass() -> None:
    clock = FakeClock()
    loop = Loop(clock)
    runs: list[float] = []

    def again() -> None:
        runs.append(clock.now)
        loop.call_at(clock.now - 1.0, again)

    loop.call_at(100.0, again)
    loop.run_once(max_wait=0)
    loop.run_once(max_wait=0)
    assert len(runs) == 2
    loop.close()


def test_a_reader_removed_by_an_earlier_callback_in_the_same_pass_is_not_run() -> None:
    loop = Loop()
    first_r, first_w = os.pipe()
    second_r, second_w = os.pipe()
    ran: list[str] = []

    def first() -> None:
        ran.append("first")
        os.read(first_r, 10)
        loop.remove_reader(second_r)

    loop.add_reader(first_r, first)
    loop.add_reader(second_r, lambda: ran.append("second"))
    os.write(first_w, b"x")
    os.write(second_w, b"x")
    loop.run_once(max_wait=0.5)
    assert ran == ["first"]
    loop.remove_reader(first_r)
    loop.close()
    for fd in (first_r, first_w, second_r, second_w):
        os.close(fd)
