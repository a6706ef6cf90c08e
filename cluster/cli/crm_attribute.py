"""``crm_attribute``, ``crm_standby``, ``crm_failcount`` and ``crm_node``, as Pacemaker's.

In Pacemaker the first three are one tool over the CIB's attributes; here
they ask the local crmd, which keeps the operator's intent cluster-wide
(:mod:`cluster.crmd.intent`).  Supported, with Pacemaker's output shapes:

* ``crm_attribute -n maintenance-mode -v true|false``, ``-G`` (query),
  ``-D`` (delete = false).  Other names are refused: there is no CIB.
* ``crm_standby [-N node] -v on|off [-l reboot|forever]``, ``-G``, ``-D``
  (default node: this one; default lifetime: forever, which survives a
  stack restart; reboot ends when that node's stack restarts).
* ``crm_failcount -G -r GROUP [-N node]`` and ``-D`` (a cleanup there).
* ``crm_node -l`` (id, name, member | lost), ``-p`` (this partition's
  members), ``-q`` (1 with quorum, else 0), ``-n`` (this node's name).

Exit codes as the other tools: 0, 1 refused, 2 usage, 12 stack not running.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cluster.bus.messages.crmd import (
    CleanupResource,
    SetMaintenance,
    SetStandby,
)
from cluster.cli.output import EXIT_OK, ask_crmd, crmd_status, fail, run_tool
from cluster.runtime.paths import add_run_dir_argument

_TRUE = ("true", "on", "yes", "y", "1")
_FALSE = ("false", "off", "no", "n", "0")
MAINTENANCE = "maintenance-mode"


def _bool(parser: argparse.ArgumentParser, value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    parser.error(f"{value!r} is not a boolean (true or false, on or off)")


def _parser(tool: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=tool, description=description)
    add_run_dir_argument(parser)
    return parser


def _update_query_delete(parser: argparse.ArgumentParser,
                         metavar: str) -> argparse.ArgumentParser:
    """-v VALUE | -G | -D, and -q: the attribute tools' common options."""
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("-v", "--update", metavar=metavar)
    action.add_argument("-G", "--query", action="store_true")
    action.add_argument("-D", "--delete", action="store_true")
    parser.add_argument("-q", "-Q", "--quiet", action="store_true")
    return parser


def _print_attribute(quiet: bool, scope: str, name: str, value: str) -> None:
    print(value if quiet else f"scope={scope}  name={name} value={value}")


def main_attribute(argv: Sequence[str] | None = None) -> int:
    tool = "crm_attribute"
    parser = _parser(tool, "Query and change the cluster option maintenance-mode.")
    parser.add_argument("-n", "--name", required=True)
    parser.add_argument("-t", "--type", default="crm_config", choices=("crm_config",))
    args = _update_query_delete(parser, "VALUE").parse_args(argv)
    if args.name != MAINTENANCE:
        fail(tool, f"unknown cluster option {args.name!r}: only {MAINTENANCE} can be set "
             "here (the rest lives in ha.cf)", 1)
    on = _bool(parser, args.update) if args.update is not None else False

    def body() -> int:
        if args.query:
            value = "true" if crmd_status(args.run_dir).maintenance else "false"
            _print_attribute(args.quiet, "crm_config", MAINTENANCE, value)
            return EXIT_OK
        ask_crmd(args.run_dir, SetMaintenance(on))
        if args.delete:
            print(f"Deleted crm_config option: id=cib-bootstrap-options-{MAINTENANCE} "
                  f"name={MAINTENANCE}")
        return EXIT_OK

    return run_tool(tool, body)


def main_standby(argv: Sequence[str] | None = None) -> int:
    tool = "crm_standby"
    parser = _parser(tool, "Put a node in standby (it runs no resources) or take it out.")
    parser.add_argument("-N", "--node", default="")
    parser.add_argument("-l", "--lifetime", default="forever", choices=("reboot", "forever"))
    args = _update_query_delete(parser, "on|off").parse_args(argv)
    on = _bool(parser, args.update) if args.update is not None else False

    def body() -> int:
        status = crmd_status(args.run_dir)
        node = args.node or status.local
        if args.query:
            found = [n for n in status.nodes if n.name == node]
            if not found:
                fail(tool, f"No node named '{node}' in the cluster", 1)
            value = "on" if found[0].standby else "off"
            _print_attribute(args.quiet, "nodes" if args.lifetime == "forever" else "status",
                             "standby", value)
            return EXIT_OK
        ask_crmd(args.run_dir, SetStandby(node, on, args.lifetime))
        return EXIT_OK

    return run_tool(tool, body)


def main_failcount(argv: Sequence[str] | None = None) -> int:
    tool = "crm_failcount"
    parser = _parser(tool, "Query or clear a resource group's fail count on a node.")
    parser.add_argument("-r", "--resource", required=True)
    parser.add_argument("-N", "--node", default="")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("-G", "--query", action="store_true", default=True)
    action.add_argument("-D", "--delete", action="store_true")
    parser.add_argument("-q", "-Q", "--quiet", action="store_true")
    args = parser.parse_args(argv)

    def body() -> int:
        status = crmd_status(args.run_dir)
        node = args.node or status.local
        if args.delete:
            ask_crmd(args.run_dir, CleanupResource(args.resource, node, client="crm_failcount"))
            return EXIT_OK
        groups = [k for k in status.groups if k == args.resource] or sorted(
            {r.group for r in status.resources if args.resource in (r.id, r.token)})
        if not groups:
            fail(tool, f"Resource '{args.resource}' not found", 1)
        count = sum(f.count for f in status.fail_counts if f.node == node and f.group in groups)
        _print_attribute(args.quiet, "status", f"fail-count-{args.resource}", str(count))
        return EXIT_OK

    return run_tool(tool, body)


def main_node(argv: Sequence[str] | None = None) -> int:
    tool = "crm_node"
    parser = _parser(tool, "Show the cluster's nodes, this partition and quorum.")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("-l", "--list", action="store_true", help="every node: id name state")
    action.add_argument("-p", "--partition", action="store_true",
                        help="this partition's members")
    action.add_argument("-q", "--quorum", action="store_true", help="1 with quorum, else 0")
    action.add_argument("-n", "--name", action="store_true", help="this node's name")
    args = parser.parse_args(argv)

    def body() -> int:
        status = crmd_status(args.run_dir)
        if args.list:
            for number, node in enumerate(status.nodes, start=1):
                print(f"{number} {node.name} {'member' if node.member else 'lost'}")
        elif args.partition:
            print(" ".join(status.members))
        elif args.quorum:
            print("1" if status.formed and status.quorate else "0")
        else:
            print(status.local)
        return EXIT_OK

    return run_tool(tool, body)
