"""``hb_standby`` and ``hb_takeover``: move resource groups by hand, as Heartbeat's do.

They need crmd's standby protocol; until it lands they say so and exit
non-zero.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cluster.cli.output import EXIT_UNKNOWN
from cluster.runtime.paths import add_run_dir_argument

_WHICH = ("all", "local", "foreign", "failback")


def _main(tool: str, argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog=tool)
    add_run_dir_argument(parser)
    parser.add_argument("which", nargs="?", default="all", choices=_WHICH)
    parser.parse_args(argv)
    print(f"{tool}: not available yet: moving resources needs crmd, which this version "
          "does not run yet", file=sys.stderr)
    return EXIT_UNKNOWN


def main_standby(argv: Sequence[str] | None = None) -> int:
    return _main("hb_standby", argv)


def main_takeover(argv: Sequence[str] | None = None) -> int:
    return _main("hb_takeover", argv)
