"""Who may look and who may act: PAM login, roles from Unix groups, sessions, CSRF, rate limit.

Members of ``haclient`` are operators (they may act); members of the
read-only group (``web ... readonly=GROUP``, default ``haview``) may only
look; anyone else is refused at login even with a good password.  A session
is a signed token in an HttpOnly cookie (see :class:`Sessions`: it survives a
restart of the daemon); each session has its own CSRF token, which every POST
must echo in the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import base64
import grp
import hashlib
import hmac
import json
import logging
import os
import pwd
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from cluster.bus.endpoints import CLIENT_GROUP
from cluster.runtime.daemon import CannotStart

log = logging.getLogger(__name__)

OPERATOR = "operator"
VIEWER = "viewer"
SESSION_SECONDS = 8 * 3600
PAM_SERVICE = "cluster-web"     # falls back to /etc/pam.d/other when not installed
_MAX_REVOKED = 10000
KEY_FILE = "web-session.key"
REVOKED_FILE = "web-sessions-revoked.json"


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
    expires: float       # wall clock
    nonce: str = ""

    @property
    def may_act(self) -> bool:
        return self.role == OPERATOR


class Sessions:
    """Signed session tokens: ``payload.signature``, the payload (user, role, expiry,
    nonce) in the clear and the signature an HMAC-SHA256 with a key kept 0600 in the
    state directory, so a restarted daemon still honours them.  The CSRF token is an
    HMAC of the nonce, so it survives too.  A logout revokes the nonce until the
    token would have expired (kept in the state directory as well)."""

    def __init__(self, state_dir: Path | None = None) -> None:
        self._dir = state_dir
        self._key = _session_key(state_dir)
        self._revoked: dict[str, float] = _load_revoked(state_dir)

    def create(self, user: str, role: str, now: float | None = None) -> tuple[str, Session]:
        now = time.time() if now is None else now
        payload = {"u": user, "r": role, "e": round(now + SESSION_SECONDS, 3),
                   "n": secrets.token_urlsafe(16)}
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        token = f"{body}.{_b64(self._sign(b'session:' + body.encode()))}"
        session = self.get(token, now)
        assert session is not None
        return token, session

    def get(self, token: str | None, now: float | None = None) -> Session | None:
        """The session of a genuine, unexpired, not logged-out token."""
        session = self._verify(token)
        now = time.time() if now is None else now
        if session is None or session.expires <= now or session.nonce in self._revoked:
            return None
        return session

    def drop(self, token: str | None) -> None:
        """Log out: the token is refused from now on, also after a restart."""
        session = self._verify(token)
        if session is None:
            return
        now = time.time()
        self._revoked = {n: t for n, t in self._revoked.items() if t > now}
        if len(self._revoked) < _MAX_REVOKED:
            self._revoked[session.nonce] = session.expires
        _save_revoked(self._dir, self._revoked)

    def _verify(self, token: str | None) -> Session | None:
        if not token or len(token) > 1024 or token.count(".") != 1:
            return None
        body, signature = token.split(".")
        if not hmac.compare_digest(signature, _b64(self._sign(b"session:" + body.encode()))):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            user, role, expires, nonce = payload["u"], payload["r"], payload["e"], payload["n"]
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(expires, int | float):
            return None
        csrf = _b64(self._sign(b"csrf:" + str(nonce).encode()))
        return Session(str(user), str(role), csrf, float(expires), str(nonce))

    def _sign(self, data: bytes) -> bytes:
        return hmac.new(self._key, data, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _session_key(state_dir: Path | None) -> bytes:
    """The signing key, made on first use (0600; a key another user could read is refused)."""
    if state_dir is None:
        return secrets.token_bytes(32)
    path = state_dir / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise CannotStart(f"{path} is mode {mode:04o}; the dashboard's session key must "
                              f"be 0600 (chmod 600 {path}, or remove it to make a new one)"
                              ) from None
        key = path.read_bytes()
        if len(key) >= 32:
            return key
        raise CannotStart(f"{path} is too short to be a session key; remove it and a new "
                      "one is made") from None
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


def _load_revoked(state_dir: Path | None) -> dict[str, float]:
    if state_dir is None:
        return {}
    try:
        data = json.loads((state_dir / REVOKED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    now = time.time()
    return {str(n): float(t) for n, t in data.items()
            if isinstance(t, int | float) and t > now}


def _save_revoked(state_dir: Path | None, revoked: dict[str, float]) -> None:
    if state_dir is None:
        return
    path = state_dir / REVOKED_FILE
    temp = path.with_suffix(".tmp")
    try:
        temp.write_text(json.dumps(revoked), encoding="utf-8")
        os.replace(temp, path)
    except OSError as err:
        log.warning("cannot keep the logged-out sessions in %s: %s; they end at a restart "
                    "only by expiry", path, err)


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
