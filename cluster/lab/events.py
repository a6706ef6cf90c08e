"""Watching a node's daemons from outside: timestamped bus events for tests and benches.

``EventLog(node.run_dir, "hbcomm", ["node", "link"])`` subscribes to that
daemon's event socket (ipc sockets are files, so this works from the root
namespace) in a background thread and records ``(monotonic time, topic,
message)``.  Tests wait on events with :meth:`EventLog.wait_for`, never on
sleeps, and measure from the timestamps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq

from cluster.bus.client import Subscriber
from cluster.bus.loop import Loop


@dataclass(frozen=True, slots=True)
class Event:
    at: float
    topic: str
    msg: Any


_CONFIRM_TIMEOUT = 10.0


class EventLog:
    """Every event the daemon publishes on the given topics once the
    constructor returns (it waits for the daemon to confirm the subscription)."""

    def __init__(self, run_dir: Path, daemon: str, topics: Iterable[str]) -> None:
        self._events: list[Event] = []
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._topics = list(topics)
        self._thread = threading.Thread(target=self._run, args=(run_dir, daemon), daemon=True,
                                        name=f"events-{daemon}")
        self._thread.start()
        if not self._ready.wait(_CONFIRM_TIMEOUT):
            self.close()
            raise TimeoutError(f"{daemon} did not confirm the event subscription within "
                               f"{_CONFIRM_TIMEOUT:g} s: is it running ({run_dir})?")

    def _run(self, run_dir: Path, daemon: str) -> None:
        ctx: zmq.Context[Any] = zmq.Context()
        loop = Loop()
        sub = Subscriber(ctx, loop, run_dir, daemon, self._topics, self._record,
                         on_live=self._ready.set)
        try:
            while not self._stop.is_set():
                loop.run_once(max_wait=0.02)
        finally:
            sub.close()
            loop.close()
            ctx.term()

    def _record(self, topic: str, msg: Any) -> None:
        with self._lock:
            self._events.append(Event(time.monotonic(), topic, msg))
            self._lock.notify_all()

    def events(self) -> list[Event]:
        with self._lock:
            return list(self._events)

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float,
                 message: str = "", since: float = 0.0) -> Event:
        """The first event at or after `since` that satisfies `predicate`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for event in self._events:
                    if event.at >= since and predicate(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = ", ".join(f"{e.topic}:{type(e.msg).__name__}" for e in self._events[-8:])
                    raise TimeoutError(f"{message or 'event'} not seen within {timeout:g} s "
                                       f"(last events: {seen or 'none'})")
                self._lock.wait(min(remaining, 0.05))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
