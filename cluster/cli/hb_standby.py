"""``hb_standby`` and ``hb_takeover``: move resource groups by hand, as Heartbeat's do.

``hb_standby [all|local|foreign|failback]`` gives this node's groups of that
set (local = groups whose preferred node is this node, foreign = the others,
failback = foreign; default all) to another node; ``hb_takeover`` brings them
here (there, failback = local: bring my groups home).  Each is one request to
the local crmd, which answers once the move is complete or its timeout
passed; the tool prints what happened and exits 0 on success, 1 when crmd
refused or the move did not complete (with ``auto_failback legacy`` crmd
refuses, as Heartbeat does: ``Standby mode only implemented when
nice_failback on``), 12 when the stack is not running.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cluster.bus.client import request
from cluster.bus.messages.common import OkResult
from cluster.bus.messages.crmd import WHICH, Standby, Takeover
from cluster.cli.output import EXIT_OK, run_tool
from cluster.runtime.paths import add_run_dir_argument

_DEFAULT_TIMEOUT = 120.0
_REPLY_MARGIN = 5.0     # the reply travels after crmd's own deadline


def _main(tool: str, argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog=tool)
    add_run_dir_argument(parser)
    parser.add_argument("which", nargs="?", default="all", choices=WHICH)
    parser.add_argument("--timeout", type=float, default=_DEFAULT_TIMEOUT,
                        help=f"seconds to wait for the move (default {_DEFAULT_TIMEOUT:g})")
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error("--timeout must be positive")

    def body() -> int:
        msg = (Standby(args.which, args.timeout, tool) if tool == "hb_standby"
               else Takeover(args.which, args.timeout, tool))
        if tool == "hb_standby":
            print(f"Going standby [{args.which}].")
        else:
            print(f"Taking over [{args.which}].")
        reply = request(args.run_dir, "crmd", msg, timeout=args.timeout + _REPLY_MARGIN)
        assert isinstance(reply, OkResult)
        print(reply.detail)
        return EXIT_OK

    return run_tool(tool, body)


def main_standby(argv: Sequence[str] | None = None) -> int:
    return _main("hb_standby", argv)


def main_takeover(argv: Sequence[str] | None = None) -> int:
    return _main("hb_takeover", argv)
