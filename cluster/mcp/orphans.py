"""Daemons left behind by a master control process that was killed.

``kill -9`` of cluster-mcp (or an OOM kill) leaves its children running: with
a watchdog the node is reset, without one hbcomm, ccm and crmd go on serving,
unsupervised.  A new cluster-mcp started for the same run directory must not
start a second stack beside them (two crmds driving one node's resources), so
the running one keeps a record of its children (``children`` in the run dir:
name, pid and the pid's start time, so a recycled pid is never mistaken for a
child) and a new one stops whatever that record still names before it starts
its own: SIGTERM first (crmd stops its resources in order, hbcomm says
goodbye), SIGKILL to the process group after ``timeout``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path

from cluster.common.files import write_atomic
from cluster.common.procfs import process_start_time, process_state

__all__ = ["RECORD_FILE", "record_children", "stop_orphans"]

log = logging.getLogger(__name__)

RECORD_FILE = "children"
_POLL = 0.05


def record_children(run_dir: Path, pids: Mapping[str, int]) -> None:
    """Write the record of the live children (called on every spawn and exit)."""
    lines = []
    for name, pid in sorted(pids.items()):
        started = process_start_time(pid)
        if started is not None:
            lines.append(f"{name} {pid} {started}\n")
    write_atomic(run_dir / RECORD_FILE, "".join(lines).encode())


def _recorded(run_dir: Path) -> list[tuple[str, int]]:
    """The record's entries whose process is still the one recorded."""
    try:
        text = (run_dir / RECORD_FILE).read_text()
    except OSError:
        return []
    alive = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
            continue
        name, pid, started = parts[0], int(parts[1]), int(parts[2])
        if pid != os.getpid() and process_start_time(pid) == started:
            alive.append((name, pid))
    return alive


def stop_orphans(run_dir: Path, timeout: float) -> list[str]:
    """Stop the children a dead cluster-mcp left; return their names (empty: none)."""
    orphans = _recorded(run_dir)
    for name, pid in orphans:
        log.warning("%s (pid %d) outlived the master control process that started it; "
                    "stopping it before starting a new stack", name, pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    waiting = dict(orphans)
    while waiting and time.monotonic() < deadline:
        time.sleep(_POLL)
        waiting = {name: pid for name, pid in waiting.items()
                   if process_state(pid) not in ("", "Z")}
    for name, pid in waiting.items():
        log.error("%s (pid %d) did not stop within %.0f s; killing it", name, pid, timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        (run_dir / RECORD_FILE).unlink()
    return [name for name, _pid in orphans]

