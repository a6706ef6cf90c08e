"""Who may look and who may act: PAM login, roles from Unix groups, sessions, CSRF, rate limit.

Members of ``haclient`` are operators (they may act); members of the
read-only group (``web ... readonly=GROUP``, default ``haview``) may only
look; anyone else is refused at login even with a good password.  A session
is a random token in an HttpOnly cookie, kept in memory only (a restarted
daemon asks everybody to log in again); each session has its own CSRF
token, which every POST must echo in the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import grp
import hmac
import os
import pwd
import secrets
import time
from collections import deque
from dataclasses import dataclass, field

from cluster.bus.endpoints import CLIENT_GROUP

OPERATOR = "operator"
VIEWER = "viewer"
SESSION_SECONDS = 8 * 3600
PAM_SERVICE = "cluster-web"     # falls back to /etc/pam.d/other when not installed
_MAX_SESSIONS = 1000


def role_of(user: str, readonly_group: str) -> str | None:
    """OPERATOR, VIEWER or None from the user's Unix groups (primary included)."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None
    groups = set()
    for gid in os.getgrouplist(user, entry.pw_gid):
        try:
            groups.add(grp.getgrgid(gid).gr_name)
        except KeyError:
            continue
    if CLIENT_GROUP in groups:
        return OPERATOR
    if readonly_group in groups:
        return VIEWER
    return None


def pam_authenticate(user: str, password: str) -> bool:
    """Check a password through PAM (blocking; run it in a thread)."""
    import pam  # imported late: only a login needs libpam

    return bool(pam.authenticate(user, password, service=PAM_SERVICE))


@dataclass
class Session:
    user: str
    role: str
    csrf: str
    expires: float

    @property
    def may_act(self) -> bool:
        return self.role == OPERATOR


@dataclass
class Sessions:
    """In-memory sessions by cookie token."""

    _by_token: dict[str, Session] = field(default_factory=dict)

    def create(self, user: str, role: str, now: float | None = None) -> tuple[str, Session]:
        now = time.monotonic() if now is None else now
        self._expire(now)
        if len(self._by_token) >= _MAX_SESSIONS:
            oldest = min(self._by_token, key=lambda t: self._by_token[t].expires)
            del self._by_token[oldest]
        token = secrets.token_urlsafe(32)
        session = Session(user, role, secrets.token_urlsafe(32), now + SESSION_SECONDS)
        self._by_token[token] = session
        return token, session

    def get(self, token: str | None, now: float | None = None) -> Session | None:
        if not token:
            return None
        session = self._by_token.get(token)
        now = time.monotonic() if now is None else now
        if session is None or session.expires <= now:
            self._by_token.pop(token, None)
            return None
        return session

    def drop(self, token: str | None) -> None:
        if token:
            self._by_token.pop(token, None)

    def _expire(self, now: float) -> None:
        for token in [t for t, s in self._by_token.items() if s.expires <= now]:
            del self._by_token[token]


def csrf_ok(session: Session, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(session.csrf, presented)


@dataclass
class LoginLimiter:
    """At most `attempts` failed logins per client address in `window` seconds."""

    attempts: int = 5
    window: float = 60.0
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def blocked(self, client: str, now: float | None = None) -> float:
        """Seconds the client must still wait (0: may try)."""
        now = time.monotonic() if now is None else now
        failures = self._failures.get(client)
        if failures is None:
            return 0.0
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return 0.0
        return failures[0] + self.window - now if len(failures) >= self.attempts else 0.0

    def failed(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if len(self._failures) > 10000:
            self._failures.clear()     # a flood of addresses: start over rather than grow
        self._failures.setdefault(client, deque()).append(now)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)
