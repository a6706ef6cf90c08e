"""``authkeys`` -> :class:`AuthKeys`: the shared secrets that sign every cluster message.

Role: a pure parser. :func:`parse_authkeys` takes the file's text, the name to use
in messages and the file's mode (the caller stats the file: this module touches no
files) and returns a frozen :class:`AuthKeys`, or raises ``ConfigError``. The packet
layer (``hbcomm``) signs outgoing messages with :attr:`AuthKeys.active_key` and
verifies incoming ones with whichever key index the packet names, which is how keys
are rotated without a flag day.

Format (reference section 3)::

    auth 1                 # the index that signs outgoing messages
    1 sha256 SomeSecret    # <index 0..15> <method> [secret]
    2 sha1 OldSecret
    3 crc                  # integrity only; no secret

* ``#`` starts a comment line; after a complete key line a ``#`` word starts a
  trailing comment. A secret is one word: Heartbeat silently uses only the first
  word of ``1 sha1 two words``, so that is an error here rather than a surprise.
* Methods: ``sha256`` (our addition, recommended; Heartbeat 3.0.6 cannot verify it),
  ``sha1``, ``md5`` (HMACs keyed with the secret's bytes) and ``crc`` (no secret,
  authenticates nothing, produces a warning when active).
* The file must not be readable or writable by group or others (mode 600).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from cluster.config import values
from cluster.config.errors import ConfigError, located

__all__ = ["METHODS", "AuthKey", "AuthKeys", "parse_authkeys"]

#: Accepted methods, strongest first.
METHODS = ("sha256", "sha1", "md5", "crc")

_MAX_INDEX = 15


@dataclass(frozen=True, slots=True)
class AuthKey:
    """One numbered key. ``secret`` is empty for ``crc`` and never shown by ``repr``."""

    index: int
    method: str
    secret: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class AuthKeys:
    """All keys of the file; ``active`` is the index that signs outgoing messages.

    ``keys`` is an immutable mapping index -> key. ``warnings`` are ready-to-print
    ``path:line: text`` strings (an active ``crc`` or ``sha256`` key).
    """

    active: int
    keys: Mapping[int, AuthKey]
    path: str
    warnings: tuple[str, ...] = ()

    @property
    def active_key(self) -> AuthKey:
        """The key named by the ``auth`` line."""
        return self.keys[self.active]


def parse_authkeys(text: str, source: str, mode: int) -> AuthKeys:
    """Parse the text of an ``authkeys`` file whose ``st_mode`` is ``mode``."""
    if mode & 0o077:
        raise ConfigError(
            source, None,
            f"mode {mode & 0o7777:04o} is too open; authkeys holds the cluster's secret and "
            f"must be mode 600 (chmod 600 {source})",
        )  # fmt: skip
    keys: dict[int, AuthKey] = {}
    key_lines: dict[int, int] = {}
    active: int | None = None
    auth_line = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        content = raw.strip(" \t\r")
        if not content or content.startswith("#"):
            continue
        words = re.split(r"[ \t]+", content)
        try:
            if words[0].startswith("a"):
                if active is not None:
                    raise ValueError(f"a second auth line (the first is at line {auth_line})")
                active, auth_line = _auth_line(words), number
                continue
            key = _key_line(words)
        except values.BadValue as err:
            raise ConfigError(source, number, err.describe()) from None
        except ValueError as err:
            raise ConfigError(source, number, str(err)) from None
        if key.index in keys:
            raise ConfigError(
                source, number,
                f"key {key.index} is already defined at line {key_lines[key.index]}",
            )  # fmt: skip
        keys[key.index] = key
        key_lines[key.index] = number
    if active is None:
        raise ConfigError(
            source, None, "no 'auth N' line saying which key signs outgoing messages (e.g. auth 1)"
        )
    if active not in keys:
        defined = ", ".join(str(index) for index in sorted(keys)) or "none"
        raise ConfigError(
            source, auth_line,
            f"auth {active} selects key {active}, but there is no key {active} "
            f"(keys defined: {defined})",
        )  # fmt: skip
    warnings = _warnings(source, auth_line, keys[active])
    return AuthKeys(active, values.FrozenDict(keys), source, warnings)


def _auth_line(words: list[str]) -> int:
    if words[0] != "auth" or len(words) < 2 or _trailing(words[2:]):
        raise ValueError("expected 'auth N', the index of the key that signs outgoing messages")
    return values.integer(words[1], 0, _MAX_INDEX, "key index")


def _key_line(words: list[str]) -> AuthKey:
    if len(words) < 2:
        raise ValueError("expected 'N method [secret]', e.g. 1 sha256 LongRandomSecret")
    index = values.integer(words[0], 0, _MAX_INDEX, "key index")
    method = words[1].lower()
    if method not in METHODS:
        raise ValueError(
            f"unknown method {words[1]!r} for key {index} (use sha256, sha1, md5 or crc)"
        )
    if method == "crc":
        if _trailing(words[2:]):
            raise ValueError(f"key {index}: crc takes no secret")
        return AuthKey(index, method, b"")
    if len(words) < 3:
        raise ValueError(f"key {index}: {method} needs a secret ({index} {method} <secret>)")
    if _trailing(words[3:]):
        raise ValueError(
            f"key {index}: the secret must be one word without spaces "
            f"(Heartbeat would silently use only the first word)"
        )
    return AuthKey(index, method, words[2].encode("utf-8", "surrogateescape"))


def _trailing(words: list[str]) -> bool:
    """True if ``words`` (what follows a complete line) is more than a comment."""
    return bool(words) and not words[0].startswith("#")


def _warnings(source: str, line: int, key: AuthKey) -> tuple[str, ...]:
    if key.method == "crc":
        text = (
            f"the active key {key.index} uses crc, which authenticates nothing: anyone on the "
            "heartbeat networks can forge cluster messages (use sha256 or sha1)"
        )
    elif key.method == "sha256":
        text = (
            f"the active key {key.index} uses sha256, which Heartbeat 3.0.6 nodes cannot verify "
            "(use sha1 while any still run)"
        )
    else:
        return ()
    return (located(source, line, text),)
