"""What one monitor run found, in Mon's terms: exit value, summary, detail.

Role: the one result type every monitor produces. A Mon script's output is
split here (first line = summary, the rest = detail); the built-in monitors
build the same shape from per-host results with :func:`host_report`, whose
summary is the failing hosts separated by blanks, as ``fping.monitor`` and
most Mon monitors print it, so alert scripts and people read both alike.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["HostResult", "MonitorOutcome", "host_report"]

# Shells report "killed by signal N" as 128 + N; we do the same for monitors.
SIGNAL_BASE = 128
# A monitor that could not be started or was killed at its timeout has no
# exit value of its own; Mon scripts treat any non-zero value as a failure.
RETVAL_ERROR = 255


@dataclass(frozen=True, slots=True)
class MonitorOutcome:
    """One run: ``retval`` 0 means success, anything else a failure."""

    retval: int
    summary: str
    detail: str = ""
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.retval == 0 and not self.timed_out

    @property
    def output(self) -> str:
        """Summary and detail as the monitor printed them (MON_LAST_OUTPUT)."""
        return f"{self.summary}\n{self.detail}" if self.detail else self.summary

    @classmethod
    def from_output(cls, retval: int, output: str) -> MonitorOutcome:
        """Mon's contract: the first line is the summary, everything after is detail."""
        summary, _, detail = output.partition("\n")
        return cls(retval=retval, summary=summary.strip(), detail=detail.rstrip("\n"))

    @classmethod
    def timeout(cls, seconds: float, output: str = "") -> MonitorOutcome:
        detail = output.rstrip("\n")
        summary = f"monitor timed out after {seconds:g} s and was killed"
        return cls(retval=RETVAL_ERROR, summary=summary, detail=detail, timed_out=True)

    @classmethod
    def error(cls, summary: str, detail: str = "") -> MonitorOutcome:
        return cls(retval=RETVAL_ERROR, summary=summary, detail=detail)


@dataclass(frozen=True, slots=True)
class HostResult:
    """One host of a built-in monitor's run."""

    host: str
    ok: bool
    rtt_ms: float | None = None
    note: str = ""


def host_report(
    results: Sequence[HostResult], *, what: str, all_down: bool = False
) -> MonitorOutcome:
    """A run over many hosts: fails if any host failed (or, with `all_down`,
    only if every host did). Summary: the failing hosts; detail: one line per host."""
    failed = sorted(r.host for r in results if not r.ok)
    passed = [r for r in results if r.ok]
    lines = []
    if failed:
        lines += ["", f"{what} failed:"]
        lines += [_line(r) for r in results if not r.ok]
    if passed:
        lines += ["", f"{what} ok:"]
        lines += [_line(r) for r in passed]
    failing = bool(failed) and (not all_down or not passed)
    return MonitorOutcome(
        retval=1 if failing else 0,
        summary=" ".join(failed),
        detail="\n".join(lines).lstrip("\n"),
    )


def _line(result: HostResult) -> str:
    rtt = f"{result.rtt_ms:.2f} ms" if result.rtt_ms is not None else ""
    text = "  ".join(part for part in (rtt, result.note) if part)
    return f"  {result.host:<39} {text}".rstrip()
