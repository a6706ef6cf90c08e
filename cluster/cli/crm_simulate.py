"""``crm_simulate``: what would happen if a node failed or went standby, from the live state.

``crm_simulate [-L] --node-fail N [--node-fail M] [--standby N]`` asks the
local crmd, which runs the policy on a copy of its live state with those
events applied (a failed node is fenced first when STONITH is configured),
round after round until nothing is left to do.  Printed like Pacemaker's
crm_simulate: the current placement, the modifications, a "Transition
Summary" (Move / Start / Stop / Restart per group), the actions in the order
the DC would take them ("Executing Cluster Transition") and the revised
placement.  Nothing is done.  ``-L``/``--live-check`` and ``-S``/``--simulate``
are accepted for Pacemaker users: the live state is the only input here.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cluster.bus.client import request
from cluster.bus.messages.crmd import Simulate, SimulationResult
from cluster.cli.output import EXIT_OK, run_tool
from cluster.runtime.paths import add_run_dir_argument

TOOL = "crm_simulate"
_TIMEOUT = 5.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=TOOL, description="What the cluster would do if "
                                     "nodes failed or went standby (nothing is done).")
    add_run_dir_argument(parser)
    parser.add_argument("-L", "--live-check", action="store_true",
                        help="use the live cluster state (always)")
    parser.add_argument("-S", "--simulate", action="store_true",
                        help="run the transition (always, on a copy)")
    parser.add_argument("-f", "--node-fail", action="append", default=[], metavar="NODE",
                        help="the node dies (repeatable)")
    parser.add_argument("--standby", action="append", default=[], metavar="NODE",
                        help="the node goes standby (repeatable)")
    return parser


def _placement(places: dict[str, str]) -> list[str]:
    return [f"  * {key}:\t{'Started ' + node if node else 'Stopped'}"
            for key, node in places.items()]


def _summary(result: SimulationResult) -> list[str]:
    restarted = {a.group for a in result.actions if a.action == "restart"}
    lines = []
    for key, old in result.before.items():
        new = result.after.get(key, "")
        if old and new and old != new:
            lines.append(f"  * Move       {key}\t( {old} -> {new} )")
        elif old and not new:
            lines.append(f"  * Stop       {key}\t( {old} )")
        elif new and not old:
            lines.append(f"  * Start      {key}\t( {new} )")
        elif key in restarted:
            lines.append(f"  * Restart    {key}\t( {new} )")
    return lines or ["  (nothing changes)"]


def render(result: SimulationResult, fail: Sequence[str], standby: Sequence[str]) -> str:
    lines = ["Current cluster status:", *_placement(result.before), "",
             "Performing Requested Modifications:"]
    lines += [f"  * Failing node {n}" for n in fail]
    lines += [f"  * Putting node {n} in standby" for n in standby]
    lines += ["", "Transition Summary:", *_summary(result), "",
              "Executing Cluster Transition:"]
    for a in result.actions:
        if a.action == "fence":
            lines.append(f"  * Fencing {a.node} (reboot): {a.reason}")
        else:
            lines.append(f"  * Resource action: {a.group} {a.action} on {a.node}: {a.reason}")
    if not result.actions:
        lines.append("  (no action)")
    lines += ["", "Revised Cluster Status:", *_placement(result.after)]
    if result.notes:
        lines += ["", "Notes:", *(f"  * {note}" for note in result.notes)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.node_fail and not args.standby:
        parser.error("say what to simulate: --node-fail NODE and/or --standby NODE")

    def body() -> int:
        reply = request(args.run_dir, "crmd", Simulate(tuple(args.node_fail),
                                                       tuple(args.standby)), timeout=_TIMEOUT)
        assert isinstance(reply, SimulationResult)
        print(render(reply, args.node_fail, args.standby))
        return EXIT_OK

    return run_tool(TOOL, body)


if __name__ == "__main__":
    raise SystemExit(main())
