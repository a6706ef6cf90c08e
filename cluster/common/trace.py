"""Step timestamps across daemons in one file, for tracing a failover; off by default.

With ``CLUSTER_TRACE=<file>`` in a daemon's environment, :func:`mark` appends
one line per step to that file::

    <CLOCK_MONOTONIC ns> <step> <detail>

CLOCK_MONOTONIC is system-wide (the same in every network namespace), so
lines from hbcomm, ccm and crmd of one node, and a probe's timestamps
(``time.monotonic()``), merge into one timeline.  Each line is one
``write`` on an ``O_APPEND`` descriptor, so writers never interleave within
a line.  Without the variable, :func:`mark` is two tests: it may sit on the
hot path.  Steps are named ``<daemon>.<what>``.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ENV = "CLUSTER_TRACE"


def _open() -> int | None:
    path = os.environ.get(ENV)
    if not path:
        return None
    try:
        return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        return None  # tracing is a diagnostic: never stop a daemon for it


# Opened on the first mark, not at import: cluster-mcp's process template imports
# this module, and the daemons it forks close every inherited descriptor and take
# their own environment before they run.
_fd: int | None = None
_looked = False


def _forget() -> None:
    global _fd, _looked
    _fd, _looked = None, False


os.register_at_fork(after_in_child=_forget)


def mark(step: str, detail: str = "") -> None:
    """Record that `step` happens now (no-op unless tracing is on)."""
    global _fd, _looked
    if _fd is None:
        if _looked:
            return
        _fd, _looked = _open(), True
        if _fd is None:
            return
    line = f"{time.clock_gettime_ns(time.CLOCK_MONOTONIC)} {step} {detail}\n"
    with contextlib.suppress(OSError):  # a full disk must not stop a daemon
        os.write(_fd, line.encode())


@dataclass(frozen=True, slots=True)
class Record:
    at: float      # seconds, CLOCK_MONOTONIC (comparable with time.monotonic())
    step: str
    detail: str


def read(path: Path) -> Iterator[Record]:
    """The records of a trace file in file order; malformed lines are skipped."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return
    for line in text.splitlines():
        stamp, _, rest = line.partition(" ")
        step, _, detail = rest.partition(" ")
        if stamp.isdigit() and step:
            yield Record(int(stamp) / 1e9, step, detail)
