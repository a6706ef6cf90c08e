"""Shared pieces of the benchmarks: timing settings, lab cluster setup, status queries.

Every benchmark builds its cluster in a `cluster.lab.Lab` from these
helpers and asks the daemons over the bus (hbcomm GetNodes, ccm GetView,
crmd GetStatus) from the root namespace; ipc sockets are files, so no
process has to enter a node to ask.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from cluster.bus.client import BusError, request
from cluster.bus.messages.ccm import GetView, ViewChanged
from cluster.bus.messages.crmd import GetStatus, StatusResult
from cluster.bus.messages.hbcomm import CountersResult, GetCounters, GetNodes, NodesResult
from cluster.lab import Lab, Lan, Node
from cluster.lab.waiting import wait_for

_R = TypeVar("_R")
_ASK_TIMEOUT = 1.0  # a local request: the daemon answers at once or is not there


@dataclass(frozen=True, slots=True)
class Timing:
    """ha.cf `keepalive` and `deadtime`, in seconds."""

    keepalive: float
    deadtime: float

    @property
    def label(self) -> str:
        return f"{_duration(self.keepalive)} / {_duration(self.deadtime)}"


#: The three settings every per-setting section measures: tight, lab default, Heartbeat-like.
SETTINGS = (Timing(0.01, 0.03), Timing(0.1, 0.5), Timing(1.0, 3.0))


def setting_parser(doc: str | None) -> argparse.ArgumentParser:
    """The options of a one-setting benchmark command: --runs, --keepalive, --deadtime."""
    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keepalive", type=float, default=0.1)
    parser.add_argument("--deadtime", type=float, default=0.5)
    return parser


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:g} s"


def ha_cf(nodes: Sequence[str], timing: Timing, media: Sequence[str] = ("eth0",),
          auto_failback: bool = False, extra: str = "") -> str:
    """An ha.cf: warntime deadtime/2, initdead 2 x deadtime (at least 2 s), bcast media."""
    ms = {name: round(value * 1000) for name, value in (
        ("keepalive", timing.keepalive), ("deadtime", timing.deadtime),
        ("warntime", timing.deadtime / 2), ("initdead", max(2 * timing.deadtime, 2.0)))}
    lines = [f"{name} {value}ms" for name, value in ms.items()]
    lines.append(f"auto_failback {'on' if auto_failback else 'off'}")
    lines += [f"bcast {medium}" for medium in media]
    lines.append(f"node {' '.join(nodes)}")
    return "\n".join(lines) + "\n" + extra


def start_timeout(size: int) -> float:
    """Generous: `size` stacks of ~4 Python processes starting at once on 2 cores."""
    return 120.0 + 10.0 * size


def node_names(count: int, prefix: str = "n") -> list[str]:
    return [f"{prefix}{i + 1}" for i in range(count)]


def build(lab: Lab, names: Sequence[str], timing: Timing, *, lan_name: str = "hb",
          haresources: str | None = None, extra: str = "") -> tuple[list[Node], Lan]:
    """Nodes `names` on one new LAN, configured as one cluster (bcast on eth0).

    `haresources` and `extra` (more ha.cf lines) may name `{vip}`: host 200 of that LAN.
    """
    lan = lab.add_lan(lan_name)
    nodes = [lab.add_node(name, [lan]) for name in names]
    resources = None if haresources is None else haresources.format(vip=lan.host(200))
    for node in nodes:
        node.write_config(ha_cf=ha_cf(names, timing, extra=extra.format(vip=lan.host(200))),
                          haresources=resources)
    return nodes, lan


def _ask(node: Node, daemon: str, msg: object, reply: type[_R]) -> _R | None:
    """`daemon`'s reply to `msg`, or None while it does not answer."""
    try:
        answer = request(node.run_dir, daemon, msg, timeout=_ASK_TIMEOUT)
    except BusError:
        return None
    return answer if isinstance(answer, reply) else None


def nodes_view(node: Node) -> NodesResult | None:
    """hbcomm's view of every node."""
    return _ask(node, "hbcomm", GetNodes(), NodesResult)


def hbcomm_counters(node: Node) -> dict[str, int]:
    """hbcomm's counters (packets by type, bad packets, pauses); raises if it does not answer."""
    reply = _ask(node, "hbcomm", GetCounters(), CountersResult)
    if reply is None:
        raise LookupError(f"hbcomm on {node.name} did not answer GetCounters")
    return reply.counters


def ccm_view(node: Node) -> ViewChanged | None:
    """ccm's current view."""
    return _ask(node, "ccm", GetView(), ViewChanged)


def crm_status(node: Node) -> StatusResult | None:
    """crmd's status."""
    return _ask(node, "crmd", GetStatus(), StatusResult)


def has_members(view: ViewChanged | None, members: Sequence[str]) -> bool:
    """A formed view of exactly `members`."""
    return view is not None and view.formed and view.members == tuple(sorted(members))


def wait_agreed(nodes: Sequence[Node], timeout: float) -> None:
    """Until every one of `nodes` has a formed view of exactly `nodes`."""
    names = [node.name for node in nodes]
    wait_for(lambda: all(has_members(ccm_view(node), names) for node in nodes), timeout,
             interval=0.1, message=f"{', '.join(names)} never agreed on themselves")


def _all_active(node: Node) -> bool:
    """hbcomm on `node` is up and sees every (non-ping) node active."""
    seen = nodes_view(node)
    return seen is not None and seen.comm_up \
        and all(x.status == "active" for x in seen.nodes if x.type == "normal")


def wait_all_active(nodes: Sequence[Node], timeout: float = 30.0) -> None:
    wait_for(lambda: all(_all_active(node) for node in nodes), timeout, interval=0.1,
             message=f"{', '.join(n.name for n in nodes)} never all saw every node active")


def progress(text: str) -> None:
    """A progress line on stderr: stdout carries only results."""
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def progress_failure(what: str) -> None:
    """The traceback of the exception being handled, on stderr."""
    progress(f"{what} failed:\n{traceback.format_exc()}")


def daemon_pid(node: Node, title: str) -> int:
    pid = node.pid_of(title)
    if pid is not None:
        return pid
    raise LookupError(f"{title} not running on {node.name}")
