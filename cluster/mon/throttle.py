"""Mon's rule for holding a period's down alert back: numalerts, alertevery, alertafter.

Role: :func:`hold_back` is the decision Mon 1.3.6 takes in ``do_alert`` for
one period and one failing run, as a pure function: the period's settings,
what the period remembers (:class:`Memo`), the run, the time. It returns why
the period stays silent ("" when it alerts) and the memo to keep; the caller
records a sent alert with :func:`alerted` and a success with :func:`recovered`.

The checks, in Mon's order (a check that holds the alert back ends the
decision, so later counters do not move):

1. ``numalerts N``: N alerts were sent during this failure.
2. ``alertevery T``: an alert went out less than T ago and the summary line
   equals the previous failure's (``observe_detail``: the whole output;
   ``ignore_summary`` and ``strict``: the output does not matter). ``summary``
   is Mon's old spelling of the default.
3. ``alertafter N``: fewer than N consecutive failures.
   ``alertafter T``: failing for T or less, counted from the first failure
   this check saw.
   ``alertafter N T``: fewer than N failures in the window of T that began at
   the first of them; a failure after the window starts a new one.

A success resets the failure count, the alertafter window and the number of
alerts sent; it restarts the alertevery clock too, except with ``strict``.
Mon reads the clock in whole seconds, so a run finishing 4.98 s after the
last alert passes ``alertevery 5s``; elapsed times are rounded to whole
seconds here for the same effect without depending on where the second
boundaries fall.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from cluster.mon.outcome import MonitorOutcome
from cluster.mon.specs import PeriodSpec

__all__ = ["Memo", "alerted", "hold_back", "recovered"]


@dataclass(frozen=True, slots=True)
class Memo:
    """What one period remembers of the current failure (monotonic seconds)."""

    last_alert: float | None = None  # the alertevery clock
    sent: int = 0                    # down alerts during this failure (numalerts)
    window: float | None = None      # start of the alertafter window (Mon: _1stfailtime)
    failcount: int = 0               # failures in that window (alertafter N T)


def hold_back(period: PeriodSpec, memo: Memo, outcome: MonitorOutcome,
              previous: MonitorOutcome | None, consecutive: int,
              now: float) -> tuple[str, Memo]:  # fmt: skip
    """Why `period` sends no down alert for `outcome` ("" if it does), and its new memo.
    `previous`: the failure before this one (None after a success);
    `consecutive`: failing runs in a row, this one included."""
    if period.numalerts is not None and memo.sent >= period.numalerts:
        return f"numalerts: {memo.sent} alerts already sent", memo
    every = period.alertevery
    if every is not None and memo.last_alert is not None:
        ago = _whole(now - memo.last_alert)
        if ago < every and not _news(period, outcome, previous):
            return f"alertevery: last alert {now - memo.last_alert:.1f} s ago", memo
    after = period.alertafter
    if after is None:
        return "", memo
    if after.within is None:
        assert after.count is not None
        if consecutive < after.count:
            return f"alertafter: {consecutive} of {after.count} failures", memo
        return "", memo
    if after.count is None:
        window = memo.window if memo.window is not None else now
        memo = dataclasses.replace(memo, window=window)
        if _whole(now - window) <= after.within:
            return f"alertafter: failing for {now - window:.1f} s of {after.within:g} s", memo
        return "", memo
    count, start = memo.failcount + 1, memo.window
    if start is None or _whole(now - start) > after.within:
        count, start = 1, now  # the first failure of a new window
    memo = dataclasses.replace(memo, window=start, failcount=count)
    if count < after.count:
        return (f"alertafter: {count} of {after.count} failures within "
                f"{after.within:g} s"), memo  # fmt: skip
    return "", memo


def alerted(memo: Memo, now: float) -> Memo:
    """The period sent its down alert at `now`."""
    return dataclasses.replace(memo, last_alert=now, sent=memo.sent + 1)


def recovered(period: PeriodSpec, memo: Memo) -> Memo:
    """The service succeeded: a new failure starts from scratch (``strict`` keeps its clock)."""
    keep = memo.last_alert if period.alertevery_mode == "strict" else None
    return Memo(last_alert=keep)


def _news(period: PeriodSpec, outcome: MonitorOutcome, previous: MonitorOutcome | None) -> bool:
    """Does this failure's output override alertevery?"""
    mode = period.alertevery_mode
    if mode in ("strict", "ignore_summary"):
        return False
    if previous is None:
        return True
    if mode == "observe_detail":
        return outcome.output != previous.output
    return outcome.summary != previous.summary


def _whole(seconds: float) -> int:
    """Elapsed time in whole seconds, as Mon's time(2) arithmetic sees it."""
    return math.floor(seconds + 0.5)
