"""``python -m cluster.crmd.agents TOKEN ACTION``: one resource operation by hand.

Role: an admin and test tool that runs a single operation through the same
:class:`Executor` crmd uses, in the calling process's namespaces (so a lab test
runs it inside a node with ``node.run``). Inputs: a haresources resource token
(``IPaddr::10.0.0.5/24/eth0``, ``httpd``, ``ocf:heartbeat:IPaddr2::ip=...``),
an action (``start``, ``stop``, ``monitor``, ``probe``, ``reannounce`` for
address agents; ``status`` means ``monitor``), ``--config-dir`` (default
``/etc/ha.d``) for ``resource.d/`` and ``conf/OCF/``, ``--timeout`` in seconds.
Output: the executor's log line on stdout
(``start IPaddr::10.0.0.5/24/eth0: ok in 3 ms: ...``) and the exit status 0
(ok), 7 (not running) or 1 (anything else); 2 for a bad token. The tool returns
only after background work has finished (an IP start's later gratuitous ARPs),
so the announcement is complete when it exits.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from cluster.bus.loop import Loop
from cluster.config.haresources import parse_resource
from cluster.crmd.agents.protocol import ACTIONS, OpResult, Outcome
from cluster.crmd.agents.registry import announces
from cluster.crmd.executor import DEFAULT_TIMEOUTS, Executor

__all__ = ["EXIT_NOT_RUNNING", "EXIT_OK", "EXIT_OTHER", "main"]

EXIT_OK = 0
EXIT_OTHER = 1
EXIT_USAGE = 2
EXIT_NOT_RUNNING = 7  # as OCF's and LSB's "not running"
_BACKGROUND_LIMIT = 120.0  # seconds to wait for background work after the result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cluster.crmd.agents",
        description="Run one resource agent operation, as crmd would.",
    )
    parser.add_argument("resource", help="a haresources resource, e.g. IPaddr::10.0.0.5/24/eth0")
    parser.add_argument("action", choices=[*ACTIONS, "status"])
    parser.add_argument("-c", "--config-dir", type=Path, default=Path("/etc/ha.d"),
                        help="cluster config directory (resource.d/, conf/OCF/)")  # fmt: skip
    parser.add_argument("--init-dir", type=Path, default=Path("/etc/init.d"))
    parser.add_argument("--timeout", type=float, default=None,
                        help=f"seconds (default {DEFAULT_TIMEOUTS['start']:g})")  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.CRITICAL,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        spec = parse_resource(args.resource)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    action = "monitor" if args.action == "status" else args.action
    if action == "reannounce" and not announces(spec):
        print(f"error: {args.resource} announces no address, so it cannot announce one again",
              file=sys.stderr)
        return EXIT_USAGE
    loop = Loop()
    executor = Executor(loop, args.config_dir, init_dir=args.init_dir)
    results: list[OpResult] = []
    try:
        executor.run(spec, action, results.append, timeout=args.timeout)
        while not results:
            loop.run_once()
        deadline = loop.clock() + _BACKGROUND_LIMIT
        while not executor.idle and loop.clock() < deadline:
            loop.run_once(max_wait=1.0)
    finally:
        executor.close()
        loop.close()
    result = results[0]
    print(result.describe())
    if result.outcome is Outcome.OK:
        return EXIT_OK
    return EXIT_NOT_RUNNING if result.outcome is Outcome.NOT_RUNNING else EXIT_OTHER
