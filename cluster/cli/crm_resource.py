"""``crm_resource``: operate resource groups with Pacemaker's flags and wording.

``-r`` takes a group's id as crm_status shows it (its first resource) or the
name of any resource in it; every command acts on the whole group.
Commands: ``--list``, ``--locate`` (``-Q``: the node names alone),
``--cleanup`` / ``--refresh`` (forget fail counts and failed actions and
probe again; ``-N`` one node), ``--move`` / ``--ban`` / ``--clear`` (the
constraints ``cli-prefer-G`` and ``cli-ban-G-on-N``, kept by crmd in the state
directory until cleared or their ``--lifetime`` (ISO 8601, ``PT1H``) ends),
``--restart``, ``--why``, ``--wait`` (until no action is planned or under way;
``-T`` bounds it) and ``--manage`` / ``--unmanage``.

Exit codes: 0 success, 1 crmd refused (the reason on stderr), 2 bad usage,
12 the stack is not running, 124 (Pacemaker's timeout code) when ``--wait``
or ``--restart`` did not settle within ``-T``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from cluster.bus.messages.crmd import (
    CleanupResource,
    Constrain,
    RestartGroup,
    SetManaged,
    WhyGroup,
)
from cluster.cli.output import EXIT_OK, ask_crmd, crmd_status, fail, run_tool
from cluster.cli.status.text import group_lines
from cluster.cli.status.view import StatusView
from cluster.common.isoduration import parse_duration, parse_seconds
from cluster.runtime.paths import add_run_dir_argument

TOOL = "crm_resource"
EXIT_TIMEOUT = 124
_WAIT_DEFAULT = 60.0
_POLL = 0.2
_SETTLED_POLLS = 3          # consecutive quiet answers before --wait believes it

_COMMANDS = (
    ("-L", "--list", "list", "list the resource groups and where they run"),
    ("-W", "--locate", "locate", "show the node(s) running the resource's group"),
    ("-C", "--cleanup", "cleanup", "forget failures (of -r, on -N) and probe again"),
    ("-R", "--refresh", "refresh", "forget failures and probe every such group again"),
    ("-M", "--move", "move", "move the group to -N (or away from where it runs)"),
    ("-B", "--ban", "ban", "keep the group off -N (or where it runs now)"),
    ("-U", "--clear", "clear", "remove the moves and bans of the group (on -N only)"),
    (None, "--restart", "restart", "stop and start the group where it runs"),
    ("-Y", "--why", "why", "say why the group runs where it does, or nowhere"),
    (None, "--wait", "wait", "wait until the cluster has no action planned or under way"),
    (None, "--manage", "manage", "let the cluster manage the group again"),
    (None, "--unmanage", "unmanage", "leave the group alone: nothing started or stopped"),
)
_NEED_RESOURCE = {"locate", "move", "ban", "clear", "restart", "why", "manage", "unmanage"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=TOOL,
                                     description="Perform tasks related to resource groups.")
    add_run_dir_argument(parser)
    commands = parser.add_mutually_exclusive_group(required=True)
    for short, long, name, text in _COMMANDS:
        flags = (short, long) if short else (long,)
        commands.add_argument(*flags, dest="command", action="store_const", const=name,
                              help=text)
    parser.add_argument("-r", "--resource", default="", help="group id or resource name")
    parser.add_argument("-N", "--node", default="", help="node name")
    parser.add_argument("-u", "--lifetime", default=None,
                        help="how long a move or ban lasts (ISO 8601: PT1H, P1D)")
    parser.add_argument("-T", "--timeout", default=None,
                        help="bound for --wait and --restart (60, 60s, 2min, PT1M)")
    parser.add_argument("-Q", "--quiet", action="store_true", help="print only the essentials")
    return parser


def _say(text: str) -> None:
    if text:
        print(text)


def _locate(args: argparse.Namespace) -> int:
    """Nodes where the whole group (or the one resource named) is started."""
    status = crmd_status(args.run_dir)
    target = args.resource
    if target in status.groups:
        group = target
        ids = {r.id for r in status.resources if r.group == group}
    else:
        named = [r for r in status.resources if target in (r.id, r.token)]
        if not named:
            fail(TOOL, f"Resource '{target}' not found", 1)
        group, ids = named[0].group, {named[0].id}
    started = [r for r in status.resources
               if r.group == group and r.id in ids and r.state == "started" and r.node]
    nodes = sorted({r.node for r in started if r.node is not None
                    and {s.id for s in started if s.node == r.node} == ids})
    if args.quiet:
        _say("\n".join(nodes))
    elif nodes:
        print(f"resource {target} is running on: {' '.join(nodes)}")
    else:
        print(f"resource {target} is NOT running")
    return EXIT_OK


def _wait(args: argparse.Namespace, timeout: float, group: str | None = None) -> int:
    """Until no action is pending (and ``group``, if given, runs) for a few polls."""
    deadline = time.monotonic() + timeout
    quiet = 0
    status = crmd_status(args.run_dir)
    while True:
        running = group is None or any(r.group == group and r.state == "started"
                                       for r in status.resources)
        quiet = quiet + 1 if not status.pending and running else 0
        if quiet >= _SETTLED_POLLS:
            return EXIT_OK
        if time.monotonic() >= deadline:
            print(f"{TOOL}: timed out after {timeout:g}s waiting for the cluster to settle; "
                  f"pending: {'; '.join(status.pending) or 'nothing'}", file=sys.stderr)
            return EXIT_TIMEOUT
        time.sleep(_POLL)
        status = crmd_status(args.run_dir)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    command: str = args.command
    if command in _NEED_RESOURCE and not args.resource:
        parser.error(f"--{command} needs a resource: -r GROUP")
    try:
        lifetime = parse_duration(args.lifetime) if args.lifetime else 0.0
        timeout = parse_seconds(args.timeout) if args.timeout else _WAIT_DEFAULT
    except ValueError as err:
        parser.error(str(err))
    if args.lifetime and command not in ("move", "ban"):
        parser.error("--lifetime goes with --move or --ban")

    run_dir = args.run_dir

    def body() -> int:
        if command == "list":
            listing = group_lines(StatusView(crmd_status(run_dir)))
            print("\n".join(["Full List of Resources:", *listing]))
        elif command == "locate":
            return _locate(args)
        elif command in ("cleanup", "refresh"):
            refresh = command == "refresh"
            _say(ask_crmd(run_dir, CleanupResource(args.resource, args.node, refresh, client=TOOL)))
        elif command in ("move", "ban", "clear"):
            _say(ask_crmd(args.run_dir, Constrain(command, args.resource, args.node, lifetime)))
        elif command == "restart":
            _say(ask_crmd(args.run_dir, RestartGroup(args.resource)))
            group = next((r.group for r in crmd_status(args.run_dir).resources
                          if args.resource in (r.group, r.id, r.token)), None)
            return _wait(args, timeout, group)
        elif command == "why":
            _say(ask_crmd(args.run_dir, WhyGroup(args.resource)))
        elif command == "wait":
            return _wait(args, timeout)
        else:
            _say(ask_crmd(args.run_dir, SetManaged(args.resource, command == "manage")))
        return EXIT_OK

    return run_tool(TOOL, body)


if __name__ == "__main__":
    raise SystemExit(main())
