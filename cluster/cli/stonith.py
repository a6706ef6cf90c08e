"""``stonith``: drive a fencing device by hand, like cluster-glue's stonith(8).

Local mode runs the device code in this process (the same drivers stonithd
uses, :mod:`cluster.stonithd.runner`), not through the daemon, as the
original does::

    stonith -L                                   # device types, one per line
    stonith -t TYPE -n                           # its parameter names, in positional order
    stonith -t TYPE -h                           # what the type is
    stonith -t TYPE -m                           # its XML metadata (an OCF resource-agent)
    stonith -t TYPE {name=value...|-p "PARAMS"|-F FILE} [-c N] [-l] [-S] [-T reset|on|off] [NODE]

``-S`` checks the device (``info: TYPE device OK.`` / ``ERROR: TYPE device
not accessible.`` on stderr), ``-l`` lists the hosts it controls, a NODE
argument performs ``-T`` (default reset) on it, up to ``-c`` times until it
succeeds.  ``--timeout`` bounds each operation (default: the type's).  The
exit status is the last operation's code: 0 OK, 1 BADCONFIG (also bad
usage), 2 ACCESS, 3 INVAL, 4 BADHOST, 5 RESETFAIL, 6 TIMEOUT, 7 ISOFF, 8 OOPS.

Daemon mode asks the running stonithd, with its configured devices,
retries and logging (ours, not in cluster-glue)::

    stonith --fence NODE [-T reset|off|on] [--timeout S] [--run-dir DIR]
    stonith --devices [--run-dir DIR]           # ListFenceDevices

``--fence`` exits 0 when the node was fenced, 5 when stonithd could not,
6 when stonithd did not answer in time, 8 when it is not running.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from cluster.bus.client import NotRunning, RemoteError, request
from cluster.bus.endpoints import control_path
from cluster.bus.messages.stonithd import (
    REPLY_MARGIN,
    FenceDevicesResult,
    FenceNode,
    FenceResult,
    ListFenceDevices,
)
from cluster.cli.output import table
from cluster.runtime.paths import DEFAULT_CONF_DIR, add_run_dir_argument
from cluster.stonithd.devices import parse_named, r1_params
from cluster.stonithd.metadata import metadata_xml
from cluster.stonithd.outcome import ACTIONS, Code, Deadline, Outcome
from cluster.stonithd.registry import config_names, describe_type, list_types
from cluster.stonithd.runner import run_operation

_TOOL = "stonith"
_LOCAL_TIMEOUT = {"rps10": 35.0, "null": 10.0}
_DEFAULT_LOCAL_TIMEOUT = 60.0
_DEFAULT_FENCE_TIMEOUT = 120.0     # stonith_admin's default for admin requests


class _Parser(argparse.ArgumentParser):
    """Bad usage exits 1 (BADCONFIG), as cluster-glue's stonith does, not argparse's 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"{self.prog}: {message}", file=sys.stderr)
        sys.exit(int(Code.BADCONFIG))


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=_TOOL, add_help=False,
        description="Fence a node with a STONITH device (locally), or ask stonithd to.")
    parser.add_argument("-L", action="store_true", help="list the device types")
    parser.add_argument("-t", dest="type", help="device type (see -L)")
    parser.add_argument("-n", action="store_true", help="print the type's parameter names")
    parser.add_argument("-m", action="store_true", dest="metadata",
                        help="print the type's XML metadata")
    parser.add_argument("-h", action="store_true", dest="type_help",
                        help="describe the type given with -t (alone: this help)")
    parser.add_argument("--help", action="help", help="show this help")
    parser.add_argument("-p", dest="params", help="parameters, positional, in one string")
    parser.add_argument("-F", dest="param_file", type=Path,
                        help="file whose first non-comment line holds the parameters")
    parser.add_argument("-c", dest="count", type=int, default=1,
                        help="try the action up to this many times (default 1)")
    parser.add_argument("-l", action="store_true", help="list the hosts the device controls")
    parser.add_argument("-S", action="store_true", help="report the device's status")
    parser.add_argument("-T", dest="action", choices=ACTIONS, default="reset",
                        help="action for NODE (default reset)")
    parser.add_argument("-s", action="store_true", dest="silent", help="silent")
    parser.add_argument("-d", "-v", action="count", default=0, dest="debug", help="verbose")
    parser.add_argument("--timeout", type=float, help="seconds per operation")
    parser.add_argument("-C", "--config-dir", type=Path, default=DEFAULT_CONF_DIR,
                        help="where site plugins live (CONFDIR/stonith/...), default "
                             f"{DEFAULT_CONF_DIR}")
    parser.add_argument("--fence", metavar="NODE", help="ask the running stonithd to fence NODE")
    parser.add_argument("--devices", action="store_true",
                        help="list the running stonithd's devices and their status")
    add_run_dir_argument(parser)
    parser.add_argument("words", nargs="*", metavar="name=value|NODE")
    return parser


class _Tool:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    def say(self, text: str) -> None:
        if not self.args.silent:
            print(text, file=sys.stderr)

    def usage(self, message: str) -> int:
        print(f"{_TOOL}: {message}", file=sys.stderr)
        _parser().print_usage(sys.stderr)
        return int(Code.BADCONFIG)

    def timeout(self) -> float:
        if self.args.timeout is not None:
            return float(self.args.timeout)
        return _LOCAL_TIMEOUT.get(self.args.type or "", _DEFAULT_LOCAL_TIMEOUT)

    # -- daemon mode ----------------------------------------------------------
    def fence(self) -> int:
        args = self.args
        timeout = args.timeout if args.timeout is not None else _DEFAULT_FENCE_TIMEOUT
        msg = FenceNode(args.fence.lower(), args.action, "operator request (stonith --fence)",
                        timeout, "stonith CLI")
        self.say(f"info: asking stonithd to {args.action} {msg.node} (up to {timeout:g} s)")
        reply = self._ask(msg, timeout + REPLY_MARGIN)
        if isinstance(reply, int):
            return reply
        assert isinstance(reply, FenceResult)
        if reply.ok:
            self.say(f"info: node {reply.node} now {reply.action} by [{reply.device}] "
                     f"after {reply.attempts} attempt(s): {reply.detail}")
            return int(Code.OK)
        print(f"ERROR: STONITH of {reply.node} failed: {reply.detail}", file=sys.stderr)
        return int(Code.RESETFAIL)

    def devices(self) -> int:
        reply = self._ask(ListFenceDevices(), 5.0)
        if isinstance(reply, int):
            return reply
        assert isinstance(reply, FenceDevicesResult)
        rows = [("DEVICE", "TYPE", "HOSTS", "STATUS")]
        rows += [(d.device, d.type, " ".join(d.hosts) or "-", d.status) for d in reply.devices]
        print(table(rows, indent=""))
        return int(Code.OK)

    def _ask(self, msg: object, timeout: float) -> object:
        run_dir = self.args.run_dir
        try:
            return request(run_dir, "stonithd", msg, timeout=timeout)
        except NotRunning as err:
            running = control_path(run_dir, "stonithd").exists()
            print(f"{_TOOL}: {err}", file=sys.stderr)
            return int(Code.TIMEOUT if running else Code.OOPS)
        except RemoteError as err:
            print(f"{_TOOL}: stonithd refused: {err}", file=sys.stderr)
            return int(Code.INVAL)

    # -- local mode -------------------------------------------------------------
    def local(self) -> int:
        args = self.args
        conf_dir: Path = args.config_dir
        if args.n:
            names = config_names(args.type, conf_dir, Deadline(self.timeout()))
            if isinstance(names, Outcome):
                return self.report(names)
            print(" ".join(names))
            return int(Code.OK)
        if args.metadata:
            document = metadata_xml(args.type, conf_dir, Deadline(self.timeout()))
            if isinstance(document, Outcome):
                return self.report(document)
            print(document, end="")
            return int(Code.OK)
        if args.type_help:
            print(f"{args.type}: {describe_type(args.type)}")
            return int(Code.OK)
        nodes = [w for w in args.words if "=" not in w]
        named_words = [w for w in args.words if "=" in w]
        if len(nodes) > 1:
            return self.usage(f"only one node may be given, not {' '.join(nodes)}")
        sources = sum(x is not None and x != [] for x in (args.params, args.param_file,
                                                          named_words or None))
        if sources != 1:
            return self.usage("give the parameters with exactly one of -p, -F or name=value")
        positional: str | None = args.params
        named = None
        if args.param_file is not None:
            try:
                positional = r1_params(args.param_file.read_text(encoding="utf-8"))
            except OSError as err:
                return self.usage(f"cannot read {args.param_file}: {err.strerror}")
        if named_words:
            named = parse_named(named_words)
        if not (args.S or args.l or nodes):
            return self.usage("nothing to do: give -S, -l or a node")
        code = Code.OK
        if args.S:
            outcome = self.run("status", None, positional, named)
            if outcome.ok:
                self.say(f"info: {args.type} device OK.")
            else:
                print(f"ERROR: {args.type} device not accessible. ({outcome.detail})",
                      file=sys.stderr)
            code = outcome.code
        if args.l:
            outcome = self.run("hosts", None, positional, named)
            if outcome.ok:
                print("\n".join(outcome.hosts))
            else:
                self.report(outcome)
            code = outcome.code
        if nodes:
            code = self.act(nodes[0].lower(), positional, named)
        return int(code)

    def act(self, node: str, positional: str | None, named: dict[str, str] | None) -> Code:
        outcome = Outcome(Code.OOPS, "not tried")
        for attempt in range(1, max(1, self.args.count) + 1):
            outcome = self.run(self.args.action, node, positional, named)
            if outcome.ok:
                self.say(f"info: node {node} now {self.args.action}. ({outcome.detail})")
                return outcome.code
            print(f"ERROR: STONITH of {node} failed (attempt {attempt}, "
                  f"{outcome.code.name}): {outcome.detail}", file=sys.stderr)
        return outcome.code

    def run(self, op: str, host: str | None, positional: str | None,
            named: dict[str, str] | None) -> Outcome:
        return run_operation(self.args.type, op, self.timeout(), conf_dir=self.args.config_dir,
                             host=host, positional=positional, named=named)

    def report(self, outcome: Outcome) -> int:
        print(f"{_TOOL}: {outcome.code.name}: {outcome.detail}", file=sys.stderr)
        return int(outcome.code)


def main(argv: Sequence[str] | None = None) -> int:
    # Options and name=value/NODE words may come in any order, as with glue's getopt.
    args = _parser().parse_intermixed_args(argv)
    tool = _Tool(args)
    if args.timeout is not None and args.timeout <= 0:
        return tool.usage("--timeout must be positive")
    try:
        if args.fence:
            return tool.fence()
        if args.devices:
            return tool.devices()
        if args.L:
            print("\n".join(list_types(args.config_dir)))
            return int(Code.OK)
        if not args.type:
            if args.type_help:
                _parser().print_help()
                return int(Code.OK)
            return tool.usage("give -L, --fence, --devices or -t TYPE")
        return tool.local()
    except ValueError as err:
        return tool.usage(str(err))
    except KeyboardInterrupt:
        return int(Code.OOPS)


if __name__ == "__main__":
    sys.exit(main())
