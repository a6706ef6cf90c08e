"""Asking a lab cluster things from the outside, the way an admin or a client would.

`served_by` is the client's view (which node's web server answers the service
address), `hb_tool` runs hb_standby / hb_takeover inside a node, `log_tails`
gathers the ends of daemon logs for a failure message.  Used by the acceptance
site, the lab tests and the benchmarks, so each asks the same way.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable

from cluster.lab.node import Node
from cluster.lab.services import HTTP_PORT

__all__ = ["hb_tool", "log_tails", "served_by"]


def served_by(client: Node, vip: str, port: int = HTTP_PORT) -> str:
    """Which node answers http://VIP:PORT/ from `client` ("" for nobody)."""
    code = (f"import urllib.request;print(urllib.request.urlopen("
            f"'http://{vip}:{port}/', timeout=1).read().decode())")
    done = client.run([sys.executable, "-c", code], check=False, timeout=10)
    return done.stdout.strip() if done.returncode == 0 else ""


def hb_tool(node: Node, tool: str, *args: str, wait: float = 30.0
            ) -> subprocess.CompletedProcess[str]:
    """Run hb_standby / hb_takeover (`tool` = "standby" | "takeover") on `node`,
    waiting up to `wait` seconds for the move."""
    code = (f"import sys; from cluster.cli.hb_standby import main_{tool}; "
            f"sys.exit(main_{tool}(sys.argv[1:]))")
    return node.run([sys.executable, "-c", code, "--run-dir", str(node.run_dir),
                     "--timeout", f"{wait:g}", *args], check=False, timeout=2 * wait)


def log_tails(nodes: Iterable[Node], daemons: Iterable[str], lines: int = 30) -> str:
    """The last `lines` of each daemon's log on each node, headed by node and file."""
    wanted = list(daemons)
    out = []
    for node in nodes:
        for daemon in wanted:
            text = node.daemon_log(daemon) or "(no log)\n"
            out.append(f"--- {node.name} {daemon}.log\n"
                       + "".join(text.splitlines(keepends=True)[-lines:]))
    return "\n".join(out)
