"""``cl_status``: Heartbeat's status tool, answering from the running stack.

Subcommands, output and exit codes follow Heartbeat's ``cl_status`` so
existing scripts keep working: ``hbstatus``, ``listnodes``, ``nodestatus``,
``nodetype``, ``listhblinks``, ``hblinkstatus``, ``hbparameter``.  ``-m``
prints sentences for people instead of bare words.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from cluster.bus.client import NotRunning, request
from cluster.bus.messages.hbcomm import GetNodes, GetParameter, NodeInfo, NodesResult
from cluster.cli.output import (
    EXIT_NEGATIVE,
    EXIT_OK,
    EXIT_PARAMETER,
    run_tool,
)
from cluster.runtime.paths import add_run_dir_argument

TOOL = "cl_status"
_TIMEOUT = 5.0  # Heartbeat's cl_status gives up after 5 s too


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=TOOL, description="Query the cluster stack's status.")
    add_run_dir_argument(parser)
    parser.add_argument("-m", dest="human", action="store_true",
                        help="human-readable sentences")
    sub = parser.add_subparsers(dest="subcommand", required=True)
    hb = sub.add_parser("hbstatus", help="is the stack running on this machine?")
    hb.add_argument("-v", dest="verbose", action="store_true")
    ln = sub.add_parser("listnodes", help="the cluster's nodes")
    ln.add_argument("-v", dest="verbose", action="store_true")
    ln.add_argument("-p", dest="ping_only", action="store_true", help="ping nodes only")
    ln.add_argument("-n", dest="normal_only", action="store_true", help="normal nodes only")
    for name in ("nodestatus", "nodetype"):
        sub.add_parser(name).add_argument("node")
    lh = sub.add_parser("listhblinks")
    lh.add_argument("node")
    lh.add_argument("-v", dest="verbose", action="store_true")
    hl = sub.add_parser("hblinkstatus")
    hl.add_argument("node")
    hl.add_argument("link")
    pa = sub.add_parser("hbparameter")
    pa.add_argument("-p", dest="parameter", required=True)
    return parser


def _nodes(args: argparse.Namespace) -> NodesResult:
    reply = request(args.run_dir, "hbcomm", GetNodes(), timeout=_TIMEOUT)
    assert isinstance(reply, NodesResult)
    return reply


def _find(result: NodesResult, name: str) -> NodeInfo | None:
    wanted = name.lower()
    return next((n for n in result.nodes if n.name == wanted), None)


def _unknown_node(name: str) -> int:
    print(f"{TOOL}: there is no node '{name}' in this cluster", file=sys.stderr)
    return EXIT_PARAMETER


def _hbstatus(args: argparse.Namespace) -> int:
    try:
        result = _nodes(args)
    except NotRunning:
        print("Heartbeat is stopped on this machine.")
        return EXIT_NEGATIVE
    print("Heartbeat is running on this machine.")
    if args.verbose:
        print(f"local node:\t{result.local}\ngeneration:\t{result.generation}\n"
              f"uptime:\t{result.uptime:.0f} s")
        _print_nodes(result, verbose=True)
    return EXIT_OK


def _print_nodes(result: NodesResult, verbose: bool, only: str | None = None) -> None:
    for node in result.nodes:
        if only is not None and node.type != only:
            continue
        if not verbose:
            print(node.name)
            continue
        print(f"{node.name}\t{node.status}\t(nodetype: {node.type})")
        for link in node.links:
            print(f"\t{link.name}\t{link.status}")


def _listnodes(args: argparse.Namespace) -> int:
    only = "ping" if args.ping_only else "normal" if args.normal_only else None
    _print_nodes(_nodes(args), args.verbose, only)
    return EXIT_OK


def _nodestatus(args: argparse.Namespace) -> int:
    node = _find(_nodes(args), args.node)
    if node is None:
        return _unknown_node(args.node)
    if args.human:
        print(f"The cluster node {node.name} is {node.status}")
    else:
        print(node.status)
    return EXIT_OK if node.status in ("active", "up", "ping") else EXIT_NEGATIVE


def _nodetype(args: argparse.Namespace) -> int:
    node = _find(_nodes(args), args.node)
    if node is None:
        return _unknown_node(args.node)
    print(node.type)
    return EXIT_OK


def _listhblinks(args: argparse.Namespace) -> int:
    node = _find(_nodes(args), args.node)
    if node is None:
        return _unknown_node(args.node)
    for link in node.links:
        print(f"\t{link.name}\t{link.status}" if args.verbose else f"\t{link.name}")
    return EXIT_OK


def _hblinkstatus(args: argparse.Namespace) -> int:
    node = _find(_nodes(args), args.node)
    if node is None:
        return _unknown_node(args.node)
    link = next((lk for lk in node.links if lk.name == args.link), None)
    if link is None:
        print(f"{TOOL}: node {node.name} has no link '{args.link}'", file=sys.stderr)
        return EXIT_PARAMETER
    print(link.status)
    return EXIT_OK if link.status == "up" else EXIT_NEGATIVE


def _hbparameter(args: argparse.Namespace) -> int:
    reply = request(args.run_dir, "hbcomm", GetParameter(args.parameter), timeout=_TIMEOUT)
    if reply.value is None:
        return EXIT_NEGATIVE
    print(reply.value)
    return EXIT_OK


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "hbstatus": _hbstatus, "listnodes": _listnodes, "nodestatus": _nodestatus,
    "nodetype": _nodetype, "listhblinks": _listhblinks, "hblinkstatus": _hblinkstatus,
    "hbparameter": _hbparameter,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_tool(TOOL, lambda: _COMMANDS[args.subcommand](args))
