"""The built-in ``cluster`` monitor's judgement of crmd's status.

Role: turn crmd's answer to ``GetStatus`` (a ``StatusResult``) into a Mon
outcome: a node of the watched group that is not online fails (offline;
"unclean" when it may still hold resources), a resource in state
``failed`` fails; failed operations crmd remembers are listed in the detail.
An empty host list (the monitor line ends with ``;;``) means every node
crmd knows. A crmd that does not answer is a failure of the service: the
cluster's view is exactly what this monitor is for. Pure: the daemon asks
crmd (``service.py``) and hands the reply, or the error, here.
"""

from __future__ import annotations

from collections.abc import Sequence

from cluster.bus.messages.crmd import StatusResult
from cluster.mon.builtins import ClusterOptions
from cluster.mon.outcome import HostResult, MonitorOutcome, host_report

__all__ = ["judge", "unavailable"]


def judge(status: StatusResult, hosts: Sequence[str], options: ClusterOptions) -> MonitorOutcome:
    """Nodes and resources of `status` as a Mon outcome."""
    results: list[HostResult] = []
    if options.nodes:
        known = {node.name: node for node in status.nodes}
        for name in hosts or [node.name for node in status.nodes]:
            node = known.get(name)
            if node is None:
                results.append(HostResult(name, False, note="not a node of this cluster"))
            elif node.state == "offline":
                note = "offline, unclean (not fenced)" if node.unclean else "offline"
                results.append(HostResult(name, False, note=note))
            else:
                results.append(HostResult(name, True, note=node.state))
    if options.resources:
        for resource in status.resources:
            where = f"on {resource.node}" if resource.node else "not placed"
            label = f"{resource.id}@{resource.node}" if resource.node else resource.id
            ok = resource.state != "failed"
            results.append(HostResult(label, ok, note=f"{resource.state} {where}"))
    outcome = host_report(results, what="cluster")
    failed = [
        f"  {a.resource} {a.action} on {a.node}: {a.outcome} (rc {a.rc}) {a.detail}".rstrip()
        for a in status.failed_actions
    ]
    if failed:
        detail = "\n".join([outcome.detail, "", "failed actions:", *failed]).lstrip("\n")
        outcome = MonitorOutcome(outcome.retval, outcome.summary, detail)
    return outcome


def unavailable(error: str) -> MonitorOutcome:
    """crmd could not be asked: the cluster's own view is unknown."""
    return MonitorOutcome.error("crmd not answering", f"cluster status unavailable: {error}")
