"""``crm_status``: cluster status for people and scripts, like ``crm_mon``.

One GetStatus request to the local crmd, answered from memory (no agent is
run), printed as ``crm_mon -1`` text, as Pacemaker's API XML
(``--output-as=xml``, also crm_mon's ``-X``/``--as-xml``, valid against
``api-result-2.25.rng``) or as our JSON (``--output-as=json``).  crm_mon's
flags: ``-f`` fail counts (Migration Summary), ``-r`` inactive resources,
``-L`` bans, ``-1`` once (the default), ``-i SEC``/``--watch`` redraw until
Ctrl-C.  When the stack is not running the tool says so on stderr and exits
12 (cl_status's timeout code), never printing a partial picture.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cluster.bus.client import BusError
from cluster.bus.messages.crmd import StatusResult
from cluster.cli.output import EXIT_OK, bus_failure, crmd_status, emit_json, run_tool
from cluster.cli.status.json_out import render_json
from cluster.cli.status.pacemaker_xml import render_xml
from cluster.cli.status.text import render_text
from cluster.cli.status.view import Extras, Sections, StatusView, gather_extras
from cluster.cli.status.watch import watch
from cluster.runtime.paths import add_run_dir_argument

TOOL = "crm_status"
_TIMEOUT = 2.0
_DEFAULT_INTERVAL = 5.0      # crm_mon's


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=TOOL, description="Show the cluster's status.")
    add_run_dir_argument(parser)
    parser.add_argument("--output-as", choices=("text", "json", "xml"), default="text")
    parser.add_argument("-X", "--as-xml", action="store_const", const="xml", dest="output_as",
                        help="the same as --output-as=xml (crm_mon's spelling)")
    parser.add_argument("-1", "--one-shot", action="store_true",
                        help="print once and exit (the default; accepted for crm_mon users)")
    parser.add_argument("-i", "--interval", type=float, metavar="SEC",
                        help=f"redraw every SEC seconds until Ctrl-C "
                             f"(--watch: every {_DEFAULT_INTERVAL:g})")
    parser.add_argument("--watch", action="store_true", help="redraw until Ctrl-C")
    parser.add_argument("--count", type=int, metavar="N",
                        help="with -i/--watch: stop after N pictures")
    parser.add_argument("-f", "--failcounts", action="store_true",
                        help="show fail counts (Migration Summary)")
    parser.add_argument("-r", "--inactive", action="store_true",
                        help="list inactive resources too")
    parser.add_argument("-L", "--neg-locations", action="store_true",
                        help="show bans (negative location constraints)")
    return parser


def _view(args: argparse.Namespace, status: StatusResult) -> StatusView:
    sections = Sections(args.failcounts, args.inactive, args.neg_locations)
    extras = Extras() if args.output_as == "xml" else gather_extras(args.run_dir)
    return StatusView(status, extras, sections)


def _render(args: argparse.Namespace, view: StatusView) -> str:
    """Text or XML (JSON goes through emit_json)."""
    if args.output_as == "xml":
        return '<?xml version="1.0"?>\n' + render_xml(view)
    return render_text(view)


def _snapshot(args: argparse.Namespace) -> str:
    """One picture for the watch; a stopped stack is shown, not fatal."""
    try:
        status = crmd_status(args.run_dir, timeout=_TIMEOUT)
    except BusError as err:
        return bus_failure(TOOL, err)[0]
    return _render(args, _view(args, status))


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    interval = args.interval if args.interval is not None else (
        _DEFAULT_INTERVAL if args.watch else None)
    if interval is not None and interval <= 0:
        parser.error("-i/--interval must be positive")
    if args.count is not None and (args.count < 1 or interval is None):
        parser.error("--count takes a number of at least 1, with -i/--watch")
    if interval is not None and not args.one_shot:
        if args.output_as == "json":
            parser.error("--output-as=json prints once; drop -i/--watch")
        watch(lambda: _snapshot(args), interval, sys.stdout, args.count)
        return EXIT_OK

    def body() -> int:
        status = crmd_status(args.run_dir, timeout=_TIMEOUT)
        view = _view(args, status)
        if args.output_as == "json":
            emit_json(render_json(view))
        else:
            print(_render(args, view))
        return EXIT_OK

    return run_tool(TOOL, body)


if __name__ == "__main__":
    raise SystemExit(main())
