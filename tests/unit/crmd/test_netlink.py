"""The rtnetlink wire format the IP agents use (cluster.common.rtnetlink), against a
datagram socketpair standing in for the kernel's side; the lab tests run it on real links."""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Iterator

import pytest

from cluster.common import rtnetlink as rt


def _message(kind: int, seq: int, payload: bytes) -> bytes:
    return rt.NLMSGHDR.pack(rt.NLMSGHDR.size + len(payload), kind, 0, seq, 0) + payload


def _newaddr(index: int, address: str, prefixlen: int, label: str) -> bytes:
    packed = socket.inet_aton(address)
    return (rt.IFADDRMSG.pack(socket.AF_INET, prefixlen, 0, 0, index)
            + rt.attribute(rt.IFA_ADDRESS, packed) + rt.attribute(rt.IFA_LOCAL, packed)
            + rt.attribute(rt.IFA_LABEL, label.encode() + b"\0"))


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, kernel = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    ours.settimeout(1.0)
    with ours, kernel:
        yield ours, kernel


def test_a_dump_spans_datagrams_skips_stale_answers_and_ends_at_done(
        pair: tuple[socket.socket, socket.socket]) -> None:
    ours, kernel = pair
    kernel.send(_message(rt.RTM_NEWADDR, 6, _newaddr(9, "10.0.0.9", 8, "x")))  # stale
    kernel.send(_message(rt.RTM_NEWADDR, 7, _newaddr(2, "192.0.2.1", 24, "eth0"))
                + _message(rt.RTM_NEWADDR, 7, _newaddr(2, "192.0.2.200", 24, "eth0:vip")))
    kernel.send(_message(rt.NLMSG_DONE, 7, b"\0\0\0\0"))
    answers = rt.request(ours, 7, rt.RTM_GETADDR, rt.NLM_F_REQUEST | rt.NLM_F_DUMP,
                         rt.IFADDRMSG.pack(socket.AF_INET, 0, 0, 0, 0))
    found = [rt.ipv4_address(payload) for _kind, payload in answers]
    assert found == [rt.Ipv4Address(2, "192.0.2.1", 24, "eth0"),
                     rt.Ipv4Address(2, "192.0.2.200", 24, "eth0:vip")]
    sent = kernel.recv(4096)
    length, kind, flags, seq, _pid = rt.NLMSGHDR.unpack_from(sent)
    assert (length, kind, flags, seq) == (len(sent), rt.RTM_GETADDR, 0x301, 7)


def test_a_refused_change_raises_the_kernels_errno(
        pair: tuple[socket.socket, socket.socket]) -> None:
    ours, kernel = pair
    kernel.send(_message(rt.NLMSG_ERROR, 3, struct.pack("=i", -errno.EEXIST)))
    with pytest.raises(OSError) as caught:
        rt.request(ours, 3, rt.RTM_NEWADDR, rt.NLM_F_REQUEST | rt.NLM_F_ACK, b"")
    assert caught.value.errno == errno.EEXIST


def test_attributes_are_padded_and_split_back() -> None:
    raw = rt.attribute(3, b"eth0:vip\0") + rt.attribute(4, b"\x01\x02\x03\x04")
    assert len(raw) % 4 == 0
    assert rt.attributes(raw, 0) == {3: b"eth0:vip\0", 4: b"\x01\x02\x03\x04"}
    assert rt.ipv4_address(b"\x0a" + bytes(7)) is None   # IPv6: not ours
