"""The device layer: the real ioctl numbers through a fake ioctl, and the FIFO stand-in."""

from __future__ import annotations

import contextlib
import errno
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.lab.watchdog_sim import DogState, WatchdogSimulator
from cluster.watchdog.device import (
    WDIOC_GETTIMEOUT,
    WDIOC_KEEPALIVE,
    WDIOC_SETTIMEOUT,
    WatchdogDevice,
)


def test_ioctl_numbers_are_linuxs() -> None:
    assert WDIOC_KEEPALIVE == 0x80045705
    assert WDIOC_SETTIMEOUT == 0xC0045706
    assert WDIOC_GETTIMEOUT == 0x80045707


class FakeDriver:
    """A watchdog driver that rounds timeouts up to even seconds, or knows no SETTIMEOUT."""

    def __init__(self, settable: bool = True) -> None:
        self.settable = settable
        self.timeout = 60
        self.calls: list[int] = []

    def __call__(self, fd: int, request: int, buf: bytearray, mutate: bool) -> int:
        self.calls.append(request)
        if request == WDIOC_SETTIMEOUT:
            if not self.settable:
                raise OSError(errno.EOPNOTSUPP, "not supported")
            (wanted,) = struct.unpack("i", buf)
            self.timeout = wanted + wanted % 2
        elif request != WDIOC_GETTIMEOUT:
            raise OSError(errno.ENOTTY, "unexpected")
        buf[:] = struct.pack("i", self.timeout)
        return 0


@pytest.fixture
def char_device(tmp_path: Path) -> Iterator[tuple[int, int]]:
    read_end, write_end = os.pipe()
    try:
        yield read_end, write_end
    finally:
        for fd in (read_end, write_end):
            with contextlib.suppress(OSError):
                os.close(fd)


def test_real_device_path_uses_settimeout_and_gettimeout(char_device: tuple[int, int]) -> None:
    read_end, write_end = char_device
    driver = FakeDriver()
    device = WatchdogDevice(Path("/dev/watchdog"), os.dup(write_end), fifo=False, ioctl=driver)
    assert device.set_timeout(3) == 4
    assert driver.calls == [WDIOC_SETTIMEOUT]
    device.keepalive()
    device.close(magic=True)
    assert os.read(read_end, 10) == b"\0V"
    assert not device.is_open
    device.close(magic=True)                   # idempotent


def test_device_without_settimeout_reports_its_own(char_device: tuple[int, int]) -> None:
    _read_end, write_end = char_device
    driver = FakeDriver(settable=False)
    device = WatchdogDevice(Path("/dev/watchdog"), os.dup(write_end), fifo=False, ioctl=driver)
    assert device.set_timeout(3) == 60
    assert driver.calls == [WDIOC_SETTIMEOUT, WDIOC_GETTIMEOUT]
    device.close(magic=False)


@pytest.fixture
def dog(tmp_path: Path) -> Iterator[tuple[WatchdogSimulator, list[str]]]:
    resets: list[str] = []
    simulator = WatchdogSimulator(tmp_path / "watchdog", lambda: resets.append("reset"),
                                  timeout=0.3)
    try:
        yield simulator, resets
    finally:
        simulator.close()
    assert not (tmp_path / "watchdog").exists()


@pytest.mark.slow
def test_fifo_magic_close_disarms(dog: tuple[WatchdogSimulator, list[str]]) -> None:
    simulator, resets = dog
    device = WatchdogDevice.open(simulator.path)
    assert device.fifo
    device.keepalive()
    simulator.wait_for("armed", 5)
    device.close(magic=True)
    simulator.wait_for("magic close", 5)
    assert simulator.state is DogState.IDLE
    with pytest.raises(TimeoutError):
        simulator.wait_for("fired", 0.6)       # three timeouts: nothing fires
    assert resets == []


@pytest.mark.slow
def test_fifo_close_without_magic_fires_after_the_timeout(
        dog: tuple[WatchdogSimulator, list[str]]) -> None:
    simulator, resets = dog
    device = WatchdogDevice.open(simulator.path)
    device.keepalive()
    armed = simulator.wait_for("armed", 5)
    device.close(magic=False)
    simulator.wait_for("unexpected close", 5)
    fired = simulator.wait_fired(5)
    assert 0.25 <= fired - armed < 2.0
    assert resets == ["reset"] and simulator.state is DogState.FIRED


@pytest.mark.slow
def test_fifo_reopened_in_time_keeps_the_node(dog: tuple[WatchdogSimulator, list[str]]) -> None:
    simulator, resets = dog
    first = WatchdogDevice.open(simulator.path)
    first.keepalive()
    first.close(magic=False)
    simulator.wait_for("unexpected close", 5)
    second = WatchdogDevice.open(simulator.path)
    assert second.set_timeout(2) == 2
    simulator.wait_for("timeout 2", 5)
    second.keepalive()
    with pytest.raises(TimeoutError):
        simulator.wait_fired(0.6)
    second.close(magic=True)
    simulator.wait_for("magic close", 5)
    assert resets == []


def test_opening_a_fifo_nobody_reads_fails(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "orphan")
    with pytest.raises(OSError) as info:
        WatchdogDevice.open(tmp_path / "orphan")
    assert info.value.errno == errno.ENXIO
