"""An in-memory cluster of membership cores: h11's connection pair, scaled up.

`ClusterSim` owns a fake clock, one :class:`Membership` per node and a
network.  Who hears whom is a directed relation (`hears[a]` = the nodes a's
hbcomm sees up); a message from a reaches b only while b hears a, after a
random delay, in order per (sender, receiver) pair (hbcomm's guarantee), and
is lost with probability `loss`.  Reachability changes reach each core as
hbcomm's node events after a random detection skew.  Messages go through the
real codec.  Nothing sleeps: `run` jumps from one event or core deadline to
the next.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cluster.bus import codec
from cluster.bus.messages.ccm import ViewChanged
from cluster.ccm.interface import MembershipConfig, Send, ViewPublished
from cluster.ccm.membership import Membership


@dataclass(order=True)
class _Event:
    when: float
    seq: int
    kind: str = field(compare=False)            # "msg" | "status"
    src: str = field(compare=False)
    dst: str = field(compare=False)
    payload: bytes = field(compare=False, default=b"")


class ClusterSim:
    def __init__(self, names: Iterable[str], *, keepalive: float = 1.0, seed: int = 0,
                 loss: float = 0.0, delay: tuple[float, float] = (0.001, 0.01),
                 skew: float = 0.2) -> None:
        self.names = tuple(sorted(names))
        self.keepalive = keepalive
        self.now = 0.0
        self.rng = random.Random(seed)
        self.loss = loss
        self.delay = delay
        self.skew = skew
        self.hears: dict[str, set[str]] = {n: set(self.names) - {n} for n in self.names}
        self.alive: set[str] = set(self.names)
        self.persisted: dict[str, int] = {n: 0 for n in self.names}
        self.history: dict[str, list[ViewChanged]] = {n: [] for n in self.names}
        self.published: list[ViewPublished] = []
        self.sent = 0
        self.delivered = 0  # messages a core received (a broadcast: one per receiver)
        self._queue: list[_Event] = []
        self._seq = itertools.count()
        self._fifo: dict[tuple[str, str], float] = {}
        self.cores: dict[str, Membership] = {}
        for name in self.names:
            self._boot(name)

    # -- topology ----------------------------------------------------------
    def _boot(self, name: str) -> None:
        config = MembershipConfig(name, self.names, self.keepalive)
        self.cores[name] = Membership(config, self.now, max_instance=self.persisted[name],
                                      first_round=self.rng.randrange(1, 1 << 30))

    def start(self, comm_up: bool = True) -> None:
        for name in sorted(self.alive):
            self._apply(name, self.cores[name].hbcomm_snapshot(self._statuses(name), comm_up,
                                                               self.now))

    def _statuses(self, name: str) -> dict[str, str]:
        return {n: ("active" if n in self.hears[name] else "dead")
                for n in self.names if n != name}

    def set_hears(self, node: str, heard: Iterable[str]) -> None:
        """`node`'s hbcomm now sees exactly `heard` (alive nodes only)."""
        new = set(heard) & self.alive - {node}
        for peer in sorted(new ^ self.hears[node]):
            delay = self.rng.uniform(0.0, self.skew)
            self._push(self.now + delay, "status", peer, node)
        self.hears[node] = new

    def connect(self, groups: Iterable[Iterable[str]]) -> None:
        """Partition: every node hears exactly the alive nodes of its group."""
        for group in groups:
            members = set(group)
            for node in sorted(members & self.alive):
                self.set_hears(node, members)

    def heal(self) -> None:
        self.connect([self.alive])

    def cut(self, listener: str, speaker: str) -> None:
        """One way: `listener` no longer hears `speaker`."""
        self.set_hears(listener, self.hears[listener] - {speaker})

    def kill(self, node: str) -> None:
        self.alive.discard(node)
        self.hears[node] = set()
        for other in sorted(self.alive):
            self.set_hears(other, self.hears[other] - {node})

    def revive(self, node: str) -> None:
        """Power on again: a fresh ccm with its persisted instance, heard by all."""
        self.alive.add(node)
        self._boot(node)
        self.hears[node] = set(self.alive) - {node}
        for other in sorted(self.alive - {node}):
            self.set_hears(other, self.hears[other] | {node})
        self._apply(node, self.cores[node].hbcomm_snapshot(self._statuses(node), True,
                                                           self.now))

    def restart_ccm(self, node: str) -> None:
        """Only ccm restarts: hbcomm (and every peer's view of the node) carries on."""
        self._boot(node)
        self._apply(node, self.cores[node].hbcomm_snapshot(self._statuses(node), True,
                                                           self.now))

    # -- running -----------------------------------------------------------
    def _push(self, when: float, kind: str, src: str, dst: str, payload: bytes = b"") -> None:
        heapq.heappush(self._queue, _Event(when, next(self._seq), kind, src, dst, payload))

    def _apply(self, name: str, effects: Sequence[object]) -> None:
        core = self.cores[name]
        self.persisted[name] = max(self.persisted[name], core.max_instance)
        for effect in effects:
            if isinstance(effect, Send):
                self._send(name, effect)
            elif isinstance(effect, ViewPublished):
                self.history[name].append(effect.view)
                self.published.append(effect)

    def _send(self, src: str, send: Send) -> None:
        payload = codec.encode(send.message)
        self.sent += 1
        for dst in [send.dest] if send.dest is not None else self.names:
            if dst == src or dst not in self.alive or self.rng.random() < self.loss:
                continue
            when = max(self.now + self.rng.uniform(*self.delay), self._fifo.get((src, dst), 0.0))
            self._fifo[(src, dst)] = when
            self._push(when, "msg", src, dst, payload)

    def _deliver(self, event: _Event) -> None:
        dst = event.dst
        if dst not in self.alive:
            return
        core = self.cores[dst]
        if event.kind == "status":
            status = "active" if event.src in self.hears[dst] else "dead"
            self._apply(dst, core.node_status(event.src, status, self.now))
        elif event.src in self.hears[dst]:  # hbcomm delivers only what it hears
            self.delivered += 1
            self._apply(dst, core.received(event.src, codec.decode(event.payload), self.now))

    def run(self, duration: float) -> None:
        end = self.now + duration
        while True:
            due = min((self.cores[n].next_deadline(), n) for n in self.alive)
            if self._queue and self._queue[0].when <= min(due[0], end):
                event = heapq.heappop(self._queue)
                self.now = max(self.now, event.when)
                self._deliver(event)
            elif due[0] <= end:
                self.now = max(self.now, due[0])
                self._apply(due[1], self.cores[due[1]].tick(self.now))
            else:
                self.now = end
                return

    # -- observations ------------------------------------------------------
    def view(self, node: str) -> ViewChanged:
        return self.cores[node].view

    def groups(self) -> set[frozenset[str]]:
        return {frozenset(self.view(n).members) for n in self.alive}

    def check(self) -> None:
        """Every member agrees with every other; no instance ever went back."""
        for node in self.alive:
            view = self.view(node)
            assert view.formed, f"{node} has no formed view"
            for member in view.members:
                other = self.view(member)
                assert member in self.alive, f"{node}'s view holds dead {member}"
                assert (other.instance, other.members) == (view.instance, view.members), (
                    f"{node} has {view.instance} {view.members}, "
                    f"{member} has {other.instance} {other.members}")
        for node, views in self.history.items():
            formed = [v for v in views if v.instance > 0]
            for old, new in itertools.pairwise(formed):
                assert new.instance >= old.instance, f"{node}: {old} then {new}"
                assert new.instance > old.instance or new.members == old.members, node
