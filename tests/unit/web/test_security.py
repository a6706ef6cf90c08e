"""Sessions, CSRF tokens and the login rate limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.runtime.daemon import CannotStart
from cluster.web.security import (
    KEY_FILE,
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
    assert sessions.get(token, now=1.0) == session and session.may_act
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


def test_signed_sessions_survive_a_restart_but_not_a_logout(tmp_path: Path) -> None:
    token, session = Sessions(tmp_path).create("alice", VIEWER)
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    again = Sessions(tmp_path)                      # the daemon restarted
    assert again.get(token) == session and not session.may_act
    forged = token.replace(token.split(".")[0], token.split(".")[0][:-2] + "AA")
    assert again.get(forged) is None
    other = tmp_path / "other"
    other.mkdir()
    assert Sessions(other).get(token) is None       # another node's key
    again.drop(token)
    assert Sessions(tmp_path).get(token) is None     # logged out stays logged out


def test_a_session_key_others_can_read_is_refused(tmp_path: Path) -> None:
    Sessions(tmp_path)
    (tmp_path / KEY_FILE).chmod(0o644)
    with pytest.raises(CannotStart, match="must be 0600 \\(chmod 600"):
        Sessions(tmp_path)
