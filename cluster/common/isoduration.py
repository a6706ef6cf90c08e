"""ISO 8601 durations as Pacemaker's tools take them (``--lifetime PT1H``).

``P[nY][nM][nW][nD][T[nH][nM][nS]]``; a month counts 30 days and a year 365,
as Pacemaker approximates them.  Seconds may have a fraction.
"""

from __future__ import annotations

import re

__all__ = ["parse_duration", "parse_seconds"]

_PATTERN = re.compile(
    r"P(?:(?P<Y>\d+)Y)?(?:(?P<Mo>\d+)M)?(?:(?P<W>\d+)W)?(?:(?P<D>\d+)D)?"
    r"(?:T(?:(?P<H>\d+)H)?(?:(?P<Mi>\d+)M)?(?:(?P<S>\d+(?:\.\d+)?)S)?)?")
_PLAIN = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|sec|m|min|h|hr)?", re.IGNORECASE)
_PLAIN_UNITS = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600}
_SECONDS = {"Y": 365 * 86400, "Mo": 30 * 86400, "W": 7 * 86400, "D": 86400, "H": 3600,
            "Mi": 60, "S": 1}


def parse_duration(text: str) -> float:
    """Seconds in ``text``; ValueError naming the expected form otherwise."""
    match = _PATTERN.fullmatch(text.strip().upper())
    if match is None or text.strip().upper() in ("P", "PT") or text.strip().endswith("T"):
        raise ValueError(f"invalid duration {text!r}: expected ISO 8601 like PT1H, PT30M, "
                         "P1D or P1DT12H")
    total = sum(float(value) * _SECONDS[unit]
                for unit, value in match.groupdict().items() if value is not None)
    if total <= 0:
        raise ValueError(f"invalid duration {text!r}: it must be longer than zero")
    return total


def parse_seconds(text: str) -> float:
    """A timeout as Pacemaker's tools take it: ``60``, ``60s``, ``500ms``, ``2min``
    or an ISO 8601 duration; ValueError otherwise."""
    if text.strip().upper().startswith("P"):
        return parse_duration(text)
    match = _PLAIN.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"invalid time {text!r}: expected seconds (60, 60s), 500ms, "
                         "2min or an ISO 8601 duration (PT1M)")
    seconds = float(match["n"]) * _PLAIN_UNITS[(match["unit"] or "s").lower()]
    if seconds <= 0:
        raise ValueError(f"invalid time {text!r}: it must be longer than zero")
    return seconds
