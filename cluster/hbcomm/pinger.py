"""Ping nodes: ICMP echo to the routers and switches named by ``ping``/``ping_group``.

A ping node is a pseudo-member that is alive while it answers (Heartbeat's
``ping`` medium); ipfail compares how many each cluster node reaches.  One
raw ICMP socket sends an echo to every address each keepalive and reads the
replies.  Each echo carries a sequence number and a keyed token (HMAC of
the cluster key over identifier, sequence and address), so a forged or
stray echo reply cannot make a dead router look alive.  A ``ping_group`` is
up while any of its addresses answers: replies from any member count for
the group.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import socket
import struct
from collections.abc import Sequence

from cluster.common.icmp import ECHO_REPLY, echo_request
from cluster.config.hacf import PingNode

log = logging.getLogger(__name__)

_TOKEN = 8
_MAX_READS = 64


class Pinger:
    """Echo requests out, verified replies in; knows nothing of timing."""

    def __init__(self, ping_nodes: Sequence[PingNode], key: bytes, ident: int) -> None:
        self._key = key or b"cluster-ping"
        self._ident = ident & 0xFFFF
        self._seq = 0
        self._targets: dict[str, str] = {}     # address -> ping node name
        for node in ping_nodes:
            for address in node.addresses:
                try:
                    self._targets[socket.gethostbyname(address)] = node.name
                except OSError as err:
                    log.error("ping node %s: cannot resolve %s: %s", node.name, address, err)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        self._sock.setblocking(False)
        self.sent = self.send_errors = self.replies = self.rejected = 0

    def fileno(self) -> int:
        return self._sock.fileno()

    def links(self) -> dict[str, str]:
        """address -> ping node name."""
        return dict(self._targets)

    def _token(self, seq: int, address: str) -> bytes:
        message = struct.pack("!HI", self._ident, seq) + address.encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_TOKEN]

    def send_all(self) -> None:
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        for address in self._targets:
            payload = struct.pack("!I", self._seq) + self._token(self._seq, address)
            try:
                self._sock.sendto(echo_request(self._ident, self._seq, payload), (address, 0))
                self.sent += 1
            except OSError:
                self.send_errors += 1   # no route while a cable is out: simply unanswered

    def receive(self) -> list[tuple[str, str]]:
        """(ping node name, address) for every genuine echo reply waiting."""
        answered: list[tuple[str, str]] = []
        for _ in range(_MAX_READS):
            try:
                data, (source, _port) = self._sock.recvfrom(2048)
            except BlockingIOError:
                break
            except OSError:
                break
            found = self._verify(data, source)
            if found is not None:
                answered.append((found, source))
        return answered

    def _verify(self, data: bytes, source: str) -> str | None:
        if len(data) < 20:
            return None
        offset = (data[0] & 0x0F) * 4
        icmp = data[offset:]
        if len(icmp) < 8 + 4 + _TOKEN or icmp[0] != ECHO_REPLY:
            return None
        ident = struct.unpack("!H", icmp[4:6])[0]
        if ident != self._ident:
            return None     # someone else's ping (another process in this namespace)
        name = self._targets.get(source)
        seq = struct.unpack("!I", icmp[8:12])[0]
        if name is None or not hmac.compare_digest(icmp[12:12 + _TOKEN],
                                                   self._token(seq, source)):
            self.rejected += 1
            return None
        self.replies += 1
        return name

    def close(self) -> None:
        self._sock.close()
