"""ICMP echo without sockets: packets, and one round over many hosts."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cluster.mon.builtins import IcmpOptions
from cluster.mon.icmp import EchoRound, checksum, echo_request, parse_echo_reply


def _reply_of(request: bytes) -> bytes:
    """What a host sends back: type 0, checksum recomputed."""
    body = b"\0\0\0\0" + request[4:]
    total = checksum(body)
    return b"\0\0" + struct.pack("!H", total) + request[4:]


def _with_ip_header(icmp: bytes, ihl_words: int = 5) -> bytes:
    header = bytes([0x40 | ihl_words]) + b"\0" * (ihl_words * 4 - 1)
    return header + icmp


def test_checksum_of_a_valid_packet_is_zero() -> None:
    request = echo_request(0x1234, 7)
    assert request[0] == 8 and checksum(request) == 0
    assert checksum(b"\x01") == checksum(b"\x01\x00")


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.binary(max_size=64))
def test_a_reply_parses_back_to_ident_and_seq(ident: int, seq: int, payload: bytes) -> None:
    reply = _reply_of(echo_request(ident, seq, payload))
    assert parse_echo_reply(reply, has_ip_header=False) == (ident, seq)
    assert parse_echo_reply(_with_ip_header(reply, 6), has_ip_header=True) == (ident, seq)


def test_anything_else_is_ignored() -> None:
    request = echo_request(1, 2)
    assert parse_echo_reply(request, has_ip_header=False) is None  # a request, not a reply
    corrupt = bytearray(_reply_of(request))
    corrupt[-1] ^= 0xFF
    assert parse_echo_reply(bytes(corrupt), has_ip_header=False) is None
    assert parse_echo_reply(b"\0\0", has_ip_header=False) is None
    assert parse_echo_reply(b"\x60" + b"\0" * 40, has_ip_header=True) is None  # IPv6
    assert parse_echo_reply(b"", has_ip_header=True) is None


def new_round(hosts: dict[str, str | None], options: IcmpOptions | None = None) -> EchoRound:
    seqs = itertools.count(1)
    return EchoRound(list(hosts.items()), options or IcmpOptions(), lambda: next(seqs))


def test_all_hosts_answer_the_first_echo() -> None:
    ping = new_round({"a": "10.0.0.1", "b": "10.0.0.2"}, IcmpOptions(timeout_ms=500, retries=2))
    probes = ping.start(0.0)
    assert [(p.host, p.address, p.seq) for p in probes] == [("a", "10.0.0.1", 1),
                                                            ("b", "10.0.0.2", 2)]  # fmt: skip
    assert ping.deadline() == 0.5
    assert ping.replied("10.0.0.1", 1, 0.002)
    assert not ping.replied("10.0.0.9", 2, 0.003)  # wrong source: not ours
    assert not ping.done
    assert ping.replied("10.0.0.2", 2, 0.004)
    assert ping.done and ping.deadline() == float("inf")
    outcome = ping.outcome()
    assert outcome.ok and outcome.summary == ""
    assert "a                                       2.00 ms" in outcome.detail


def test_a_silent_host_gets_retries_with_backoff_then_is_unreachable() -> None:
    options = IcmpOptions(timeout_ms=200, retries=2, backoff=1.5)
    ping = new_round({"a": "10.0.0.1", "b": "10.0.0.2"}, options)
    ping.start(0.0)
    ping.replied("10.0.0.1", 1, 0.001)
    assert ping.tick(0.1) == []
    retry = ping.tick(0.2)
    assert [(p.host, p.seq) for p in retry] == [("b", 3)]
    assert abs(ping.deadline() - 0.5) < 1e-9  # waits 300 ms now
    assert [p.seq for p in ping.tick(0.5)] == [4]
    assert abs(ping.deadline() - 0.95) < 1e-9  # then 450 ms
    assert ping.tick(0.95) == [] and ping.done
    outcome = ping.outcome()
    assert outcome.retval == 1 and outcome.summary == "b"
    assert "no reply to 3 echo requests" in outcome.detail
    assert IcmpOptions(timeout_ms=200, retries=2, backoff=1.5).budget == pytest.approx(0.95)


def test_a_late_reply_to_an_earlier_echo_still_counts() -> None:
    ping = new_round({"a": "10.0.0.1"}, IcmpOptions(timeout_ms=100, retries=1))
    ping.start(0.0)
    ping.tick(0.1)
    assert ping.replied("10.0.0.1", 1, 0.12)
    assert ping.done and ping.outcome().ok
    assert "120.00 ms" in ping.outcome().detail


def test_unresolved_hosts_and_send_errors_are_reported() -> None:
    ping = new_round({"gone": None, "a": "10.0.0.1"}, IcmpOptions(timeout_ms=100, retries=0))
    (probe,) = ping.start(0.0)
    ping.send_failed(probe.seq, "No route to host")
    ping.tick(0.1)
    assert ping.done
    outcome = ping.outcome()
    assert outcome.summary == "a gone"
    assert "address not found" in outcome.detail
    assert "send failed: No route to host" in outcome.detail


def test_slow_replies_fail_and_all_down_only_fails_when_none_answer() -> None:
    slow = new_round({"a": "10.0.0.1"}, IcmpOptions(slow_ms=10))
    slow.start(0.0)
    slow.replied("10.0.0.1", 1, 0.05)
    assert slow.outcome().retval == 1 and "slower than 10 ms" in slow.outcome().detail
    options = IcmpOptions(timeout_ms=100, retries=0, all_down=True)
    some = new_round({"a": "10.0.0.1", "b": "10.0.0.2"}, options)
    some.start(0.0)
    some.replied("10.0.0.1", 1, 0.01)
    some.tick(0.1)
    assert some.done and some.outcome().retval == 0 and some.outcome().summary == "b"


def test_no_hosts_is_done_and_ok() -> None:
    ping = new_round({})
    assert ping.start(0.0) == [] and ping.done and ping.outcome().ok
