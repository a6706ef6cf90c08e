"""Test kit for the agents and the executor: fakes for the kernel seams, a
procedure driver, a bounded loop runner and a script writer."""

from __future__ import annotations

import errno
import os
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from cluster.bus.loop import Loop
from cluster.crmd.agents.netlink import Address, Link
from cluster.crmd.agents.protocol import Command, Completed, Procedure, Reply, Step


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeNetlink:
    """Links and IPv4 addresses in memory, with the kernel's errors."""

    def __init__(self) -> None:
        self.links_by_name: dict[str, Link] = {}
        self.addrs: list[Address] = []
        self.added: list[tuple[str, int, str | None, str | None]] = []
        self.closed = False

    def add_link(self, name: str, address: str, prefixlen: int, *, carrier: bool = True) -> Link:
        index = len(self.links_by_name) + 1
        mac = f"02:00:00:00:00:{index:02x}"
        link = Link(index, name, mac, up=True, carrier=carrier)
        self.links_by_name[name] = link
        self.addrs.append(Address(index, address, prefixlen, name))
        return link

    def set_carrier(self, name: str, carrier: bool) -> None:
        old = self.links_by_name[name]
        self.links_by_name[name] = Link(old.index, old.name, old.mac, old.up, carrier)

    def holds(self, ip: str) -> list[tuple[str, int]]:
        names = {link.index: link.name for link in self.links_by_name.values()}
        return [(names[a.index], a.prefixlen) for a in self.addrs if a.address == ip]

    # -- the Netlink protocol ---------------------------------------------------
    def links(self) -> list[Link]:
        return list(self.links_by_name.values())

    def addresses(self) -> list[Address]:
        return list(self.addrs)

    def add_address(
        self, index: int, address: str, prefixlen: int, broadcast: str | None, label: str | None
    ) -> None:
        if any(a.index == index and a.address == address for a in self.addrs):
            raise OSError(errno.EEXIST, "File exists")
        name = next(link.name for link in self.links_by_name.values() if link.index == index)
        self.addrs.append(Address(index, address, prefixlen, label or name))
        self.added.append((address, prefixlen, broadcast, label))

    def delete_address(self, index: int, address: str, prefixlen: int) -> None:
        for addr in self.addrs:
            if addr.index == index and addr.address == address:
                self.addrs.remove(addr)
                return
        raise OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")

    def close(self) -> None:
        self.closed = True


class RecordingArp:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Sequence[bytes]]] = []

    def send(self, ifname: str, frames: Sequence[bytes]) -> None:
        self.sent.append((ifname, frames))

    def close(self) -> None:
        pass


def drive(
    answer: Reply | Procedure, respond: Callable[[Command], Completed]
) -> tuple[Reply, list[Step]]:
    """Run a procedure to its reply, answering each Command with ``respond``."""
    if isinstance(answer, Reply):
        return answer, []
    steps: list[Step] = []
    value: Completed | None = None
    try:
        while True:
            step = answer.send(value)
            steps.append(step)
            value = respond(step) if isinstance(step, Command) else None
    except StopIteration as stop:
        reply: Reply = stop.value
        return reply, steps


def run_until(loop: Loop, predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Run ``loop`` until ``predicate()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        loop.run_once(max_wait=0.05)


def write_script(path: Path, body: str) -> Path:
    """A ``#!/bin/sh`` script with ``body`` (dedented), made executable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body).lstrip("\n"))
    os.chmod(path, 0o755)
    return path
