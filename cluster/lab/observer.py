"""The independent safety observers: who holds an IP address (or a mount), every few ms.

Lab tests break clusters on purpose and must prove that a service address was
never held by two nodes at once. Asking the cluster would trust the thing under
test, so `OwnershipObserver` asks the kernels instead: a background thread
dumps the IPv4 addresses of every watched namespace over a netlink socket
opened inside it (see rtnl.py) and records who holds the address.

    with OwnershipObserver([n1, n2], "10.231.1.200") as seen:
        n1.power_off(); ...wait for failover...
    assert not seen.violations(), seen.violations()

Honesty rules:
  * a node whose sample fails is recorded as *unknown* for that sample, never
    as "does not hold it"; `failures()` lists those intervals and
    `assert_safe()` fails on them as on violations;
  * the longest time between two samples is kept (`max_sample_interval`): a
    starved sampler is a blind spot, and the test can see how big it was;
  * a crash of the sampling thread is recorded and fails `assert_safe()`.

`MountObserver` asks the same question of a file system: which nodes have it
mounted, read from the mount tables of the node's own processes (a lab node's
stack runs in a private mount namespace, as on a separate machine).

The timeline stores spans of identical consecutive samples (first and last
sample time), so an interval's bounds are real sample times: "two owners were
seen from t=12.301 to t=12.347", not interpolations.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from cluster.lab.netns import NETNS_DIR, LabError
from cluster.lab.rtnl import AddressReader

if TYPE_CHECKING:
    from cluster.lab.node import Node

__all__ = ["Interval", "MountObserver", "OwnershipObserver", "Span"]

_MAX_ERRORS = 1000  # keep the first ones; a dead namespace fails every sample


@dataclass(frozen=True, slots=True)
class Span:
    """Consecutive identical samples: owners and unsampleable nodes."""

    first: float  # monotonic time of the first sample in the span
    last: float  # ... and of the last one
    owners: frozenset[str]
    unknown: frozenset[str]
    samples: int


@dataclass(frozen=True, slots=True)
class Interval:
    """A stretch of the timeline; `nodes` are the owners (or unknown nodes)."""

    start: float
    end: float
    nodes: frozenset[str]

    @property
    def duration(self) -> float:
        return self.end - self.start


class OwnershipObserver:
    """Samples which of `nodes` hold `ip`, in a background thread.

    Subclasses watch something else by overriding `_open` and `_holds`."""

    def __init__(
        self,
        nodes: Sequence[Node],
        ip: str,
        *,
        interval: float = 0.005,
        max_duration: float = 3600.0,
    ) -> None:
        if not nodes:
            raise LabError("an observer needs at least one node")
        self.ip = ip
        self.interval = interval
        self.max_duration = max_duration
        self._nodes = list(nodes)
        self._readers: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._spans: list[Span] = []
        self._max_owners = 0
        self._samples = 0
        self._max_gap = 0.0
        self._last_sample: float | None = None
        self.errors: list[tuple[float, str, str]] = []  # (time, node, error)
        self.crashed: BaseException | None = None

    # -- lifetime ----------------------------------------------------------

    def start(self) -> OwnershipObserver:
        """Open one netlink socket per node, take a first sample, start sampling."""
        if self._thread is not None:
            raise LabError("observer already started")
        try:
            for node in self._nodes:
                self._readers[node.name] = self._open(node)
        except OSError as exc:
            self._close_readers()
            raise LabError(f"observer cannot watch {node.name}: {exc}") from exc
        self._nodes[0].lab.resources.add_closer(self.stop)
        self._sample()
        self._thread = threading.Thread(target=self._run, name=f"observer-{self.ip}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sampling and close the sockets (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
        self._nodes[0].lab.resources.remove_closer(self.stop)
        with self._lock:
            self._close_readers()

    def __enter__(self) -> OwnershipObserver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _open(self, node: Node) -> Any:
        return AddressReader(NETNS_DIR / node.netns)

    def _holds(self, reader: Any) -> bool:
        return self.ip in reader.ipv4()

    def _close_readers(self) -> None:
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_duration
        next_due = time.monotonic()
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                next_due += self.interval
                delay = next_due - time.monotonic()
                if delay < 0:  # we fell behind; do not try to catch up in a burst
                    next_due, delay = time.monotonic(), 0.0
                if self._stop.wait(delay):
                    break
                self._sample()
        except BaseException as exc:  # recorded, then reported by assert_safe()
            self.crashed = exc

    # -- sampling --------------------------------------------------------------

    def _sample(self) -> Span:
        with self._lock:
            if not self._readers:
                raise LabError("observer is stopped")
            owners: set[str] = set()
            unknown: set[str] = set()
            for name, reader in self._readers.items():
                try:
                    if self._holds(reader):
                        owners.add(name)
                except (OSError, TimeoutError) as exc:
                    unknown.add(name)
                    if len(self.errors) < _MAX_ERRORS:
                        self.errors.append((time.monotonic(), name, str(exc)))
            return self._record(time.monotonic(), frozenset(owners), frozenset(unknown))

    def _record(self, now: float, owners: frozenset[str], unknown: frozenset[str]) -> Span:
        if self._last_sample is not None:
            self._max_gap = max(self._max_gap, now - self._last_sample)
        self._last_sample = now
        self._samples += 1
        self._max_owners = max(self._max_owners, len(owners))
        last = self._spans[-1] if self._spans else None
        if last is not None and last.owners == owners and last.unknown == unknown:
            span = dataclasses.replace(last, last=now, samples=last.samples + 1)
            self._spans[-1] = span
        else:
            span = Span(now, now, owners, unknown, 1)
            self._spans.append(span)
        return span

    # -- results ---------------------------------------------------------------

    def owners_now(self) -> frozenset[str]:
        """Sample right now and return the owners; raises if a node could not
        be sampled (an unknown is never reported as "not an owner")."""
        span = self._sample()
        if span.unknown:
            raise LabError(f"cannot tell whether {sorted(span.unknown)} hold {self.ip}")
        return span.owners

    @property
    def max_owners(self) -> int:
        """The most nodes seen holding the address in one sample."""
        with self._lock:
            return self._max_owners

    @property
    def samples(self) -> int:
        with self._lock:
            return self._samples

    @property
    def max_sample_interval(self) -> float:
        """The longest time between two samples (the biggest blind spot)."""
        with self._lock:
            return self._max_gap

    @property
    def timeline(self) -> tuple[Span, ...]:
        with self._lock:
            return tuple(self._spans)

    def first_held_by(self, name: str, since: float) -> float:
        """When `name` was first seen as the only owner at or after `since`."""
        return next(s.first for s in self.timeline if s.owners == {name} and s.first >= since)

    def moves(self) -> int:
        """Owner changes on the timeline (a gap in between still counts as one move)."""
        owners = [span.owners for span in self.timeline if span.owners]
        return sum(1 for before, after in itertools.pairwise(owners) if before != after)

    def violations(self) -> list[Interval]:
        """Intervals in which two or more nodes held the address."""
        return self._intervals(lambda span: len(span.owners) >= 2, lambda span: span.owners)

    def gaps(self) -> list[Interval]:
        """Intervals in which every node was sampled and none held the address."""
        return self._intervals(lambda span: not span.owners and not span.unknown, lambda _: set())

    def failures(self) -> list[Interval]:
        """Intervals in which some node could not be sampled (`nodes` = those)."""
        return self._intervals(lambda span: bool(span.unknown), lambda span: span.unknown)

    def assert_safe(self) -> None:
        """AssertionError unless the whole run was observed with at most one owner."""
        problems: list[str] = []
        if self.crashed is not None:
            problems.append(f"sampler crashed: {self.crashed!r}")
        problems += [
            f"{sorted(i.nodes)} held {self.ip} for {i.duration:.3f}s from t={i.start:.3f}"
            for i in self.violations()
        ]
        problems += [
            f"{sorted(i.nodes)} unobservable for {i.duration:.3f}s from t={i.start:.3f}"
            for i in self.failures()
        ]
        if problems:
            raise AssertionError("ownership of " + self.ip + ": " + "; ".join(problems))

    def _intervals(
        self,
        matches: Callable[[Span], bool],
        members: Callable[[Span], frozenset[str] | set[str]],
    ) -> list[Interval]:
        result: list[Interval] = []
        current: Interval | None = None
        for span in self.timeline:
            if not matches(span):
                if current is not None:
                    result.append(current)
                current = None
            elif current is None:
                current = Interval(span.first, span.last, frozenset(members(span)))
            else:
                current = Interval(current.start, span.last, current.nodes | members(span))
        if current is not None:
            result.append(current)
        return result


class _MountTable:
    """Reads whether a node's processes see `mountpoint` mounted (closes nothing)."""

    def __init__(self, node: Node, mountpoint: str) -> None:
        self.node = node
        self.mountpoint = mountpoint

    def mounted(self) -> bool:
        """True if any mount namespace of the node's processes has the mount.

        A process dying under us (a power-off) loses its namespace mid-read
        and is skipped; only when no process at all could be read is the
        node unknown (OSError).  A node with no process holds nothing."""
        seen: set[int] = set()
        error: OSError | None = None
        read_any = False
        for pid in self.node.pids():
            try:
                namespace = os.stat(f"/proc/{pid}/ns/mnt").st_ino
                if namespace in seen:
                    continue
                with open(f"/proc/{pid}/mountinfo", encoding="utf-8") as handle:
                    table = handle.read()
            except OSError as exc:
                error = exc
                continue
            seen.add(namespace)
            read_any = True
            if any(line.split()[4] == self.mountpoint for line in table.splitlines()):
                return True
        # Re-listed on purpose: if every process died meanwhile, the node holds nothing.
        if error is not None and not read_any and self.node.pids():
            raise error
        return False

    def close(self) -> None:
        """Nothing to release: the table is read afresh each time."""


class MountObserver(OwnershipObserver):
    """Samples which of `nodes` have `mountpoint` mounted (a shared disk's file system)."""

    def __init__(self, nodes: Sequence[Node], mountpoint: str, *,
                 interval: float = 0.02, max_duration: float = 3600.0) -> None:
        super().__init__(nodes, mountpoint, interval=interval, max_duration=max_duration)

    def _open(self, node: Node) -> _MountTable:
        return _MountTable(node, self.ip)

    def _holds(self, reader: Any) -> bool:
        return bool(reader.mounted())
