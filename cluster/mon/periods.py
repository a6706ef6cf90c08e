"""Time periods as Mon writes them: ``wd {Mon-Fri} hr {7am-6pm}``.

Role: parse the period specification of a ``period`` line (the syntax of the
Time::Period Perl module that Mon uses) into a frozen :class:`Period`, and
answer "is this moment inside it?". Pure: the caller passes the local time.

Syntax::

    period      := "" | "none" | sub-period ("," sub-period)*
    sub-period  := (scale "{" range (" " range)* "}")+
    range       := value | value "-" value

Scales (long name or code): year/yr, month/mo, week/wk (week of the month,
1-6, weeks starting on Sunday), yday/yd (1-366), mday/md (1-31), wday/wd
(1-7 or su..sa, Sunday = 1), hour/hr (0-23 or 12am, 1am-11am, 12noon, 12pm,
1pm-11pm), minute/min and second/sec (0-59). A value is discrete in its
scale: ``hr {9am-4pm}`` is 09:00:00 through 16:59:59. ``lo-hi`` with lo > hi
wraps around (``mo {Nov-Feb}``), except for years. Repeating a scale inside a
sub-period widens it; the sub-periods of a period are alternatives. A blank
period is always in effect; ``none`` never. Case and whitespace do not matter.
Two-digit years take the century of the moment being tested.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

__all__ = ["Period", "PeriodError", "parse_period"]

_SCALES = {
    "year": "yr", "yr": "yr", "month": "mo", "mo": "mo", "week": "wk", "wk": "wk",
    "yday": "yd", "yd": "yd", "mday": "md", "md": "md", "wday": "wd", "wd": "wd",
    "hour": "hr", "hr": "hr", "minute": "min", "min": "min", "second": "sec", "sec": "sec",
}  # fmt: skip
_BOUNDS = {
    "mo": (1, 12), "wk": (1, 6), "yd": (1, 366), "md": (1, 31), "wd": (1, 7),
    "hr": (0, 23), "min": (0, 59), "sec": (0, 59),
}  # fmt: skip
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("su", "mo", "tu", "we", "th", "fr", "sa")
_HOUR_RE = re.compile(r"^([0-9]{1,2})(am|pm|noon)$")
_NUMBER_RE = re.compile(r"^[0-9]{1,4}$")
_TOKEN_RE = re.compile(r"\s*([A-Za-z]+)\s*\{([^{}]*)\}\s*")


class PeriodError(ValueError):
    """A period specification that cannot be understood; the text says where."""


@dataclass(frozen=True, slots=True)
class _Scale:
    """One scale of a sub-period: a union of inclusive ranges."""

    code: str
    ranges: tuple[tuple[int, int], ...]

    def contains(self, moment: datetime) -> bool:
        value = _value_of(self.code, moment)
        for low, high in self.ranges:
            if self.code == "yr":
                low, high = _full_year(low, moment.year), _full_year(high, moment.year)
                low, high = min(low, high), max(low, high)
            if low <= high:
                if low <= value <= high:
                    return True
            elif value >= low or value <= high:  # wraps around: Nov-Feb
                return True
        return False


@dataclass(frozen=True, slots=True)
class Period:
    """A parsed period: alternatives (sub-periods) of scale conjunctions."""

    text: str
    subperiods: tuple[tuple[_Scale, ...], ...]
    never: bool = False

    def matches(self, moment: datetime) -> bool:
        """Is the local time `moment` inside this period?"""
        if self.never:
            return False
        if not self.subperiods:
            return True
        return any(all(scale.contains(moment) for scale in sub) for sub in self.subperiods)


ALWAYS = Period(text="", subperiods=())


def parse_period(text: str) -> Period:
    """Parse a Time::Period specification; raise PeriodError when it is malformed."""
    stripped = text.strip()
    if not stripped:
        return ALWAYS
    if stripped.lower() == "none":
        return Period(text=stripped, subperiods=(), never=True)
    subperiods = tuple(_parse_subperiod(part) for part in stripped.split(","))
    return Period(text=stripped, subperiods=subperiods)


def _parse_subperiod(text: str) -> tuple[_Scale, ...]:
    if not text.strip():
        raise PeriodError("empty sub-period (two commas in a row, or a trailing comma)")
    merged: dict[str, list[tuple[int, int]]] = {}
    position = 0
    while position < len(text):
        match = _TOKEN_RE.match(text, position)
        if match is None:
            rest = text[position:].strip()
            raise PeriodError(f"expected 'scale {{range ...}}' at {rest!r}")
        name = match.group(1).lower()
        code = _SCALES.get(name)
        if code is None:
            raise PeriodError(f"unknown scale {match.group(1)!r} (use wd, hr, min, md, mo, ...)")
        ranges = match.group(2).split()
        if not ranges:
            raise PeriodError(f"scale {name} has no values between its braces")
        merged.setdefault(code, []).extend(_parse_range(code, word) for word in ranges)
        position = match.end()
    return tuple(_Scale(code, tuple(ranges)) for code, ranges in merged.items())


def _parse_range(code: str, word: str) -> tuple[int, int]:
    parts = word.split("-")
    if len(parts) == 1:
        value = _parse_value(code, parts[0])
        return value, value
    if len(parts) == 2 and parts[0] and parts[1]:
        return _parse_value(code, parts[0]), _parse_value(code, parts[1])
    raise PeriodError(f"bad range {word!r}")


def _parse_value(code: str, word: str) -> int:
    lower = word.lower()
    value: int | None = None
    if _NUMBER_RE.match(lower):
        value = int(lower)
    elif code == "mo" and len(lower) >= 3 and lower[:3] in _MONTHS:
        value = _MONTHS.index(lower[:3]) + 1
    elif code == "wd" and len(lower) >= 2 and lower[:2] in _WEEKDAYS:
        value = _WEEKDAYS.index(lower[:2]) + 1
    elif code == "hr":
        value = _parse_hour(lower)
    if value is None:
        raise PeriodError(f"bad value {word!r} for scale {code}")
    if code == "yr":
        if not (value <= 99 or value >= 1970):
            raise PeriodError(f"bad year {word!r} (0-99 or 1970 and later)")
        return value
    low, high = _BOUNDS[code]
    if not low <= value <= high:
        raise PeriodError(f"value {word!r} out of range {low}-{high} for scale {code}")
    return value


def _parse_hour(word: str) -> int | None:
    match = _HOUR_RE.match(word)
    if match is None:
        return None
    number, suffix = int(match.group(1)), match.group(2)
    if not 1 <= number <= 12 or (suffix == "noon" and number != 12):
        return None
    if suffix == "am":
        return 0 if number == 12 else number
    return 12 if number == 12 else number + 12


def _full_year(value: int, current: int) -> int:
    return value + (current // 100) * 100 if value <= 99 else value


def _value_of(code: str, moment: datetime) -> int:
    if code == "yr":
        return moment.year
    if code == "mo":
        return moment.month
    if code == "wk":
        # Weeks start on Sunday; week 1 holds the 1st of the month.
        first = moment.replace(day=1)
        first_wday = (first.weekday() + 1) % 7  # Sunday = 0
        return (moment.day - 1 + first_wday) // 7 + 1
    if code == "yd":
        return moment.timetuple().tm_yday
    if code == "md":
        return moment.day
    if code == "wd":
        return (moment.weekday() + 1) % 7 + 1  # Sunday = 1 ... Saturday = 7
    if code == "hr":
        return moment.hour
    if code == "min":
        return moment.minute
    return moment.second
