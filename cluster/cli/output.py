"""What every command-line tool shares: exit codes, errors, text and JSON output.

Exit codes follow ``cl_status``: 0 success, 1 a negative answer (node dead,
stack stopped), 2 bad usage, 11 parameter error, 12 timeout / stack not
answering, 13 unknown error.  Tools print one clear line on stderr and never
a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from cluster.bus.client import BusError, NotRunning, RemoteError, request
from cluster.bus.messages.common import OkResult
from cluster.bus.messages.crmd import GetStatus, StatusResult

EXIT_OK = 0
EXIT_NEGATIVE = 1
EXIT_USAGE = 2
EXIT_PARAMETER = 11
EXIT_NOT_RUNNING = 12
EXIT_UNKNOWN = 13


def fail(tool: str, message: str, code: int) -> NoReturn:
    print(f"{tool}: {message}", file=sys.stderr)
    sys.exit(code)


def bus_failure(tool: str, err: BusError) -> tuple[str, int]:
    """The line a tool prints for a bus failure, and its exit code."""
    if isinstance(err, NotRunning):
        return (f"{tool}: the cluster stack is not running or not answering ({err})",
                EXIT_NOT_RUNNING)
    if isinstance(err, RemoteError):
        return f"{tool}: {err}", EXIT_NEGATIVE
    return f"{tool}: {err}", EXIT_UNKNOWN


def run_tool(tool: str, body: Callable[[], int]) -> int:
    """Run a tool's body, turning bus failures into one line and an exit code."""
    try:
        return body()
    except BusError as err:
        line, code = bus_failure(tool, err)
        print(line, file=sys.stderr)
        return code
    except KeyboardInterrupt:
        return EXIT_UNKNOWN


_CRMD_TIMEOUT = 5.0


def crmd_status(run_dir: Path, timeout: float = _CRMD_TIMEOUT) -> StatusResult:
    """The local crmd's StatusResult (bus errors propagate to :func:`run_tool`)."""
    status = request(run_dir, "crmd", GetStatus(), timeout=timeout)
    assert isinstance(status, StatusResult)
    return status


def ask_crmd(run_dir: Path, msg: object) -> str:
    """One request to the local crmd; its OkResult's detail (ErrorResult raises)."""
    reply = request(run_dir, "crmd", msg, timeout=_CRMD_TIMEOUT)
    assert isinstance(reply, OkResult)
    return reply.detail


def emit_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def table(rows: Sequence[Sequence[str]], indent: str = "  ") -> str:
    """Left-aligned columns, for people."""
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append((indent + "  ".join(cells)).rstrip())
    return "\n".join(lines)
