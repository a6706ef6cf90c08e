"""Golden scenarios for crmd's policy: ``decide(state, config)`` per directory.

A case is a directory under ``crmd/`` holding ``ha.cf`` and ``haresources``
(parsed by the real parsers), ``state.json`` (the cluster-wide status table)
and ``expected.json`` (the plan).  ``pytest --update-golden`` rewrites
``expected.json``.

``state.json``::

    {"description": "...", "local": "node2",
     "view": {"instance": 4, "members": ["node2"], "quorate": true} | null,
     "nodes": {"node1": {"member_since": 1, "fenced": false, "abandoned": [],
                         "report": {"instance": 3, "joined": 1, "leaving": false,
                                    "standby": "", "wants": [],
                                    "groups": {"<key>": "started" |
                                               {"state": "failed", "fail_count": 1,
                                                "since": 3}}}}},
     "in_flight": [["<key>", "node1"]],
     "failure_threshold": 3}

A node is a member when the view lists it; ``member_since`` defaults to 1
for members.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cluster.config.hacf import parse_hacf
from cluster.config.haresources import parse_haresources
from cluster.crmd.policy import (
    DEFAULT_FAILURE_THRESHOLD,
    Fence,
    Plan,
    PolicyConfig,
    Restart,
    Start,
    Stop,
    decide,
)
from cluster.crmd.state import ClusterState, GroupState, GroupStatus, NodeInfo, NodeReport, View

CASES = Path(__file__).parent / "crmd"
NAMES = sorted(p.name for p in CASES.iterdir() if (p / "state.json").exists())


def _group(value: str | dict[str, Any]) -> GroupStatus:
    if isinstance(value, str):
        return GroupStatus(GroupState(value))
    return GroupStatus(GroupState(value["state"]), value.get("fail_count", 0),
                       value.get("since", 0))


def _report(data: dict[str, Any]) -> NodeReport:
    return NodeReport(
        instance=data["instance"], joined=data.get("joined", 1),
        groups={key: _group(value) for key, value in data.get("groups", {}).items()},
        leaving=data.get("leaving", False), standby=data.get("standby", ""),
        wants=frozenset(data.get("wants", ())), standby_seq=data.get("standby_seq", 0))


def load_case(directory: Path) -> tuple[ClusterState, PolicyConfig]:
    ha = parse_hacf((directory / "ha.cf").read_text(), "ha.cf")
    groups = parse_haresources((directory / "haresources").read_text(), "haresources", ha.nodes)
    data = json.loads((directory / "state.json").read_text())
    view = None
    if data.get("view") is not None:
        v = data["view"]
        view = View(v["instance"], frozenset(v["members"]), v.get("quorate", True))
    members = view.members if view is not None else frozenset()
    nodes = {}
    for name in sorted(set(ha.nodes) | set(data.get("nodes", {})) | members):
        raw = data.get("nodes", {}).get(name, {})
        member = name in members
        report = _report(raw["report"]) if raw.get("report") else None
        nodes[name] = NodeInfo(
            name, member=member, report=report,
            member_since=raw.get("member_since", 1 if member else None),
            fenced=raw.get("fenced", False), abandoned=frozenset(raw.get("abandoned", ())))
    state = ClusterState(data["local"], data.get("now", 0.0), view, nodes,
                         frozenset(tuple(pair) for pair in data.get("in_flight", ())),
                         data.get("started", float("-inf")))
    config = PolicyConfig(groups, ha.nodes, ha.auto_failback,
                          bool(ha.stonith_hosts or ha.stonith),
                          data.get("failure_threshold", DEFAULT_FAILURE_THRESHOLD),
                          ha.initdead)
    return state, config


def _action(action: Start | Stop | Restart | Fence) -> dict[str, Any]:
    if isinstance(action, Fence):
        return {"action": "fence", "node": action.node, "reason": action.reason}
    verb = {Start: "start", Stop: "stop", Restart: "restart"}[type(action)]
    out: dict[str, Any] = {"action": verb, "group": action.group, "node": action.node,
                           "reason": action.reason}
    if isinstance(action, Start) and action.taken_from:
        out["taken_from"] = list(action.taken_from)
    return out


def plan_json(plan: Plan) -> dict[str, Any]:
    return {"dc": plan.dc, "instance": plan.instance,
            "actions": [_action(a) for a in plan.actions], "notes": list(plan.notes),
            "unprotected": list(plan.unprotected)}


def test_there_are_cases() -> None:
    assert len(NAMES) >= 20


@pytest.mark.parametrize("name", NAMES)
def test_scenario(name: str, update_golden: bool) -> None:
    directory = CASES / name
    state, config = load_case(directory)
    got = plan_json(decide(state, config))
    expected_path = directory / "expected.json"
    if update_golden or not expected_path.exists():
        expected_path.write_text(json.dumps(got, indent=2) + "\n")
        if not update_golden:
            pytest.fail(f"{expected_path} did not exist; written, review it")
        return
    expected = json.loads(expected_path.read_text())
    assert got == expected, f"{name}: plan differs from {expected_path} (--update-golden?)"


@pytest.mark.parametrize("name", NAMES)
def test_scenario_is_deterministic(name: str) -> None:
    state, config = load_case(CASES / name)
    assert decide(state, config) == decide(state, config)
