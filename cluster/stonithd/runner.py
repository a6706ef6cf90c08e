"""Run one device operation to completion: in-process for the CLI, as a child for stonithd.

Role: :func:`run_operation` builds the device from its type and parameters
(:mod:`cluster.stonithd.registry`) and carries out one operation within a
timeout.  The ``stonith`` CLI calls it directly.  stonithd must never block
its event loop on a serial port or a plugin script, so it runs
``python -m cluster.stonithd.runner`` once per operation, in a session of
its own (killed whole at the deadline), with the request as one JSON
object on standard input — parameters may hold passwords, so they never
appear in a command line — and reads one JSON object back.

Request: ``{"type", "params" (positional text) | "named" ({name: value}),
"conf_dir", "op", "host", "timeout"}``.  ``op`` is ``reset``/``off``/``on``
(needs ``host``), ``status``, ``hosts``, or ``check`` (status, and when that
is fine the host list).  Answer: ``{"code", "detail", "hosts"}``; the exit
status is the code (cluster-glue's numbers).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from cluster.stonithd.outcome import ACTIONS, Code, Deadline, Outcome
from cluster.stonithd.registry import build_driver

__all__ = ["OPERATIONS", "main", "run_operation"]

OPERATIONS = (*ACTIONS, "status", "hosts", "check")


def run_operation(device_type: str, op: str, timeout: float, *, conf_dir: Path | None = None,
                  host: str | None = None, positional: str | None = None,
                  named: Mapping[str, str] | None = None) -> Outcome:
    """Configure the device and run `op` on it; never raises for the device's sake."""
    deadline = Deadline(timeout)
    if op not in OPERATIONS:
        return Outcome(Code.INVAL, f"no such operation {op!r} (one of {', '.join(OPERATIONS)})")
    if op in ACTIONS and not host:
        return Outcome(Code.INVAL, f"{op} needs a host")
    driver = build_driver(device_type, conf_dir, deadline, positional=positional, named=named)
    if isinstance(driver, Outcome):
        return driver
    if op in ACTIONS:
        assert host is not None
        return driver.act(op, host.lower(), deadline)
    if op == "hosts":
        return driver.hosts(deadline)
    status = driver.status(deadline)
    if op == "status" or not status.ok:
        return status
    hosts = driver.hosts(deadline)
    if not hosts.ok:
        return Outcome(hosts.code, f"{status.detail}, but {hosts.detail}")
    return Outcome(Code.OK, status.detail, hosts.hosts)


def request_json(device_type: str, op: str, timeout: float, *, conf_dir: Path | None,
                 host: str | None, params: str) -> bytes:
    """The runner's standard input for one operation (what stonithd writes)."""
    return json.dumps({"type": device_type, "op": op, "timeout": timeout, "host": host,
                       "params": params, "conf_dir": str(conf_dir) if conf_dir else None}
                      ).encode()


def _from_request(data: object) -> Outcome:
    if not isinstance(data, dict):
        return Outcome(Code.OOPS, "runner request is not a JSON object")
    try:
        named = data.get("named")
        conf_dir = data.get("conf_dir")
        return run_operation(
            str(data["type"]), str(data["op"]), float(data["timeout"]),
            conf_dir=Path(conf_dir) if conf_dir else None,
            host=str(data["host"]) if data.get("host") else None,
            positional=None if named is not None else str(data.get("params", "")),
            named={str(k): str(v) for k, v in named.items()} if named is not None else None)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        return Outcome(Code.OOPS, f"bad runner request: {err}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m cluster.stonithd.runner``: one JSON request in, one JSON answer out."""
    del argv
    try:
        outcome = _from_request(json.loads(sys.stdin.buffer.read()))
    except ValueError as err:
        outcome = Outcome(Code.OOPS, f"runner request is not JSON: {err}")
    except Exception as err:  # the daemon must get an answer, whatever broke
        outcome = Outcome(Code.OOPS, f"device runner crashed: {type(err).__name__}: {err}")
    sys.stdout.write(json.dumps(outcome.to_json()) + "\n")
    sys.stdout.flush()
    return int(outcome.code)


if __name__ == "__main__":
    sys.exit(main())
