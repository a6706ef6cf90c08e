"""The dashboard's own thread: an asyncio loop running aiohttp, and the actor behind actions.

The bus side (the daemon's main loop) never waits on HTTP clients, and the
HTTP side never touches the bus loop: facts cross through :meth:`Hub.post`
and action outcomes through :meth:`ClusterActor.resolve_from_bus`, both
``call_soon_threadsafe``.  Requests to crmd/hbcomm from the HTTP side are
the blocking :func:`cluster.bus.client.request`, run in worker threads.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import ssl
import threading
from pathlib import Path

from aiohttp import web

from cluster.bus import codec
from cluster.bus.client import BusError, RemoteError, request
from cluster.bus.messages.common import OkResult
from cluster.bus.messages.hbcomm import SendToCluster
from cluster.bus.messages.web import MTYPE, RemoteAction
from cluster.web.hub import Hub

log = logging.getLogger(__name__)

_START_TIMEOUT = 15.0
_STOP_TIMEOUT = 10.0
_SEND_TIMEOUT = 5.0


def crmd_request(run_dir: Path, msg: object, timeout: float) -> tuple[bool, str]:
    """One request to this node's crmd as (ok, what happened) for people (blocking)."""
    try:
        reply = request(run_dir, "crmd", msg, timeout=timeout)
    except RemoteError as err:
        return False, err.result.message
    except BusError as err:
        return False, str(err)
    return True, (reply.detail if isinstance(reply, OkResult) else "") or "done"


class ClusterActor:
    """Carries an action to the crmd of the node it is for (this one, or a peer's over
    the cluster) and waits for the outcome."""

    def __init__(self, run_dir: Path, node: str) -> None:
        self.run_dir = run_dir
        self.node = node
        self.loop: asyncio.AbstractEventLoop | None = None
        self._pending: dict[str, asyncio.Future[tuple[bool, str]]] = {}

    async def act(self, node: str, msg: object, timeout: float) -> tuple[bool, str]:
        if node == self.node:
            return await asyncio.to_thread(crmd_request, self.run_dir, msg, timeout)
        ident = secrets.token_hex(8)
        future: asyncio.Future[tuple[bool, str]] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        try:
            body = codec.encode(RemoteAction(ident, codec.encode(msg)))
            sent = await asyncio.to_thread(self._send, SendToCluster(MTYPE, body, node))
            if sent is not None:
                return False, sent
            return await asyncio.wait_for(future, timeout + _SEND_TIMEOUT)
        except TimeoutError:
            return False, f"{node} did not report the outcome within {timeout:g} s"
        finally:
            self._pending.pop(ident, None)

    def _send(self, msg: SendToCluster) -> str | None:
        try:
            request(self.run_dir, "hbcomm", msg, timeout=_SEND_TIMEOUT)
        except BusError as err:
            return f"cannot reach {msg.dest}: {err}"
        return None

    def resolve_from_bus(self, ident: str, ok: bool, detail: str) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._resolve, ident, ok, detail)

    def _resolve(self, ident: str, ok: bool, detail: str) -> None:
        future = self._pending.get(ident)
        if future is not None and not future.done():
            future.set_result((ok, detail))


class HttpThread:
    """Runs `app` on (host, port) in a thread of its own until :meth:`stop`."""

    def __init__(self, app: web.Application, host: str, port: int,
                 context: ssl.SSLContext | None, hub: Hub, actor: ClusterActor) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._ssl = context
        self._hub = hub
        self._actor = actor
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Future[None] | None = None
        self._thread = threading.Thread(target=self._run, name="web-http", daemon=True)

    def start(self) -> None:
        """Start serving; raises OSError when the address cannot be bound."""
        self._thread.start()
        if not self._started.wait(_START_TIMEOUT):
            raise RuntimeError(f"the web server did not start within {_START_TIMEOUT:g} s")
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        stop = self._stop

        def finish() -> None:
            if stop is not None and not stop.done():
                stop.set_result(None)

        if stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(finish)
        self._thread.join(_STOP_TIMEOUT)

    def _run(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        self._hub.loop = loop
        self._actor.loop = loop
        runner = web.AppRunner(self._app, access_log=None, handle_signals=False)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self._host, self._port, ssl_context=self._ssl,
                               reuse_address=True, shutdown_timeout=1.0)
            loop.run_until_complete(site.start())
        except BaseException as err:   # handed to start(), which raises it
            self._error = err
            self._started.set()
            loop.run_until_complete(runner.cleanup())
            loop.close()
            return
        self._stop = loop.create_future()
        self._started.set()
        try:
            loop.run_until_complete(self._stop)
        finally:
            self._hub.close_streams()     # the event streams end, so their handlers return
            loop.run_until_complete(runner.cleanup())
            loop.close()
