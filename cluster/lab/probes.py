"""Asking a lab cluster things from the outside, the way an admin or a client would.

`served_by` is the client's view (which node's web server answers the service
address), `AnswerLog` the same view kept up continuously (a request every few
ms, each answer recorded with its time), `hb_tool` runs hb_standby /
hb_takeover inside a node, `cli_tool` any command-line tool (crm_resource,
crm_standby, ...), `log_tails` gathers the ends of daemon logs for a failure
message.  Used by the acceptance
site, the lab tests and the benchmarks, so each asks the same way.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterable

from cluster.lab.node import Node
from cluster.lab.services import HTTP_PORT, OVERLAPPING_PROBE
from cluster.lab.waiting import wait_first

__all__ = ["CLI_TOOLS", "AnswerLog", "cli_tool", "hb_tool", "log_tails", "served_by",
           "stop_probe"]

#: Console scripts (pyproject.toml) a lab test can run inside a node, by name.
CLI_TOOLS = {
    "crm_status": "cluster.cli.crm_status:main",
    "crm_resource": "cluster.cli.crm_resource:main",
    "crm_attribute": "cluster.cli.crm_attribute:main_attribute",
    "crm_standby": "cluster.cli.crm_attribute:main_standby",
    "crm_failcount": "cluster.cli.crm_attribute:main_failcount",
    "crm_node": "cluster.cli.crm_attribute:main_node",
    "crm_simulate": "cluster.cli.crm_simulate:main",
    "hb_standby": "cluster.cli.hb_standby:main_standby",
    "hb_takeover": "cluster.cli.hb_standby:main_takeover",
}


def served_by(client: Node, vip: str, port: int = HTTP_PORT) -> str:
    """Which node answers http://VIP:PORT/ from `client` ("" for nobody, also when
    the asking process did not finish in time: on a loaded box that is "not yet",
    and every caller polls again)."""
    code = (f"import urllib.request;print(urllib.request.urlopen("
            f"'http://{vip}:{port}/', timeout=1).read().decode())")
    try:
        done = client.run([sys.executable, "-c", code], check=False, timeout=10)
    except subprocess.TimeoutExpired:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


class AnswerLog:
    """A client asking http://VIP:PORT/ every `interval` s without waiting for
    earlier requests (`OVERLAPPING_PROBE`); a reader thread records every answer
    as (monotonic time, node name).  The client keeps its own ARP cache: nothing
    here flushes it.  The lab kills the probe at close if `close` was not called."""

    def __init__(self, client: Node, vip: str, port: int = HTTP_PORT,
                 interval: float = 0.01) -> None:
        self.answers: list[tuple[float, str]] = []
        self._seen = threading.Condition()
        self._proc = client.spawn([sys.executable, "-c", OVERLAPPING_PROBE, vip, str(port),
                                   str(interval), "86400"], stdout=subprocess.PIPE)
        self._thread = threading.Thread(target=self._read, name=f"answers-{vip}", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for raw in self._proc.stdout:
            stamp, _, who = raw.decode(errors="replace").strip().partition(" ")
            with self._seen:
                self.answers.append((float(stamp), who))
                self._seen.notify_all()

    def first_from(self, name: str, since: float, timeout: float) -> float:
        """When `name` first answered at or after `since` (TimeoutError if not in time)."""
        def first() -> float | None:
            return next((t for t, who in self.answers if who == name and t >= since), None)

        return wait_first(self._seen, first, timeout, lambda: (
            f"{name} did not answer within {timeout:g} s; answers since: "
            f"{sorted({who for t, who in self.answers if t >= since})}"))

    def close(self) -> None:
        stop_probe(self._proc, self._thread)

    def __enter__(self) -> AnswerLog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def stop_probe(proc: subprocess.Popen[bytes], reader: threading.Thread) -> None:
    """Kill a client probe, reap it, and let the thread reading its output finish."""
    proc.kill()
    proc.wait()
    reader.join(timeout=10)
    if proc.stdout is not None:
        proc.stdout.close()


def cli_tool(node: Node, tool: str, *args: str, timeout: float = 60.0
             ) -> subprocess.CompletedProcess[str]:
    """Run the command-line tool `tool` (a name in :data:`CLI_TOOLS`) on `node`
    with `args`, against the node's stack; killed after `timeout` seconds."""
    module, function = CLI_TOOLS[tool].split(":")
    code = f"import sys; from {module} import {function}; sys.exit({function}(sys.argv[1:]))"
    return node.run([sys.executable, "-c", code, "--run-dir", str(node.run_dir), *args],
                    check=False, timeout=timeout)


def hb_tool(node: Node, tool: str, *args: str, wait: float = 30.0
            ) -> subprocess.CompletedProcess[str]:
    """Run hb_standby / hb_takeover (`tool` = "standby" | "takeover") on `node`,
    waiting up to `wait` seconds for the move."""
    return cli_tool(node, f"hb_{tool}", "--timeout", f"{wait:g}", *args, timeout=2 * wait)


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
