"""Sessions, CSRF tokens and the login rate limit."""

from __future__ import annotations

from cluster.web.security import (
    OPERATOR,
    SESSION_SECONDS,
    VIEWER,
    LoginLimiter,
    Sessions,
    csrf_ok,
    role_of,
)


def test_sessions_expire_and_drop() -> None:
    sessions = Sessions()
    token, session = sessions.create("alice", OPERATOR, now=0.0)
    assert sessions.get(token, now=1.0) is session and session.may_act
    assert sessions.get(token, now=SESSION_SECONDS + 1) is None
    token, _ = sessions.create("bob", VIEWER, now=0.0)
    sessions.drop(token)
    assert sessions.get(token, now=1.0) is None
    assert sessions.get("", now=1.0) is None and sessions.get("forged", now=1.0) is None


def test_csrf_token_must_match() -> None:
    _, session = Sessions().create("alice", VIEWER, now=0.0)
    assert not session.may_act
    assert csrf_ok(session, session.csrf)
    assert not csrf_ok(session, None) and not csrf_ok(session, session.csrf + "x")


def test_login_limit_per_client_and_window() -> None:
    limiter = LoginLimiter(attempts=3, window=60.0)
    for t in (0.0, 1.0, 2.0):
        assert limiter.blocked("10.0.0.9", now=t) == 0.0
        limiter.failed("10.0.0.9", now=t)
    assert limiter.blocked("10.0.0.9", now=3.0) == 57.0
    assert limiter.blocked("10.0.0.8", now=3.0) == 0.0
    assert limiter.blocked("10.0.0.9", now=60.5) == 0.0      # the first failure aged out
    limiter.succeeded("10.0.0.9")
    assert limiter.blocked("10.0.0.9", now=61.0) == 0.0


def test_unknown_user_has_no_role() -> None:
    assert role_of("no-such-user-here", "haview") is None
