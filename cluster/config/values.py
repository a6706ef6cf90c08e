"""Value converters shared by the configuration parsers (supervisor's ``datatypes``).

Role: turn one token of a config file into a checked Python value. Each converter is
a small pure function that takes the text as written and returns the value, or raises
:class:`BadValue` (a ``ValueError``) whose text explains what was expected. The
parsers catch it and re-raise it as ``ConfigError`` with ``path:line``; a converter
never knows which file it is reading.

Tokens are ASCII in practice; the converters use explicit ASCII patterns (never
``str.isdigit`` or ``int()`` on raw text) so odd Unicode digits, underscores or signs
are refused instead of half-accepted.

Also here: :class:`FrozenDict`, the immutable, hashable, picklable mapping used for
``HaConfig.raw`` and ``AuthKeys.keys``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeVar

__all__ = [
    "BAUD_RATES",
    "MAX_DURATION_MS",
    "BadValue",
    "FrozenDict",
    "absolute_path",
    "autojoin",
    "baud",
    "boolean",
    "debug_level",
    "duration",
    "duration_ms",
    "failback_mode",
    "format_duration",
    "hopfudge",
    "host",
    "integer",
    "interface_name",
    "ipv4",
    "ipv4_multicast",
    "ipv6",
    "ipv6_multicast",
    "log_path",
    "node_name",
    "port",
    "syslog_facility",
]

K = TypeVar("K")
V = TypeVar("V")


class BadValue(ValueError):
    """A token that is not a valid value of ``kind``.

    ``str(err)`` is ``"bad {kind} {text!r} ({hint})"``; :meth:`describe` inserts the
    directive: ``bad time value 'fast' for keepalive (use seconds, ...)``.
    """

    def __init__(self, kind: str, text: str, hint: str = "") -> None:
        super().__init__(kind, text, hint)
        self.kind = kind
        self.text = text
        self.hint = hint

    def __str__(self) -> str:
        return self.describe()

    def describe(self, directive: str | None = None) -> str:
        """The message, naming ``directive`` when given."""
        where = f" for {directive}" if directive else ""
        tail = f" ({self.hint})" if self.hint else ""
        return f"bad {self.kind} {self.text!r}{where}{tail}"


# --- times ------------------------------------------------------------------------

# glue's cl_get_msec: digits with an optional fraction, then an optional unit.
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([A-Za-z]*)", re.ASCII)
_DURATION_HINT = "use seconds, or a number with ms, e.g. 500ms"
_SECOND_UNITS = frozenset({"s", "sec", "secs", "second", "seconds"})
_MINUTE_UNITS = frozenset({"min", "mins", "minute", "minutes"})

#: Longest accepted time: glue keeps milliseconds in a C ``long``; 2**31-1 ms (~24.8
#: days) is what a 32-bit Heartbeat node can hold, and far beyond any sane timeout.
MAX_DURATION_MS = 2**31 - 1


def duration_ms(text: str, *, units: bool = False) -> int:
    """Parse a Heartbeat time to whole milliseconds (glue ``cl_get_msec`` rules).

    No unit = seconds; ``ms``/``msec`` = milliseconds; ``us``/``usec`` =
    microseconds (units case-insensitive); fractions allowed (``1.5`` = 1500 ms,
    ``.5`` = 500 ms); the result is rounded to the nearest millisecond, halves up.
    Anything else is invalid, including negatives, exponents and ``s``/``sec``
    (Heartbeat rejects those, so a file that works here works there too).
    ``units=True`` also takes ``s`` and ``min`` (Pacemaker's spelling), for
    directives Heartbeat never had.
    """
    stripped = text.strip(" \t")
    match = _DURATION.fullmatch(stripped)
    if match is None:
        if stripped.startswith("-"):
            raise BadValue("time value", text, "times cannot be negative")
        raise BadValue("time value", text, _DURATION_HINT)
    number, unit = match.group(1), match.group(2).lower()
    if len(number) > 24:
        raise BadValue("time value", text, "far too long")
    value = Decimal(number)
    if unit in ("ms", "msec"):
        millis = value
    elif unit in ("us", "usec"):
        millis = value / 1000
    elif unit == "" or (units and unit in _SECOND_UNITS):
        millis = value * 1000
    elif units and unit in _MINUTE_UNITS:
        millis = value * 60_000
    elif unit in _SECOND_UNITS:
        raise BadValue(
            "time value", text, f"Heartbeat times take no 's': write {number} for seconds"
        )
    else:
        raise BadValue("time value", text, _DURATION_HINT)
    rounded = int(millis.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if rounded > MAX_DURATION_MS:
        raise BadValue("time value", text, "longer than 24 days")
    return rounded


def duration(text: str) -> float:
    """Parse a Heartbeat time to seconds (a float holding whole milliseconds).

    ``duration("2") == 2.0``, ``duration("500ms") == 0.5``,
    ``duration("1.2345") == 1.235``; see :func:`duration_ms` for the rules.
    """
    return duration_ms(text) / 1000


def format_duration(seconds: float) -> str:
    """Render seconds for people: ``30s``, ``500ms``, ``1.5s``."""
    millis = round(seconds * 1000)
    if millis % 1000 == 0:
        return f"{millis // 1000}s"
    if millis < 1000:
        return f"{millis}ms"
    return f"{millis // 1000}.{millis % 1000:03d}".rstrip("0") + "s"


# --- numbers and flags --------------------------------------------------------------

_TRUE = frozenset({"true", "on", "yes", "y", "1"})
_FALSE = frozenset({"false", "off", "no", "n", "0"})
_DIGITS = re.compile(r"[0-9]{1,12}", re.ASCII)

#: The serial speeds Heartbeat's ``baud`` accepts.
BAUD_RATES = (9600, 19200, 38400, 57600, 115200, 230400, 460800)


def boolean(text: str) -> bool:
    """Heartbeat boolean: ``true on yes y 1`` / ``false off no n 0``, any case."""
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise BadValue("yes/no value", text, "use on or off (also yes/no, true/false, 1/0)")


def integer(text: str, low: int, high: int, kind: str = "number") -> int:
    """A plain decimal integer in ``low..high`` (no sign, no underscores)."""
    if _DIGITS.fullmatch(text) is None:
        raise BadValue(kind, text, f"use a whole number from {low} to {high}")
    value = int(text)
    if not low <= value <= high:
        raise BadValue(kind, text, f"must be from {low} to {high}")
    return value


def port(text: str) -> int:
    """A UDP/TCP port number, 1..65535."""
    return integer(text, 1, 65535, "port")


def baud(text: str) -> int:
    """A serial speed Heartbeat supports (see :data:`BAUD_RATES`)."""
    allowed = ", ".join(str(rate) for rate in BAUD_RATES)
    if _DIGITS.fullmatch(text) is None or int(text) not in BAUD_RATES:
        raise BadValue("baud rate", text, f"use one of {allowed}")
    return int(text)


def debug_level(text: str) -> int:
    """``debug``: 0 (off) to 255."""
    return integer(text, 0, 255, "debug level")


def hopfudge(text: str) -> int:
    """``hopfudge``: 0 to 255."""
    return integer(text, 0, 255)


def autojoin(text: str) -> str:
    """``autojoin``: ``none``, ``other`` or ``any`` (returned lower-cased)."""
    if text.lower() not in ("none", "other", "any"):
        raise BadValue("autojoin mode", text, "use none, other or any")
    return text.lower()


def failback_mode(text: str) -> str:
    """``auto_failback``: any boolean, or ``legacy``; returns ``on``/``off``/``legacy``."""
    if text.lower() == "legacy":
        return "legacy"
    try:
        return "on" if boolean(text) else "off"
    except BadValue:
        raise BadValue("auto_failback value", text, "use on, off or legacy") from None


# --- names and addresses -------------------------------------------------------------

_NODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}", re.ASCII)
_HOST_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?", re.ASCII)
_IFACE = re.compile(r"[A-Za-z0-9_.:+-]{1,15}", re.ASCII)
_PATH = re.compile(r"/[\x21-\x7e]*", re.ASCII)
_FACILITIES = frozenset(
    {"auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog"}
    | {"user", "uucp", "none"}
    | {f"local{n}" for n in range(8)}
)


def node_name(text: str) -> str:
    """A cluster node name, lower-cased (Heartbeat lower-cases names everywhere).

    Letters, digits, ``.``, ``_`` and ``-``, starting with a letter or digit,
    at most 253 characters: what ``uname -n`` gives on any sane system.
    """
    if _NODE.fullmatch(text) is None:
        raise BadValue(
            "node name", text, "letters, digits, '.', '_' and '-', starting with a letter or digit"
        )
    return text.lower()


def ipv4(text: str) -> str:
    """A dotted-quad IPv4 address, returned in canonical form."""
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise BadValue("IPv4 address", text, "e.g. 192.168.1.10") from None


def ipv4_multicast(text: str) -> str:
    """An IPv4 multicast (class D, 224.0.0.0/4) group address."""
    address = ipv4(text)
    if not ipaddress.IPv4Address(address).is_multicast:
        raise BadValue("multicast group", text, "must be class D, 224.0.0.0 to 239.255.255.255")
    return address


def ipv6(text: str) -> str:
    """An IPv6 address, optionally with a ``%scope`` suffix, canonical form."""
    try:
        return str(ipaddress.IPv6Address(text))
    except ValueError:
        raise BadValue("IPv6 address", text, "e.g. fe80::1%eth0") from None


def ipv6_multicast(text: str) -> str:
    """An IPv6 multicast (ff00::/8) group address."""
    address = ipv6(text)
    if not ipaddress.IPv6Address(address).is_multicast:
        raise BadValue("IPv6 multicast group", text, "must be in ff00::/8, e.g. ff12::1:2")
    return address


def host(text: str) -> str:
    """An IPv4 address or a DNS host name (lower-cased); not resolved here."""
    if re.fullmatch(r"[0-9.]+", text, re.ASCII):
        return ipv4(text)
    labels = text.split(".")
    if len(text) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise BadValue("host", text, "use an IPv4 address or a host name")
    return text.lower()


def interface_name(text: str) -> str:
    """A network interface name as Linux allows it (at most 15 characters, no '/')."""
    if _IFACE.fullmatch(text) is None or text in (".", ".."):
        raise BadValue("interface name", text, "e.g. eth0; at most 15 characters")
    return text


def absolute_path(text: str, kind: str = "path") -> str:
    """An absolute path without spaces or control characters."""
    if _PATH.fullmatch(text) is None:
        raise BadValue(kind, text, "must be an absolute path such as /dev/ttyS0")
    return text


def log_path(text: str) -> str:
    """``logfile``/``debugfile``: an absolute path (``/dev/null`` disables)."""
    return absolute_path(text, "log file")


def syslog_facility(text: str) -> str:
    """A syslog facility name (``daemon``, ``local0`` ... ``local7``) or ``none``."""
    lowered = text.lower()
    if lowered not in _FACILITIES:
        raise BadValue("syslog facility", text, "e.g. daemon, local0 ... local7, or none")
    return lowered


# --- an immutable mapping --------------------------------------------------------------


class FrozenDict(Mapping[K, V]):
    """A read-only mapping that, unlike ``MappingProxyType``, hashes, pickles and deep-copies.

    Keeps insertion order. Used wherever a frozen dataclass needs a mapping field.
    """

    __slots__ = ("_data", "_hash")

    def __init__(self, items: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> None:
        self._data: dict[K, V] = dict(items)
        self._hash: int | None = None

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenDict({self._data!r})"

    def __reduce__(self) -> tuple[type[FrozenDict[K, V]], tuple[dict[K, V]]]:
        return (type(self), (self._data,))
