"""The dashboard's live state and its Server-Sent Events stream (asyncio side only).

The bus side posts facts here (:meth:`Hub.post`, thread-safe); the hub keeps
the newest cluster picture, each node's latest host sample and its last hour,
the timeline and a tail of the logs, numbers every event, and fans events out
to the open streams.  A stream that reconnects with ``Last-Event-ID`` gets
exactly the events it missed while they are still in the ring; otherwise it
starts over from a snapshot.
"""

from __future__ import annotations

import asyncio
import collections
import json
import threading
import time
from collections.abc import AsyncGenerator
from typing import Any

_RING = 4000
_TIMELINE = 300
_LOG_LINES = 400          # per node
_LOG_WATCH = 15.0         # a node's logs are fetched this long after a page last asked
_HISTORY = 720            # host samples kept per node: one hour at one per 5 s
_SNAPSHOT_POINTS = 360    # history points per node in a snapshot
_QUEUE = 1000             # a stream this far behind is dropped (it reconnects)

Event = tuple[int, str, str]     # id, kind, JSON data


class Hub:
    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.cluster: dict[str, Any] | None = None
        self.hosts: dict[str, dict[str, Any]] = {}
        self.history: dict[str, collections.deque[list[float]]] = {}
        self.timeline: collections.deque[dict[str, Any]] = collections.deque(maxlen=_TIMELINE)
        self.logs: dict[str, collections.deque[dict[str, Any]]] = {}
        self._log_watch: dict[str, float] = {}
        self._watch_lock = threading.Lock()
        self._ring: collections.deque[Event] = collections.deque(maxlen=_RING)
        self._next_id = 1
        self._streams: set[_Stream] = set()
        self.started = time.time()
        self.failovers = 0                       # since this dashboard started
        self.last_failover: float | None = None  # the newest failover's outage
        self._last_failover_at = 0.0

    # -- feeding (any thread) -----------------------------------------------------
    def post(self, kind: str, data: dict[str, Any]) -> None:
        """Hand a fact to the hub from the bus thread."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.publish, kind, data)

    # -- asyncio side ---------------------------------------------------------------
    def publish(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "cluster":
            self.cluster = data
        elif kind == "host":
            self._keep_host(data)
        elif kind == "timeline":
            self.timeline.append(data)
            if data["kind"] == "failover":     # kept ones come too, from before the start
                self.failovers += data["when"] >= self.started
                if data["when"] >= self._last_failover_at:
                    self._last_failover_at = data["when"]
                    self.last_failover = data["duration"]
        elif kind == "log":
            self.logs.setdefault(data["node"], collections.deque(maxlen=_LOG_LINES)).extend(
                {"node": data["node"], "daemon": data["daemon"], "line": line}
                for line in data["lines"])
        event = (self._next_id, kind, json.dumps(data, separators=(",", ":")))
        self._next_id += 1
        self._ring.append(event)
        for stream in list(self._streams):
            try:
                stream.queue.put_nowait(event)
            except asyncio.QueueFull:
                stream.dropped = True
                self._streams.discard(stream)

    def _keep_host(self, sample: dict[str, Any]) -> None:
        node = sample["node"]
        self.hosts[node] = sample
        mem = 100.0 * sample["mem_used"] / sample["mem_total"] if sample["mem_total"] else 0.0
        rx = sum(n["rx"] for n in sample["net"])
        tx = sum(n["tx"] for n in sample["net"])
        point = [round(sample["when"], 1), sample["cpu"], round(mem, 1), sample["load"][0],
                 round(rx), round(tx)]
        self.history.setdefault(node, collections.deque(maxlen=_HISTORY)).append(point)

    def snapshot(self) -> dict[str, Any]:
        history = {}
        for node, points in self.history.items():
            step = max(1, len(points) // _SNAPSHOT_POINTS)
            history[node] = list(points)[::-1][::step][::-1]
        logs = [line for lines in self.logs.values() for line in list(lines)[-150:]]
        return {"cluster": self.cluster, "hosts": self.hosts, "history": history,
                "timeline": list(self.timeline), "logs": logs}

    # -- whose logs are watched (the asyncio side marks, the bus side reads) -----------------
    def watch_logs(self, node: str) -> list[dict[str, Any]]:
        """A page shows `node`'s logs: keep them coming for a while; the lines kept so far
        (none when nobody watched it lately: that node's first answer brings its last lines)."""
        with self._watch_lock:
            if node not in self._log_watch:
                self.logs.pop(node, None)
            self._log_watch[node] = time.monotonic()
        return list(self.logs.get(node, ()))

    def watched_log_nodes(self) -> list[str]:
        """Nodes whose logs a page asked for within the last few seconds."""
        now = time.monotonic()
        with self._watch_lock:
            for node in [n for n, t in self._log_watch.items() if t < now - _LOG_WATCH]:
                del self._log_watch[node]
            return list(self._log_watch)

    def missed_since(self, last_id: int) -> list[Event] | None:
        """Events after `last_id`, or None when some of them left the ring."""
        if not self._ring or last_id >= self._next_id:
            return None
        if last_id + 1 < self._ring[0][0]:
            return None
        return [event for event in self._ring if event[0] > last_id]

    async def stream(self, last_id: int | None,
                     idle: float = 15.0) -> AsyncGenerator[Event | None, None]:
        """Every event from now on, preceded by what the client missed (or a snapshot);
        None after `idle` seconds without one (time for a keep-alive)."""
        stream = _Stream()
        self._streams.add(stream)
        try:
            missed = self.missed_since(last_id) if last_id is not None else None
            if missed is None:
                yield (self._next_id - 1, "snapshot",
                       json.dumps(self.snapshot(), separators=(",", ":")))
            else:
                for event in missed:
                    yield event
            while not stream.dropped:
                try:
                    item = await asyncio.wait_for(stream.queue.get(), idle)
                except TimeoutError:
                    yield None
                    continue
                if item is None:
                    return
                yield item
        finally:
            self._streams.discard(stream)

    def close_streams(self) -> None:
        """End every open stream (the daemon is stopping); browsers reconnect elsewhere."""
        for stream in list(self._streams):
            stream.dropped = True
            if not stream.queue.full():
                stream.queue.put_nowait(None)
        self._streams.clear()


class _Stream:
    """One open event stream; `dropped` when it fell too far behind (it reconnects)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=_QUEUE)
        self.dropped = False
