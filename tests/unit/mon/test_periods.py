"""Time::Period specifications: parsing and matching (local times passed in)."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cluster.mon.periods import PeriodError, parse_period

# 2024-01-01 was a Monday.
MONDAY_9 = datetime(2024, 1, 1, 9, 0, 0)
SATURDAY_9 = datetime(2024, 1, 6, 9, 0, 0)
SUNDAY_9 = datetime(2024, 1, 7, 9, 0, 0)


def test_blank_is_always_and_none_is_never() -> None:
    assert parse_period("").matches(MONDAY_9)
    assert parse_period("   ").matches(SUNDAY_9)
    assert not parse_period("none").matches(MONDAY_9)
    assert not parse_period("NONE").matches(MONDAY_9)


def test_working_hours_mon_fri_7am_6pm() -> None:
    period = parse_period("wd {Mon-Fri} hr {7am-6pm}")
    assert period.matches(MONDAY_9)
    assert period.matches(MONDAY_9.replace(hour=7, minute=0))
    assert period.matches(MONDAY_9.replace(hour=18, minute=59, second=59))  # 6pm is the whole hour
    assert not period.matches(MONDAY_9.replace(hour=19))
    assert not period.matches(MONDAY_9.replace(hour=6, minute=59))
    assert not period.matches(SATURDAY_9)
    assert not period.matches(SUNDAY_9)


def test_weekday_numbers_start_on_sunday_and_ranges_wrap() -> None:
    assert parse_period("wd {1}").matches(SUNDAY_9)
    assert parse_period("wd {7}").matches(SATURDAY_9)
    weekend = parse_period("wd {Sat-Sun}")  # 7-1 wraps
    assert weekend.matches(SATURDAY_9) and weekend.matches(SUNDAY_9)
    assert not weekend.matches(MONDAY_9)
    assert parse_period("wday {sunday}").matches(SUNDAY_9)


def test_alternatives_and_repeated_scales() -> None:
    period = parse_period("wd {Mon Wed Fri} hr {9am-4pm}, wd{Tue Thu} hr {9am-2pm}")
    tuesday_3pm = datetime(2024, 1, 2, 15, 0)
    assert not period.matches(tuesday_3pm)
    assert period.matches(datetime(2024, 1, 3, 15, 0))  # Wednesday
    assert parse_period("mo {Jan Feb} mo {Nov Dec}").matches(datetime(2024, 11, 5))
    assert parse_period("mo {Nov-Feb}").matches(datetime(2024, 1, 5))
    assert not parse_period("mo {Nov-Feb}").matches(datetime(2024, 3, 5))


def test_hours_am_pm_noon() -> None:
    assert parse_period("hr {12am}").matches(datetime(2024, 1, 1, 0, 30))
    assert parse_period("hr {12noon}").matches(datetime(2024, 1, 1, 12, 30))
    assert parse_period("hr {12pm}").matches(datetime(2024, 1, 1, 12, 30))
    assert parse_period("hr {1pm}").matches(datetime(2024, 1, 1, 13, 30))
    assert parse_period("hour { 12am-11am }").matches(datetime(2024, 1, 1, 11, 59))
    assert not parse_period("hour { 12am-11am }").matches(datetime(2024, 1, 1, 12, 0))


def test_other_scales() -> None:
    moment = datetime(2024, 3, 15, 10, 20, 30)  # a Friday, day 75 of a leap year, week 3
    assert parse_period("md {15}").matches(moment)
    assert parse_period("yd {75}").matches(moment)
    assert parse_period("wk {3}").matches(moment)
    assert not parse_period("wk {1 2}").matches(moment)
    assert parse_period("min {0-29}").matches(moment)
    assert parse_period("sec {30-34}").matches(moment)
    assert parse_period("yr {2024}").matches(moment)
    assert parse_period("yr {24}").matches(moment)
    assert parse_period("yr {2030-2020}").matches(moment)  # years never wrap: swapped
    assert not parse_period("yr {2025-2030}").matches(moment)


def test_week_of_month_starts_on_sunday() -> None:
    # March 2024: the 1st is a Friday; Sunday the 3rd begins week 2.
    assert parse_period("wk {1}").matches(datetime(2024, 3, 2))
    assert parse_period("wk {2}").matches(datetime(2024, 3, 3))


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("wd {Mon-Fri", "expected"),
        ("wd Mon-Fri", "expected"),
        ("weekday {Mon}", "unknown scale"),
        ("hr {25}", "out of range"),
        ("hr {13pm}", "bad value"),
        ("wd {Funday}", "bad value"),
        ("md {0}", "out of range"),
        ("wd {}", "no values"),
        ("wd {Mon},", "empty sub-period"),
        ("wd {Mon--Fri}", "bad range"),
        ("yr {1500}", "bad year"),
    ],
)
def test_malformed_periods_are_refused(spec: str, words: str) -> None:
    with pytest.raises(PeriodError, match=words):
        parse_period(spec)


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 12, 31)))
def test_a_day_split_in_two_halves_always_matches_exactly_one(moment: datetime) -> None:
    first, second = parse_period("hr {0-11}"), parse_period("hr {12-23}")
    assert first.matches(moment) != second.matches(moment)
    assert parse_period("wd {Sun-Sat}").matches(moment)
    assert parse_period("wk {1-6}").matches(moment)
