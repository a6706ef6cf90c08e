"""``cl_status``: Heartbeat's status tool, answering from the running stack.

Subcommands keep Heartbeat's names and script-friendly output.  Until
hbcomm's queries land, only ``hbstatus`` is answered; the others say so and
exit 13.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cluster.bus.client import request
from cluster.bus.messages.mcp import ChildrenResult, GetChildren
from cluster.cli.output import EXIT_NEGATIVE, EXIT_OK, EXIT_UNKNOWN, run_tool
from cluster.runtime.paths import add_run_dir_argument

TOOL = "cl_status"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=TOOL, description="Query the cluster stack's status.")
    add_run_dir_argument(parser)
    parser.add_argument("subcommand", help="hbstatus, listnodes, nodestatus, listhblinks, "
                                           "hblinkstatus, rscstatus, hbparameter")
    parser.add_argument("args", nargs="*")
    parser.add_argument("-v", action="store_true", help="verbose")
    parser.add_argument("-m", action="store_true", help="human-readable sentences")
    return parser


def _hbstatus(args: argparse.Namespace) -> int:
    try:
        reply = request(args.run_dir, "mcp", GetChildren(), timeout=5.0)
    except Exception:
        print("Heartbeat is stopped on this machine.")
        return EXIT_NEGATIVE
    assert isinstance(reply, ChildrenResult)
    print("Heartbeat is running on this machine.")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def body() -> int:
        if args.subcommand == "hbstatus":
            return _hbstatus(args)
        print(f"{TOOL}: '{args.subcommand}' is not available yet in this version",
              file=sys.stderr)
        return EXIT_UNKNOWN

    return run_tool(TOOL, body)
