"""MediaSet over a real pty and a real loop, on a hand-driven clock: a hung-up line
is closed at once (no reader left to spin on), its link reported lost, and it is
reopened on the backoff schedule once a tty is back under the same path."""

from __future__ import annotations

import dataclasses
import os
import tty
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.bus.loop import Loop
from cluster.config.hacf import Medium
from cluster.hbcomm.media import MediumFailed, Transport
from cluster.hbcomm.mediaset import MediaSet


class _Pty:
    """One end of a cable: a pty pair whose slave is reached through `path`."""

    def __init__(self, path: Path) -> None:
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self._slave = slave
        path.unlink(missing_ok=True)
        path.symlink_to(os.ttyname(slave))

    def hang_up(self) -> None:
        os.close(self.master)
        os.close(self._slave)


_Harness = tuple[Loop, list[float], MediaSet, list[str], list[Transport], Counter[str], Path]


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[tuple[Loop, list[float], MediaSet, list[str],
                                              list[Transport], Counter[str], Path]]:
    clock = [1000.0]  # the loop's time, moved by hand
    loop = Loop(lambda: clock[0])
    path = tmp_path / "ttyS0"
    lost: list[str] = []
    readable: list[Transport] = []
    counters: Counter[str] = Counter()
    media = MediaSet(loop, [Medium("serial", str(path), baud=115200, line=3)],
                     on_readable=readable.append, on_lost=lost.append, counters=counters)
    yield loop, clock, media, lost, readable, counters, path
    media.close()
    loop.close()


def test_a_hung_up_line_is_closed_reported_and_reopened_on_schedule(harness: _Harness) -> None:
    loop, clock, media, lost, readable, counters, path = harness
    first = _Pty(path)
    media.open_all()
    assert [t.name for t in media.live] == [str(path)]
    transport = media.live[0]
    first.hang_up()
    loop.run_once(max_wait=1.0)
    assert readable == [transport]
    with pytest.raises(MediumFailed, match="hung up") as caught:
        transport.receive()
    media.failed(transport, caught.value)  # what the shell does
    assert media.live == [] and lost == [str(path)] and counters["media_failures"] == 1
    assert media.local_links() == {str(path): "dead"}
    readable.clear()
    loop.run_once(max_wait=0.05)
    assert readable == [], "a closed medium must not wake the loop"

    path.unlink()  # the adapter is gone: reopening fails at +1 s, retried at +3 s
    clock[0] += 1.0
    loop.run_once(max_wait=0)
    assert media.live == []
    second = _Pty(path)
    clock[0] += 1.9
    loop.run_once(max_wait=0)
    assert media.live == [], "not before its time"
    clock[0] += 0.1
    loop.run_once(max_wait=0)
    assert [t.name for t in media.live] == [str(path)] and counters["media_reopened"] == 1
    os.write(second.master, b"\xc0frame\xc0")
    loop.run_once(max_wait=1.0)
    assert readable == media.live
    assert media.live[0].receive() == [b"frame"]
    second.hang_up()


def test_a_medium_missing_at_start_is_retried_and_an_unsupported_kind_is_not(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = [1000.0]
    loop = Loop(lambda: clock[0])
    there, missing = tmp_path / "ttyS0", tmp_path / "ttyS1"
    counters: Counter[str] = Counter()
    media = MediaSet(loop, [Medium("serial", str(there), baud=115200, line=3),
                            Medium("serial", str(missing), baud=115200, line=4),
                            Medium("mcast6", "eth0", group="ff02::694", port=694, line=5)],
                     on_readable=lambda _t: None, on_lost=lambda _l: None, counters=counters)
    ends = [_Pty(there)]
    try:
        media.open_all()
        assert [t.name for t in media.live] == [str(there)]
        assert media.local_links() == {str(there): "dead", str(missing): "dead", "eth0": "dead"}
        assert "ha.cf line 5): this medium kind is not supported yet; this medium is not used" \
            in caplog.text
        ends.append(_Pty(missing))
        for _ in range(3):  # a retry for ttyS1 only, at +1 s
            clock[0] += 1.0
            loop.run_once(max_wait=0)
        assert sorted(t.name for t in media.live) == [str(there), str(missing)]
        assert counters["media_reopened"] == 1
    finally:
        media.close()
        loop.close()
        for end in ends:
            end.hang_up()


def test_replace_keeps_unchanged_media_opens_new_ones_and_closes_removed_ones(
        tmp_path: Path) -> None:
    loop = Loop()
    ttys = {name: _Pty(tmp_path / name) for name in ("ttyS0", "ttyS1")}
    first = Medium("serial", str(tmp_path / "ttyS0"), baud=115200, line=3)
    second = Medium("serial", str(tmp_path / "ttyS1"), baud=115200, line=4)
    media = MediaSet(loop, [first], on_readable=lambda _t: None, on_lost=lambda _l: None,
                     counters=Counter())
    try:
        media.open_all()
        kept = media.live[0]
        media.replace([second, dataclasses.replace(first, line=9)])  # first moved down
        assert media.live[0] is kept, "an unchanged medium keeps its descriptor"
        assert media.names() == (second.name, first.name)
        assert [t.name for t in media.live] == [first.name, second.name]
        media.replace([second])
        assert [t.name for t in media.live] == [second.name]
    finally:
        media.close()
        loop.close()
        for pty in ttys.values():
            pty.hang_up()


def test_a_suspended_set_does_not_wake_the_loop_and_resume_watches_every_open_medium(
        harness: _Harness) -> None:
    loop, _clock, media, _lost, readable, _counters, path = harness
    line = _Pty(path)
    try:
        media.open_all()
        media.suspend()
        os.write(line.master, b"\xc0queued\xc0")
        loop.run_once(max_wait=0.05)
        assert readable == [], "a suspended medium is read by its owner, not the loop"
        assert media.live[0].receive() == [b"queued"]
        media.resume()
        os.write(line.master, b"\xc0next\xc0")
        loop.run_once(max_wait=1.0)
        assert readable == media.live
    finally:
        line.hang_up()


def test_a_medium_reopened_while_suspended_stays_unwatched_until_resume(harness: _Harness) -> None:
    loop, clock, media, _lost, readable, _counters, path = harness
    first = _Pty(path)
    media.open_all()
    transport = media.live[0]
    media.suspend()
    first.hang_up()
    with pytest.raises(MediumFailed) as caught:
        transport.receive()
    media.failed(transport, caught.value)
    second = _Pty(path)
    try:
        clock[0] += 1.0
        loop.run_once(max_wait=0)  # the reopen timer
        assert [t.name for t in media.live] == [str(path)]
        os.write(second.master, b"\xc0frame\xc0")
        loop.run_once(max_wait=0.05)
        assert readable == []
        media.resume()
        loop.run_once(max_wait=1.0)
        assert readable == media.live
    finally:
        second.hang_up()
