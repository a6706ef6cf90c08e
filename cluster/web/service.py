"""cluster-web's bus side: follow the cluster, sample this host, feed the hub, relay actions.

Runs in the daemon's bus loop like every other daemon; the HTTP server runs
in its own thread (:mod:`cluster.web.server`).  The picture is asked anew
(crmd GetStatus, hbcomm GetNodes) whenever a node, link or local group
changes and at least once a second (peers' group changes reach us only that
way); a picture equal to the previous one is not sent again.  Every 5 s
this node's host sample goes to every node's dashboard over the
cluster (hbcomm cluster messages of type ``web``).  The timeline is shared
and kept the same way (:mod:`cluster.web.history`); another node's logs
are asked from that node's cluster-web only while a page watches them, one
bounded answer at a time.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from cluster.bus import codec, endpoints
from cluster.bus.client import BusError
from cluster.bus.messages.common import ErrorResult, OkResult
from cluster.bus.messages.crmd import GetStatus, StatusResult
from cluster.bus.messages.hbcomm import ClusterMessage, GetNodes, NodesResult, SendToCluster
from cluster.bus.messages.mon import DAEMON as MON
from cluster.bus.messages.mon import GetMonStatus, MonStatusResult
from cluster.bus.messages.stonithd import FenceDevicesResult, ListFenceDevices, NodeFenced
from cluster.bus.messages.web import (
    MTYPE,
    ActionDone,
    HostSample,
    LogAsk,
    LogLines,
    RemoteAction,
    TimelineAsk,
    TimelineShare,
)
from cluster.common.logs import RateLimiter
from cluster.config.confdir import ClusterConfig
from cluster.runtime.daemon import DaemonContext, NotNeeded, run_daemon
from cluster.web.actions import RELAYABLE
from cluster.web.app import WebApp
from cluster.web.history import History, from_message, to_message
from cluster.web.hostinfo import HostReader
from cluster.web.hub import Hub
from cluster.web.logtail import LogTail, newest_within
from cluster.web.picture import Picture, cluster_picture
from cluster.web.server import ClusterActor, HttpThread
from cluster.web.timeline import Timeline
from cluster.web.tls import server_context

log = logging.getLogger(__name__)

_POLL = 1.0
# Samples travel over every heartbeat medium, serial lines included: a ~600-byte
# sample every 5 s is a few per cent of a 19200-baud cable.
_SAMPLE = 5.0
_TAIL = 1.0
_EXTRAS = 5.0      # fence devices and Mon services change rarely
_ASK_TIMEOUT = 2.0
# Another node's logs: asked every 2 s at most, the next ask only after the answer
# (or 5 s), each answer at most 3 KB: about 1.5 KB/s, within a 19200-baud line.
_LOG_ASK = 2.0
_LOG_ANSWER_WAIT = 5.0
_LOG_BUDGET = 3 * 1024
# An asker's place in our files is forgotten after this: its page left (the asker
# stops 15 s after the page's last look), and the next look starts afresh.
_LOG_ASKER_IDLE = 20.0


class WebService:
    def __init__(self, ctx: DaemonContext) -> None:
        listen = ctx.config.ha.web
        if listen is None:
            raise NotNeeded("ha.cf has no web line")
        self._ctx = ctx
        self._loop = ctx.loop
        self._listen = listen
        self.hub = Hub()
        self.actor = ClusterActor(ctx.paths.run_dir, ctx.node)
        context = server_context(listen, ctx.paths.state_dir, ctx.node)
        app = WebApp(self.hub, self.actor, ctx.node, listen.readonly_group,
                     secure=context is not None, state_dir=ctx.paths.state_dir)
        self.http = HttpThread(app.application(), listen.host, listen.port, context,
                               self.hub, self.actor)
        self.http.start()
        log.info("dashboard on %s://%s:%d", "https" if context else "http",
                 f"[{listen.host}]" if ":" in listen.host else listen.host, listen.port)
        self._timeline = Timeline(origin=ctx.node)
        self._history = History(ctx.paths.state_dir, time.time())
        self._asked: set[str] = set()          # peers asked for their timeline
        self._log_asked: dict[str, float] = {}  # node -> when its logs were last asked
        self._log_askers: dict[str, tuple[LogTail, float]] = {}
        self._reader = HostReader(ctx.node)
        self._tail = LogTail(ctx.paths.log_dir)
        self._last: Picture | None = None
        self._status: StatusResult | None = None
        self._busy = False
        self._again = False
        self._down = RateLimiter(interval=60.0)
        self._extras: dict[str, Any] = {"stonith_devices": [], "monitors": [],
                                        "last_fence": self._history.last_fence()}
        for entry in self._history.entries:
            self.hub.post("timeline", entry)
        self._crmd = ctx.client("crmd")
        self._hbcomm = ctx.client("hbcomm")
        self._stonithd = ctx.client("stonithd")
        self._mon = ctx.client(MON)
        ctx.subscribe("hbcomm", ["node", "link", f"msg.{MTYPE}"], self._on_hbcomm,
                      on_live=self._refresh)
        ctx.subscribe("crmd", ["group"], lambda _t, _m: self._refresh(), on_live=self._refresh)
        ctx.subscribe("stonithd", ["fence"], self._on_fence)
        ctx.control_server({})
        self._every(_POLL, self._refresh)
        self._every(_SAMPLE, self._sample)
        self._every(_TAIL, self._tail_logs)
        self._every(_EXTRAS, self._ask_extras)
        self._every(_LOG_ASK, self._ask_logs)

    def _every(self, interval: float, job: Any) -> None:
        def tick() -> None:
            try:
                job()
            finally:
                self._loop.call_later(interval, tick)
        self._loop.call_later(0.0, tick)

    # -- the cluster picture -------------------------------------------------------
    def _refresh(self) -> None:
        if self._busy:
            self._again = True
            return
        self._busy = True
        self._crmd.call(GetStatus(), _ASK_TIMEOUT, self._on_status)

    def _on_status(self, reply: object) -> None:
        if not isinstance(reply, StatusResult):
            self._busy = False
            if self._down.allow():
                log.warning("crmd did not answer the status request: %s", reply)
            self.hub.post("down", {"error": f"crmd is not answering ({reply})"})
            return
        self._status = reply
        self._hbcomm.call(GetNodes(), _ASK_TIMEOUT, self._on_nodes)

    def _on_nodes(self, reply: object) -> None:
        status = self._status
        self._busy = False
        if status is not None:
            picture = cluster_picture(status, reply if isinstance(reply, NodesResult) else None)
            picture.update(self._extras)
            if picture != self._last:
                self._last = picture
                self.hub.post("cluster", picture)
            for entry in self._timeline.observe(picture, time.time()):
                self._record(entry)
            self._ask_timelines(picture)
        if self._again:
            self._again = False
            self._refresh()

    def _on_hbcomm(self, _topic: str, msg: Any) -> None:
        if isinstance(msg, ClusterMessage):
            self._on_cluster_message(msg)
        else:
            self._refresh()

    def _ask_extras(self) -> None:
        # Only daemons that run here: asking an absent one retries its send until timeout.
        run_dir = self._ctx.paths.run_dir
        if endpoints.control_path(run_dir, "stonithd").exists():
            self._stonithd.call(ListFenceDevices(), _ASK_TIMEOUT, self._on_devices)
        if endpoints.control_path(run_dir, MON).exists():
            self._mon.call(GetMonStatus(), _ASK_TIMEOUT, self._on_monitors)

    def _on_devices(self, reply: object) -> None:
        devices = reply.devices if isinstance(reply, FenceDevicesResult) else ()
        self._extras["stonith_devices"] = [
            {"device": d.device, "type": d.type, "hosts": list(d.hosts), "status": d.status}
            for d in devices]

    def _on_monitors(self, reply: object) -> None:
        services = reply.services if isinstance(reply, MonStatusResult) else ()
        self._extras["monitors"] = [
            {"name": f"{s.watch}/{s.service}", "status": s.status, "summary": s.summary,
             "last_check": s.last_check} for s in services]

    def _on_fence(self, _topic: str, msg: Any) -> None:
        if isinstance(msg, NodeFenced):
            self._record(self._timeline.fenced(msg.node, msg.ok, msg.device, msg.detail,
                                               time.time()))

    # -- the timeline, kept and shared -----------------------------------------------------
    def _record(self, entry: dict[str, Any], share: bool = True) -> None:
        """Keep a new entry, show it, and (when this node made it) tell the other dashboards."""
        if not self._history.add(entry, time.time()):
            return
        self.hub.post("timeline", entry)
        if entry["kind"] in ("fence", "fence-failed"):
            self._extras["last_fence"] = self._history.last_fence()
            self._refresh()
        if share:
            self._send(TimelineShare((to_message(entry),)))

    def _ask_timelines(self, picture: dict[str, Any]) -> None:
        """Ask each peer that is (again) with us for its recent timeline, once."""
        up = {n["name"] for n in picture["nodes"]
              if n["state"] != "offline" and n["name"] != self._ctx.node}
        self._asked &= up
        for peer in sorted(up - self._asked):
            self._asked.add(peer)
            self._send(TimelineAsk(), peer)

    def _on_timeline_ask(self, src: str) -> None:
        self._send(TimelineShare(tuple(to_message(e) for e in self._history.recent())), src)
        if src not in self._asked:          # it may know what we missed
            self._asked.add(src)
            self._send(TimelineAsk(), src)

    # -- another node's logs -------------------------------------------------------------------
    def _ask_logs(self) -> None:
        now = time.monotonic()
        for node in self.hub.watched_log_nodes():
            if node != self._ctx.node and self._log_asked.get(node, 0.0) < now - _LOG_ANSWER_WAIT:
                self._log_asked[node] = now
                self._send(LogAsk(), node)
        for src in [s for s, (_t, used) in self._log_askers.items()
                    if used < now - _LOG_ASKER_IDLE]:
            del self._log_askers[src]

    def _on_log_ask(self, src: str) -> None:
        now = time.monotonic()
        tail = self._log_askers.get(src, (LogTail(self._ctx.paths.log_dir), now))[0]
        self._log_askers[src] = (tail, now)
        found = newest_within(tail.poll(), _LOG_BUDGET)
        self._send(LogLines(tuple(found), tuple(tuple(lines) for lines in found.values())), src)

    def _on_log_lines(self, src: str, answer: LogLines) -> None:
        self._log_asked[src] = time.monotonic() - _LOG_ANSWER_WAIT + _LOG_ASK
        for daemon, lines in zip(answer.daemons, answer.lines, strict=False):
            if lines:
                self.hub.post("log", {"node": src, "daemon": daemon, "lines": list(lines)})

    # -- host samples and relayed actions --------------------------------------------------
    def _sample(self) -> None:
        try:
            sample = self._reader.sample()
        except (OSError, ValueError) as err:
            log.warning("cannot read this host's figures: %s", err)
            return

        def sent(reply: object) -> None:
            if not isinstance(reply, OkResult):       # no cluster: show ourselves anyway
                self.hub.post("host", dataclasses.asdict(sample))

        self._hbcomm.call(SendToCluster(MTYPE, codec.encode(sample)), _ASK_TIMEOUT, sent)

    def _on_cluster_message(self, msg: ClusterMessage) -> None:
        try:
            body = codec.decode(msg.body)
        except codec.CodecError as err:
            log.warning("dropped a malformed web message from %s: %s", msg.src, err)
            return
        if isinstance(body, HostSample) and body.node == msg.src:
            self.hub.post("host", dataclasses.asdict(body))
        elif isinstance(body, RemoteAction) and msg.dest == self._ctx.node:
            self._relay(msg.src, body)
        elif isinstance(body, ActionDone):
            self.actor.resolve_from_bus(body.id, body.ok, body.detail)
        elif isinstance(body, TimelineShare):
            for entry in body.entries:
                self._record(from_message(entry), share=False)
        elif isinstance(body, TimelineAsk):
            self._on_timeline_ask(msg.src)
        elif isinstance(body, LogAsk) and msg.dest == self._ctx.node:
            self._on_log_ask(msg.src)
        elif isinstance(body, LogLines) and msg.dest == self._ctx.node:
            self._on_log_lines(msg.src, body)

    def _relay(self, src: str, action: RemoteAction) -> None:
        try:
            request = codec.decode(action.request)
        except codec.CodecError as err:
            self._answer(src, ActionDone(action.id, False, f"malformed request: {err}"))
            return
        if not isinstance(request, RELAYABLE):
            self._answer(src, ActionDone(action.id, False,
                                         f"{type(request).__name__} cannot be relayed"))
            return
        log.info("passing %s from %s's dashboard to crmd", type(request).__name__, src)

        def done(reply: object) -> None:
            if isinstance(reply, OkResult):
                self._answer(src, ActionDone(action.id, True, reply.detail or "done"))
            elif isinstance(reply, ErrorResult):
                self._answer(src, ActionDone(action.id, False, reply.message))
            else:
                self._answer(src, ActionDone(action.id, False, str(reply)))

        self._crmd.call(request, float(getattr(request, "timeout", 10.0)) + 5.0, done)

    def _answer(self, dest: str, done: ActionDone) -> None:
        self._send(done, dest)

    def _send(self, body: object, dest: str | None = None) -> None:
        """One web message to `dest`'s dashboard (None: every node's)."""
        def sent(reply: object) -> None:
            if isinstance(reply, BusError | ErrorResult):
                log.warning("cannot send %s to %s: %s", type(body).__name__,
                            dest or "the cluster", reply)

        self._hbcomm.call(SendToCluster(MTYPE, codec.encode(body), dest), _ASK_TIMEOUT, sent)

    # -- logs -----------------------------------------------------------------------------
    def _tail_logs(self) -> None:
        for daemon, lines in self._tail.poll().items():
            if lines:
                self.hub.post("log", {"node": self._ctx.node, "daemon": daemon, "lines": lines})

    # -- daemon protocol ----------------------------------------------------------------------
    def shutdown(self) -> None:
        self._ctx.finish()

    def reload(self, config: ClusterConfig) -> None:
        if config.ha.web != self._listen:
            log.warning("the web line changed; restart cluster-web (or the stack) to apply it")

    def close(self) -> None:
        self.http.stop()


def main() -> int:
    """``cluster-web``: run the dashboard alone (cluster-mcp starts it for a web line)."""
    return run_daemon("web", WebService)
