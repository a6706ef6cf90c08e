"""``/metrics``: the cluster, its links, groups, failovers and hosts in Prometheus text format.

Pure: built from the same picture and host samples the page shows, so a graph
and the page never disagree.  Format: text exposition 0.0.4 (``# HELP``,
``# TYPE``, one family after another, label values escaped).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Sample = tuple[Mapping[str, str], float]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _family(name: str, kind: str, help_text: str, samples: Iterable[Sample]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        text = ",".join(f'{key}="{_escape(val)}"' for key, val in labels.items())
        number = str(int(value)) if value.is_integer() else repr(value)
        lines.append(f"{name}{{{text}}} {number}" if text else f"{name} {number}")
    return lines


def render(picture: Mapping[str, Any] | None, hosts: Mapping[str, Mapping[str, Any]],
           failovers: int, last_failover: float | None) -> str:
    lines: list[str] = []
    up = picture is not None
    lines += _family("cluster_status_known", "gauge",
                     "1 when the local crmd answered, 0 otherwise", [({}, float(up))])
    if picture is not None:
        nodes = picture["nodes"]
        lines += _family("cluster_quorate", "gauge", "1 when the partition has quorum",
                         [({}, float(picture["quorate"]))])
        lines += _family("cluster_membership_instance", "gauge",
                         "the membership instance (view number)",
                         [({}, float(picture["instance"] or 0))])
        lines += _family("cluster_node_online", "gauge", "1 when the node is a member",
                         [({"node": n["name"]}, float(n["state"] != "offline")) for n in nodes])
        lines += _family("cluster_node_standby", "gauge", "1 when the node is in standby",
                         [({"node": n["name"]}, float(n["state"] == "standby")) for n in nodes])
        lines += _family("cluster_node_dc", "gauge", "1 on the designated coordinator",
                         [({"node": n["name"]}, float(n["dc"])) for n in nodes])
        lines += _family("cluster_link_up", "gauge", "1 when heartbeats arrive over the link",
                         [({"node": n["name"], "link": link["name"]},
                           float(link["status"] == "up"))
                          for n in nodes for link in n["links"]])
        lines += _family("cluster_group_running", "gauge",
                         "1 on the node where the whole group is started",
                         [({"group": g["key"], "node": n["name"]}, float(g["node"] == n["name"]))
                          for g in picture["groups"] for n in nodes])
        lines += _family("cluster_group_failures", "gauge", "fail count of a group on a node",
                         [({"group": f["group"], "node": f["node"]}, float(f["count"]))
                          for f in picture["fail_counts"]])
        lines += _family("cluster_failed_actions", "gauge",
                         "failed resource operations not yet cleaned up",
                         [({}, float(len(picture["failed_actions"])))])
    lines += _family("cluster_failovers_total", "counter",
                     "failovers this dashboard saw since it started",
                     [({}, float(failovers))])
    if last_failover is not None:
        lines += _family("cluster_last_failover_seconds", "gauge",
                         "how long the service was away in the last failover",
                         [({}, last_failover)])
    hosts_sorted = sorted(hosts.items())
    lines += _family("cluster_host_cpu_busy_percent", "gauge", "CPU busy over all cores",
                     [({"node": n}, float(h["cpu"])) for n, h in hosts_sorted])
    lines += _family("cluster_host_load1", "gauge", "one-minute load average",
                     [({"node": n}, float(h["load"][0])) for n, h in hosts_sorted])
    lines += _family("cluster_host_memory_used_bytes", "gauge", "memory in use (not available)",
                     [({"node": n}, float(h["mem_used"])) for n, h in hosts_sorted])
    lines += _family("cluster_host_memory_total_bytes", "gauge", "memory installed",
                     [({"node": n}, float(h["mem_total"])) for n, h in hosts_sorted])
    return "\n".join(lines) + "\n"
