"""The HTTP side of cluster-web: routes, security headers, login, live events, actions.

Everything here runs on the dashboard's own asyncio loop (its own thread; the
bus side never waits on it).  Only the files listed in ``static/`` at start
are served, by exact name; every POST needs a same-origin ``Origin`` header
and, except the login itself, the session's CSRF token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from cluster.web import metrics
from cluster.web.actions import ACTIONS, client_name
from cluster.web.hub import Hub
from cluster.web.security import (
    LoginLimiter,
    Session,
    Sessions,
    csrf_ok,
    pam_authenticate,
    role_of,
)

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
COOKIE = "cw_session"
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'")
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
_MAX_BODY = 16 * 1024
_KEEPALIVE = 15.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Actor(Protocol):
    async def act(self, node: str, request: object, timeout: float) -> tuple[bool, str]: ...


def _static_files() -> dict[str, tuple[Path, str]]:
    """Every servable file by URL path, fixed at start (nothing else is reachable)."""
    files: dict[str, tuple[Path, str]] = {}
    for path in sorted(STATIC.rglob("*")):
        if path.is_file() and path.suffix in _TYPES:
            files["/static/" + path.relative_to(STATIC).as_posix()] = (path, _TYPES[path.suffix])
    return files


class WebApp:
    def __init__(self, hub: Hub, actor: Actor, node: str, readonly_group: str,
                 secure: bool, authenticate: Callable[[str, str], bool] = pam_authenticate,
                 state_dir: Path | None = None) -> None:
        self.hub = hub
        self.actor = actor
        self.node = node
        self.readonly_group = readonly_group
        self.secure = secure
        self.authenticate = authenticate
        self.sessions = Sessions(state_dir)
        self.limiter = LoginLimiter()
        self.files = _static_files()

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._headers, self._origin],
                              client_max_size=_MAX_BODY)
        app.router.add_get("/", self.index)
        app.router.add_get("/static/{name:.+}", self.static)
        app.router.add_get("/api/session", self.session)
        app.router.add_post("/api/login", self.login)
        app.router.add_post("/api/logout", self.logout)
        app.router.add_get("/api/events", self.events)
        app.router.add_get("/api/logs", self.logs)
        app.router.add_post("/api/action", self.action)
        app.router.add_get("/metrics", self.metrics)
        return app

    # -- middleware -------------------------------------------------------------------
    @web.middleware
    async def _headers(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:     # 404s and the like: the same headers
            self._secure(exc.headers)
            raise
        self._secure(response.headers)
        return response

    def _secure(self, headers: MutableMapping[str, str]) -> None:
        headers["Content-Security-Policy"] = _CSP
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        headers["X-Frame-Options"] = "DENY"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if self.secure:
            headers["Strict-Transport-Security"] = "max-age=31536000"

    @web.middleware
    async def _origin(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            expected = f"{'https' if self.secure else 'http'}://{request.host}"
            if request.headers.get("Origin") != expected:
                return _error(403, "cross-origin request refused")
        return await handler(request)

    # -- pages ----------------------------------------------------------------------------
    async def index(self, request: web.Request) -> web.StreamResponse:
        return self._file("/static/index.html")

    async def static(self, request: web.Request) -> web.StreamResponse:
        return self._file(request.path)

    def _file(self, url: str) -> web.StreamResponse:
        entry = self.files.get(url)
        if entry is None:
            raise web.HTTPNotFound(text="not found")
        path, content_type = entry
        return web.Response(body=path.read_bytes(), headers={
            "Content-Type": content_type, "Cache-Control": "no-cache"})

    # -- sessions -----------------------------------------------------------------------
    def _session(self, request: web.Request) -> Session | None:
        return self.sessions.get(request.cookies.get(COOKIE))

    async def session(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        if session is None:       # a question, not a failure: the page shows the login
            return web.json_response({"user": None, "node": self.node})
        return _session_json(session, self.node)

    async def login(self, request: web.Request) -> web.StreamResponse:
        client = request.remote or "?"
        wait = self.limiter.blocked(client)
        if wait > 0:
            return _error(429, f"too many failed logins; try again in {wait:.0f} s")
        body = await _json_body(request)
        user, password = body.get("user"), body.get("password")
        if not isinstance(user, str) or not isinstance(password, str) or not user:
            return _error(400, "give user and password")
        ok = await asyncio.to_thread(self.authenticate, user, password)
        role = role_of(user, self.readonly_group) if ok else None
        if role is None:
            self.limiter.failed(client)
            log.warning("web login refused for %r from %s (%s)", user, client,
                        "not in haclient or " + self.readonly_group if ok else "bad password")
            return _error(403 if ok else 401,
                          f"{user} may not use the dashboard (not in haclient or "
                          f"{self.readonly_group})" if ok else "wrong user name or password")
        self.limiter.succeeded(client)
        token, session = self.sessions.create(user, role)
        log.info("web login: %s (%s) from %s", user, role, client)
        response = _session_json(session, self.node)
        response.set_cookie(COOKIE, token, httponly=True, secure=self.secure,
                            samesite="Strict", path="/")
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        if session is None or not csrf_ok(session, request.headers.get("X-CSRF-Token")):
            return _error(403, "missing or wrong CSRF token")
        self.sessions.drop(request.cookies.get(COOKIE))
        response = web.json_response({"ok": True})
        response.del_cookie(COOKIE, path="/")
        return response

    # -- live events -----------------------------------------------------------------
    async def events(self, request: web.Request) -> web.StreamResponse:
        if self._session(request) is None:
            return _error(401, "not logged in")
        last = request.headers.get("Last-Event-ID", "")
        last_id = int(last) if last.isdigit() else None
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no"})
        await response.prepare(request)
        await response.write(b"retry: 1000\n\n")
        stream = self.hub.stream(last_id, _KEEPALIVE)
        try:
            async for event in stream:
                if event is None:
                    await response.write(b": keepalive\n\n")
                    continue
                if self._session(request) is None:
                    break          # logged out or expired: the page shows the login again
                ident, kind, data = event
                await response.write(f"id: {ident}\nevent: {kind}\ndata: {data}\n\n".encode())
        except ConnectionResetError:
            pass
        finally:
            await stream.aclose()
        return response

    async def logs(self, request: web.Request) -> web.StreamResponse:
        """The kept log lines of ``?node=``; asking again every few seconds keeps that
        node's new lines coming as ``log`` events (fetched over the cluster)."""
        if self._session(request) is None:
            return _error(401, "not logged in")
        node = request.query.get("node", self.node)
        if node != self.node and node not in {n["name"] for n in
                                              (self.hub.cluster or {}).get("nodes", [])}:
            return _error(400, f"unknown node {node!r}")
        lines = (list(self.hub.logs.get(node, ())) if node == self.node  # always followed
                 else self.hub.watch_logs(node))
        return web.json_response({"node": node, "lines": lines})

    # -- actions ----------------------------------------------------------------------------
    async def action(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        if session is None:
            return _error(401, "not logged in")
        if not csrf_ok(session, request.headers.get("X-CSRF-Token")):
            return _error(403, "missing or wrong CSRF token")
        if not session.may_act:
            return _error(403, f"{session.user} may look but not act (not in haclient)")
        body = await _json_body(request)
        name, node, group = body.get("action"), body.get("node", ""), body.get("group", "")
        spec = ACTIONS.get(name) if isinstance(name, str) else None
        if spec is None:
            return _error(400, f"unknown action {name!r}; known: {', '.join(ACTIONS)}")
        if not isinstance(node, str) or not isinstance(group, str):
            return _error(400, "node and group must be strings")
        cluster = self.hub.cluster or {}
        if (spec.needs_node or node) and node not in {n["name"] for n in
                                                      cluster.get("nodes", [])}:
            return _error(400, f"unknown node {node!r}")
        if spec.needs_group and group not in {g["key"] for g in cluster.get("groups", [])}:
            return _error(400, f"unknown group {group!r}")
        log.info("web action by %s: %s%s%s", session.user, name,
                 f" {group}" if group else "", f" {node}" if node else "")
        ok, detail = await self.actor.act(node if spec.runs_on_node else self.node,
                                          spec.build(node, group, client_name(session.user)),
                                          spec.reply_timeout)
        return web.json_response({"ok": ok, "detail": detail}, status=200 if ok else 409)

    # -- metrics ------------------------------------------------------------------------------
    async def metrics(self, request: web.Request) -> web.StreamResponse:
        text = metrics.render(self.hub.cluster, self.hub.hosts, self.hub.failovers,
                              self.hub.last_failover)
        return web.Response(text=text, headers={"Content-Type": metrics.CONTENT_TYPE})


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)


def _session_json(session: Session, node: str) -> web.Response:
    return web.json_response({"user": session.user, "role": session.role,
                              "csrf": session.csrf, "node": node,
                              "may_act": session.may_act, "time": time.time()})


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError, web.HTTPException):
        raise web.HTTPBadRequest(text='{"ok":false,"error":"the body must be JSON"}',
                                 content_type="application/json") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='{"ok":false,"error":"the body must be a JSON object"}',
                                 content_type="application/json")
    return body
