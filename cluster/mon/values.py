"""Value converters for ``mon.cf`` tokens: time values, counts, exit ranges, words.

Role: turn one token as written in a Mon configuration into a checked Python
value, or raise :class:`BadValue` (a ``ValueError``) that says what was
expected. The parser (``config.py``) turns that into ``ConfigError`` with
``path:line``; converters never know which file they read.

Mon's time value ("timeval") is a number with a unit: ``30s``, ``5m``, ``1h``,
``1d``, and the number may be a fraction (``1.5h``). Mon requires the unit;
we do too, so ``interval 30`` is refused instead of guessed. Inputs: strings.
Emits: floats (seconds), ints, tuples. Talks to nothing.
"""

from __future__ import annotations

import re
import shlex

__all__ = [
    "BadValue",
    "count",
    "exit_range",
    "format_timeval",
    "hostname",
    "split_words",
    "tag",
    "timeval",
    "yes_no",
]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_TIMEVAL_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?|\.[0-9]+)([smhd])$")
_COUNT_RE = re.compile(r"^[0-9]{1,9}$")
_EXIT_RE = re.compile(r"^exit=([0-9]{1,3})(?:-([0-9]{1,3}))?$")
# Mon: a tag is alphanumerics, dash, period and underscore.
_TAG_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
# Host names or IPv4/IPv6 literals; no shell or option characters.
_HOST_RE = re.compile(r"^[A-Za-z0-9_.:%-]+$")


class BadValue(ValueError):
    """A token that is not a valid value; the text says what was expected."""


def timeval(text: str, *, allow_zero: bool = False) -> float:
    """``30s`` / ``5m`` / ``1.5h`` / ``1d`` -> seconds (a float > 0)."""
    match = _TIMEVAL_RE.match(text.strip())
    if match is None:
        raise BadValue(f"bad time value {text!r} (use a number with s, m, h or d: 30s, 5m, 1h)")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0 and not allow_zero:
        raise BadValue(f"time value {text!r} must be greater than zero")
    return seconds


def format_timeval(seconds: float) -> str:
    """The shortest exact timeval for `seconds` (for status output and logs)."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def count(text: str, *, minimum: int = 1) -> int:
    """A decimal integer >= `minimum` (alertafter, numalerts, histlength, maxprocs)."""
    if not _COUNT_RE.match(text):
        raise BadValue(f"bad number {text!r} (a whole number is expected)")
    value = int(text)
    if value < minimum:
        raise BadValue(f"number {text!r} must be at least {minimum}")
    return value


def yes_no(text: str) -> bool:
    """Mon's boolean globals (``dtlogging = yes``)."""
    word = text.strip().lower()
    if word in ("yes", "on", "true", "1"):
        return True
    if word in ("no", "off", "false", "0"):
        return False
    raise BadValue(f"bad boolean {text!r} (use yes or no)")


def exit_range(text: str) -> tuple[int, int] | None:
    """``exit=3`` or ``exit=10-20`` -> (low, high); None when `text` is not an exit word."""
    if not text.startswith("exit="):
        return None
    match = _EXIT_RE.match(text)
    if match is None:
        raise BadValue(f"bad exit range {text!r} (use exit=N or exit=N-M)")
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) is not None else low
    if low > high or high > 255:
        raise BadValue(f"bad exit range {text!r} (need N <= M <= 255)")
    return low, high


def tag(text: str, what: str) -> str:
    """A hostgroup, watch or service tag."""
    if not _TAG_RE.match(text):
        raise BadValue(f"bad {what} {text!r} (letters, digits, '-', '.', '_')")
    return text


def hostname(text: str) -> str:
    """One host of a hostgroup: a name or an address."""
    if not _HOST_RE.match(text) or text.startswith("-"):
        raise BadValue(f"bad host {text!r} (a host name or an IP address)")
    return text


def split_words(text: str) -> list[str]:
    """Shell-like words, as Mon splits monitor and alert lines."""
    try:
        return shlex.split(text, comments=False, posix=True)
    except ValueError as err:
        raise BadValue(f"cannot split {text!r} into words: {err}") from None
