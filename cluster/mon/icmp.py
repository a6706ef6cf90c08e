"""ICMP echo without I/O: packets, and one round over many hosts (the fping job).

Role: :func:`echo_request` / :func:`parse_echo_reply` build and read ICMP
echo packets (RFC 792; checksum of RFC 1071). :class:`EchoRound` is one
monitor run: every host gets an echo at once; a host that stays silent for
``-t`` ms gets another, each wait ``-B`` times longer, up to ``-r`` retries;
a reply to any of its echoes makes it alive with the round trip of that
echo. When every host answered or used up its echoes the round is done and
:meth:`EchoRound.outcome` reports in Mon's shape (summary: the unreachable
hosts). The socket, the clock and name resolution belong to ``pinger.py``.

Inputs: ``now`` (monotonic seconds), replies (address, sequence number).
Outputs: :class:`Probe` objects to send, then a ``MonitorOutcome``.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cluster.common.icmp import ECHO_REPLY, ECHO_REQUEST, checksum
from cluster.common.icmp import echo_request as _echo_request
from cluster.mon.builtins import IcmpOptions
from cluster.mon.outcome import HostResult, MonitorOutcome, host_report

__all__ = ["ECHO_REQUEST", "EchoRound", "Probe", "checksum", "echo_request", "parse_echo_reply"]

_HEADER = struct.Struct("!BBHHH")
_PAYLOAD = b"cluster-mon echo"


def echo_request(ident: int, seq: int, payload: bytes = _PAYLOAD) -> bytes:
    """An echo request carrying cluster-mon's payload by default."""
    return _echo_request(ident, seq, payload)


def parse_echo_reply(data: bytes, *, has_ip_header: bool) -> tuple[int, int] | None:
    """(ident, seq) of an echo reply, or None for anything else or garbage.
    Raw sockets deliver the IPv4 header too; datagram ICMP sockets do not."""
    if has_ip_header:
        if len(data) < 20 or data[0] >> 4 != 4:
            return None
        data = data[(data[0] & 0x0F) * 4 :]
    if len(data) < _HEADER.size:
        return None
    kind, code, _sum, ident, seq = _HEADER.unpack_from(data)
    if kind != ECHO_REPLY or code != 0 or checksum(data) != 0:
        return None
    return ident, seq


@dataclass(frozen=True, slots=True)
class Probe:
    """One echo to send now."""

    host: str
    address: str
    seq: int


@dataclass
class _Host:
    host: str
    address: str | None
    attempts: int = 0
    next_try: float = math.inf
    rtt_ms: float | None = None
    note: str = ""
    sent: dict[int, float] = field(default_factory=dict)  # seq -> send time

    @property
    def finished(self) -> bool:
        return self.rtt_ms is not None or self.address is None or self.next_try == math.inf


class EchoRound:
    """One ICMP monitor run over many hosts."""

    def __init__(self, targets: Sequence[tuple[str, str | None]], options: IcmpOptions,
                 next_seq: Callable[[], int]) -> None:  # fmt: skip
        """`targets`: (host as configured, IPv4 address or None if it did not resolve)."""
        self.options = options
        self._next_seq = next_seq
        self._hosts = [_Host(host, address) for host, address in targets]
        self._by_seq: dict[int, _Host] = {}
        for entry in self._hosts:
            if entry.address is None:
                entry.note = "address not found"

    def start(self, now: float) -> list[Probe]:
        for entry in self._hosts:
            if entry.address is not None:
                entry.next_try = now
        return self.tick(now)

    def tick(self, now: float) -> list[Probe]:
        """Echoes due now: first ones and retries of hosts still silent."""
        probes = []
        for entry in self._hosts:
            if entry.finished or entry.next_try > now:
                continue
            if entry.attempts > self.options.retries:
                entry.next_try = math.inf  # used up: unreachable
                entry.note = entry.note or f"no reply to {entry.attempts} echo requests"
                continue
            assert entry.address is not None
            seq = self._next_seq()
            wait = self.options.timeout_ms / 1000.0 * self.options.backoff ** entry.attempts
            entry.attempts += 1
            entry.sent[seq] = now
            entry.next_try = now + wait
            self._by_seq[seq] = entry
            probes.append(Probe(entry.host, entry.address, seq))
        return probes

    def replied(self, address: str, seq: int, now: float) -> bool:
        """An echo reply arrived; True if it belongs to this round."""
        entry = self._by_seq.get(seq)
        if entry is None or entry.address != address:
            return False
        if entry.rtt_ms is None:
            entry.rtt_ms = max(0.0, (now - entry.sent[seq]) * 1000.0)
            entry.note = ""
        return True

    def send_failed(self, seq: int, error: str) -> None:
        """The kernel refused an echo (e.g. no route, neighbour unreachable)."""
        entry = self._by_seq.get(seq)
        if entry is not None:
            entry.note = f"send failed: {error}"

    def deadline(self) -> float:
        """When :meth:`tick` must run next (math.inf when done)."""
        return min((e.next_try for e in self._hosts if not e.finished), default=math.inf)

    @property
    def done(self) -> bool:
        return all(entry.finished for entry in self._hosts)

    @property
    def seqs(self) -> list[int]:
        return list(self._by_seq)

    def outcome(self) -> MonitorOutcome:
        slow = self.options.slow_ms
        results = []
        for entry in self._hosts:
            rtt = entry.rtt_ms
            if rtt is not None and slow is not None and rtt > slow:
                results.append(HostResult(entry.host, False, rtt, f"slower than {slow:g} ms"))
            elif rtt is not None:
                results.append(HostResult(entry.host, True, rtt))
            else:
                results.append(HostResult(entry.host, False, None, entry.note or "no reply"))
        return host_report(results, what="ICMP echo", all_down=self.options.all_down)
