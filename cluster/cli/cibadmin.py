"""``cibadmin --query``: the cluster's configuration as a Pacemaker CIB document.

Only the query of Pacemaker's cibadmin (``-Q``/``--query``, ``-l``/``--local``
accepted: the answer is always this node's crmd's), for tools that read the
CIB, such as ``ha_cluster_exporter``.  The configuration itself lives in
ha.cf and haresources; this tool never changes it.  Exit codes as crm_status.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cluster.cli.output import EXIT_OK, crmd_status, run_tool
from cluster.cli.status.cib import render_cib
from cluster.runtime.paths import add_run_dir_argument

TOOL = "cibadmin"
_TIMEOUT = 2.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=TOOL, description="Print the cluster's CIB.")
    add_run_dir_argument(parser)
    parser.add_argument("-Q", "--query", action="store_true", required=True,
                        help="print the CIB (the only operation)")
    parser.add_argument("-l", "--local", action="store_true",
                        help="ask this node (always the case; accepted for cibadmin users)")
    args = parser.parse_args(argv)

    def body() -> int:
        status = crmd_status(args.run_dir, timeout=_TIMEOUT)
        print(render_cib(status))
        return EXIT_OK

    return run_tool(TOOL, body)


if __name__ == "__main__":
    raise SystemExit(main())
