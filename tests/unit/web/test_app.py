"""The HTTP side over a real socket: headers, Origin, CSRF, roles, login limit, files."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from cluster.web.app import COOKIE, WebApp
from cluster.web.hub import Hub
from cluster.web.security import OPERATOR, VIEWER


class Recorder:
    """Stands where the cluster is: records what the page asked for (the unit under
    test is the HTTP layer; the lab test drives real crmd requests)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, object]] = []

    async def act(self, node: str, request: object, timeout: float) -> tuple[bool, str]:
        self.asked.append((node, request))
        return True, "done"


def _run(body: Callable[[TestClient[Any, Any], WebApp, Recorder], Awaitable[None]]) -> None:
    async def main() -> None:
        hub = Hub()
        hub.publish("cluster", {
            "quorate": True, "instance": 1, "fail_counts": [], "failed_actions": [],
            "nodes": [{"name": n, "state": "online", "dc": n == "a", "links": []}
                      for n in ("a", "b")],
            "groups": [{"key": "web", "node": "a"}]})
        recorder = Recorder()
        app = WebApp(hub, recorder, "a", "haview", secure=False,
                     authenticate=lambda _user, _password: False)
        async with TestClient(TestServer(app.application())) as client:
            await body(client, app, recorder)

    asyncio.run(main())


def _origin(client: TestClient[Any, Any]) -> dict[str, str]:
    return {"Origin": f"http://{client.host}:{client.port}"}


def test_every_response_has_the_security_headers() -> None:
    async def body(client: TestClient[Any, Any], _app: WebApp, _r: Recorder) -> None:
        for path in ("/", "/static/app.js", "/nope", "/static/../security.py", "/metrics"):
            response = await client.get(path)
            assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert (await client.get("/static/app.js")).status == 200
        assert (await client.get("/static/vendor/uplot.LICENSE")).status == 404
        assert (await client.get("/static/%2e%2e/app.py")).status == 404
        index = await (await client.get("/")).text()
        assert "<script>" not in index and "style=" not in index

    _run(body)


def test_actions_need_origin_session_csrf_and_the_operator_role() -> None:
    async def body(client: TestClient[Any, Any], app: WebApp, recorder: Recorder) -> None:
        viewer_token, viewer = app.sessions.create("val", VIEWER)
        token, operator = app.sessions.create("otto", OPERATOR)
        action = {"action": "standby", "node": "b"}
        ok_headers = {**_origin(client), "X-CSRF-Token": operator.csrf}

        anonymous = await client.post("/api/action", json=action, headers=_origin(client))
        assert anonymous.status == 401
        client.session.cookie_jar.update_cookies({COOKIE: token})
        cross = await client.post("/api/action", json=action,
                                  headers={"Origin": "https://evil.example",
                                           "X-CSRF-Token": operator.csrf})
        assert cross.status == 403
        no_csrf = await client.post("/api/action", json=action, headers=_origin(client))
        assert no_csrf.status == 403
        assert recorder.asked == []
        done = await client.post("/api/action", json=action, headers=ok_headers)
        assert done.status == 200 and (await done.json())["ok"]
        assert recorder.asked[0][0] == "a"      # intent requests go to the local crmd
        unknown = await client.post("/api/action", json={"action": "standby", "node": "zz"},
                                    headers=ok_headers)
        assert unknown.status == 400

        client.session.cookie_jar.update_cookies({COOKIE: viewer_token})
        denied = await client.post("/api/action", json=action,
                                   headers={**_origin(client), "X-CSRF-Token": viewer.csrf})
        assert denied.status == 403 and len(recorder.asked) == 1

    _run(body)


def test_login_is_rate_limited() -> None:
    async def body(client: TestClient[Any, Any], _app: WebApp, _r: Recorder) -> None:
        statuses = []
        for _ in range(7):
            response = await client.post("/api/login", json={"user": "x", "password": "y"},
                                         headers=_origin(client))
            statuses.append(response.status)
        assert statuses == [401] * 5 + [429] * 2
        assert (await (await client.get("/api/session")).json())["user"] is None

    _run(body)


def test_the_event_stream_needs_a_session_and_starts_with_a_snapshot() -> None:
    async def body(client: TestClient[Any, Any], app: WebApp, _r: Recorder) -> None:
        assert (await client.get("/api/events")).status == 401
        token, _ = app.sessions.create("otto", OPERATOR)
        client.session.cookie_jar.update_cookies({COOKIE: token})
        response = await client.get("/api/events")
        assert response.headers["Content-Type"] == "text/event-stream"
        head = await response.content.readuntil(b"\n\n")
        assert head == b"retry: 1000\n\n"
        event = await response.content.readuntil(b"\n\n")
        assert event.startswith(b"id: 1\nevent: snapshot\ndata: {")
        response.close()

    _run(body)


def test_watching_a_nodes_logs_needs_a_session_and_a_known_node() -> None:
    async def body(client: TestClient[Any, Any], app: WebApp, _r: Recorder) -> None:
        assert (await client.get("/api/logs?node=b")).status == 401
        token, _ = app.sessions.create("val", VIEWER)
        client.session.cookie_jar.update_cookies({COOKIE: token})
        assert (await client.get("/api/logs?node=zz")).status == 400
        app.hub.publish("log", {"node": "b", "daemon": "crmd", "lines": ["stale"]})
        answer = await (await client.get("/api/logs?node=b")).json()
        assert answer["lines"] == []          # a new watch: b's first answer brings its tail
        app.hub.publish("log", {"node": "b", "daemon": "crmd", "lines": ["one", "two"]})
        answer = await (await client.get("/api/logs?node=b")).json()
        assert [line["line"] for line in answer["lines"]] == ["one", "two"]
        assert app.hub.watched_log_nodes() == ["b"]

    _run(body)
