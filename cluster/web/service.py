"""cluster-web's bus side: follow the cluster, sample this host, feed the hub, relay actions.

Runs in the daemon's bus loop like every other daemon; the HTTP server runs
in its own thread (:mod:`cluster.web.server`).  The picture is asked anew
(crmd GetStatus, hbcomm GetNodes) whenever a node, link or local group
changes and at least once a second (peers' group changes reach us only that
way); a picture equal to the previous one is not sent again.  Every 5 s
this node's host sample goes to every node's dashboard over the
cluster (hbcomm cluster messages of type ``web``).
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
from cluster.bus.messages.web import MTYPE, ActionDone, HostSample, RemoteAction
from cluster.common.logs import RateLimiter
from cluster.config.confdir import ClusterConfig
from cluster.runtime.daemon import DaemonContext, NotNeeded, run_daemon
from cluster.web.actions import RELAYABLE
from cluster.web.app import WebApp
from cluster.web.hostinfo import HostReader
from cluster.web.hub import Hub
from cluster.web.logtail import LogTail
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
                     secure=context is not None)
        self.http = HttpThread(app.application(), listen.host, listen.port, context,
                               self.hub, self.actor)
        self.http.start()
        log.info("dashboard on %s://%s:%d", "https" if context else "http",
                 f"[{listen.host}]" if ":" in listen.host else listen.host, listen.port)
        self._timeline = Timeline()
        self._reader = HostReader(ctx.node)
        self._tail = LogTail(ctx.paths.log_dir)
        self._last: Picture | None = None
        self._status: StatusResult | None = None
        self._busy = False
        self._again = False
        self._down = RateLimiter(interval=60.0)
        self._extras: dict[str, Any] = {"stonith_devices": [], "monitors": [],
                                        "last_fence": None}
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
                self.hub.post("timeline", entry)
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
            self._extras["last_fence"] = {"node": msg.node, "ok": msg.ok, "device": msg.device,
                                          "detail": msg.detail, "when": time.time()}
            self.hub.post("timeline", self._timeline.fenced(msg.node, msg.ok, msg.device,
                                                            msg.detail, time.time()))
            self._refresh()

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
        def sent(reply: object) -> None:
            if isinstance(reply, BusError):
                log.warning("cannot send an action's outcome to %s: %s", dest, reply)

        self._hbcomm.call(SendToCluster(MTYPE, codec.encode(done), dest), _ASK_TIMEOUT, sent)

    # -- logs -----------------------------------------------------------------------------
    def _tail_logs(self) -> None:
        for daemon, lines in self._tail.poll().items():
            if lines:
                self.hub.post("log", {"daemon": daemon, "lines": lines})

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
