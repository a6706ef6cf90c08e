"""``meatclient -c NODE``: tell stonithd a person has power-cycled NODE.

A ``meatware`` device fences by asking a person: stonithd logs ``OPERATOR
INTERVENTION REQUIRED to reset NODE`` and keeps the fence request open.
Once NODE has really been switched off (or unplugged from everything it
shares), the operator runs ``meatclient -c NODE``, answers ``y`` to
``PROCEED? [yN]`` (or passes ``-y``), and the request completes as fenced.
cluster-glue's meatclient wrote to a FIFO; ours sends ConfirmManualFence to
the local stonithd.  Exit 0 confirmed, 1 cancelled or nothing was waiting
for NODE, 12 stonithd not running or not answering.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cluster.bus.client import request
from cluster.bus.messages.common import OkResult
from cluster.bus.messages.stonithd import ConfirmManualFence
from cluster.cli.output import EXIT_NEGATIVE, EXIT_OK, run_tool
from cluster.runtime.paths import add_run_dir_argument

_TOOL = "meatclient"
_WARNING = """\
WARNING!

If node "{node}" has not been power-cycled by hand, or disconnected from every
shared disk and network, confirming now can corrupt shared data: the cluster
will start its services elsewhere as if it were off.

Check that "{node}" is the machine you have just switched off.

PROCEED? [yN] """


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=_TOOL, description="Confirm a manual (meatware) fence.")
    parser.add_argument("-c", dest="node", required=True, metavar="NODE",
                        help="the node that has been power-cycled")
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask")
    add_run_dir_argument(parser)
    args = parser.parse_args(argv)
    node = args.node.lower()
    if not args.yes:
        print(_WARNING.format(node=node), end="", flush=True)
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            print(f"{_TOOL}: operation cancelled.", file=sys.stderr)
            return EXIT_NEGATIVE

    def body() -> int:
        reply = request(args.run_dir, "stonithd", ConfirmManualFence(node), timeout=5.0)
        assert isinstance(reply, OkResult)
        print(f"{_TOOL}: {reply.detail}")
        return EXIT_OK

    return run_tool(_TOOL, body)


if __name__ == "__main__":
    sys.exit(main())
