"""Who announces an address: gratuitous ARP frames seen on a lab host's interface.

A takeover is only complete for the LAN once the new owner has told every
neighbour "this address is at my MAC" (gratuitous ARP), so clients whose ARP
cache still points at the dead node switch at once.  `ArpWatch` opens a raw
ARP socket inside a host's namespace (a client, say) and records every frame
whose sender and target address are both the watched address, with the
sender's MAC and the time it arrived.

    with ArpWatch(client, "eth0", vip) as arp:
        ...failover...
        arp.wait_for_mac(node2.mac(public), timeout=10)
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

from cluster.lab.netns import NETNS_DIR
from cluster.lab.node import Node
from cluster.lab.rtnl import socket_in_netns
from cluster.lab.waiting import wait_first

__all__ = ["ArpWatch"]

_ETH_P_ARP = 0x0806


class ArpWatch:
    """Records gratuitous ARP for `ip` on `node`'s `ifname`: (time, sender MAC, op)."""

    def __init__(self, node: Node, ifname: str, ip: str) -> None:
        self.ip = ip
        self._wanted = socket.inet_aton(ip)
        self.frames: list[tuple[float, str, int]] = []
        self._seen = threading.Condition()
        self._stop = threading.Event()
        self._sock = socket_in_netns(NETNS_DIR / node.netns, socket.AF_PACKET, socket.SOCK_RAW,
                                     socket.htons(_ETH_P_ARP))
        self._sock.bind((ifname, 0))
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._run, name=f"arpwatch-{ip}", daemon=True)
        self._thread.start()
        node.lab.resources.add_closer(self.close)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self._sock.recv(128)
            except TimeoutError:
                continue
            except OSError:
                return
            if len(frame) >= 42 and frame[28:32] == self._wanted and frame[38:42] == self._wanted:
                mac = ":".join(f"{b:02x}" for b in frame[22:28])
                with self._seen:
                    self.frames.append((time.monotonic(), mac, frame[21]))
                    self._seen.notify_all()

    def wait_for_mac(self, mac: str, timeout: float, since: float = 0.0) -> float:
        """When the first gratuitous ARP from `mac` after `since` arrived (TimeoutError if none)."""
        def first() -> float | None:
            return next((t for t, m, _ in self.frames if m == mac.lower() and t >= since), None)

        return wait_first(self._seen, first, timeout, lambda: (
            f"no gratuitous ARP for {self.ip} from {mac} within {timeout:g} s "
            f"(seen: {self.frames})"))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> ArpWatch:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
