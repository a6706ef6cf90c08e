"""The kernel filter that keeps our own looped-back datagrams from waking hbcomm,
on real sockets over loopback (127.0.0.0/8 is ours to send from)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from cluster.hbcomm import ownfilter


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5.0)
    yield sock
    sock.close()


def _send_from(source: str, to: tuple[str, int], payload: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.bind((source, 0))
        sender.sendto(payload, to)


def test_own_source_is_dropped_and_a_peers_delivered(receiver: socket.socket) -> None:
    ownfilter.attach(receiver, ("127.0.0.1", "127.0.0.3"))
    to = receiver.getsockname()
    _send_from("127.0.0.1", to, b"own")
    _send_from("127.0.0.3", to, b"own too")
    _send_from("127.0.0.2", to, b"peer")
    # Loopback delivers in order: had ours passed the filter, they would come first.
    assert receiver.recv(100) == b"peer"
    receiver.setblocking(False)
    with pytest.raises(BlockingIOError):
        receiver.recv(100)


def test_without_the_filter_both_arrive(receiver: socket.socket) -> None:
    to = receiver.getsockname()
    _send_from("127.0.0.1", to, b"own")
    _send_from("127.0.0.2", to, b"peer")
    assert [receiver.recv(100), receiver.recv(100)] == [b"own", b"peer"]


def test_program_shape() -> None:
    code = ownfilter.program(("10.0.0.1", "10.0.0.2"))
    # load source; two tests jumping to the drop; accept; drop
    assert [op[0] for op in code] == [0x20, 0x15, 0x15, 0x06, 0x06]
    assert code[1][1:] == (2, 0, 0x0A000001) and code[2][1:] == (1, 0, 0x0A000002)
    assert code[-2][3] != 0 and code[-1][3] == 0


@pytest.mark.parametrize("own", [(), tuple(f"10.0.0.{i}" for i in range(1, 40))])
def test_program_refuses_a_bad_address_count(own: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="own addresses"):
        ownfilter.program(own)


def test_interface_address() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        assert ownfilter.interface_address(sock, "lo") == "127.0.0.1"
        assert ownfilter.interface_address(sock, "no-such-if0") is None
