"""The built-in cluster monitor: crmd's status judged as a Mon outcome."""

from __future__ import annotations

from cluster.bus.messages.crmd import FailedAction, NodeState, ResourceState, StatusResult
from cluster.mon.builtins import ClusterOptions
from cluster.mon.clusterview import judge, unavailable


def node(name: str, state: str = "online", unclean: bool = False) -> NodeState:
    return NodeState(name=name, state=state, member=state != "offline", leaving=False,
                     standby="", unclean=unclean)  # fmt: skip


def resource(rid: str, state: str, where: str | None) -> ResourceState:
    return ResourceState(id=rid, token=rid, group="web", agent="IPaddr", state=state, node=where)


def status(nodes: list[NodeState], resources: list[ResourceState],
           failed: tuple[FailedAction, ...] = ()) -> StatusResult:  # fmt: skip
    return StatusResult(local="n1", dc="n1", instance=3, members=("n1",), quorate=True,
                        formed=True, stonith=False, nodes=tuple(nodes), groups=("web",),
                        resources=tuple(resources), failed_actions=failed, notices=())  # fmt: skip


ALL = ClusterOptions()


def test_all_online_and_started_is_ok() -> None:
    outcome = judge(status([node("n1"), node("n2")], [resource("ip", "started", "n1")]), [], ALL)
    assert outcome.ok and outcome.summary == ""
    assert "n2" in outcome.detail and "started on n1" in outcome.detail


def test_a_dead_node_fails_and_is_named() -> None:
    current = status([node("n1"), node("n2", "offline", unclean=True)], [])
    outcome = judge(current, [], ALL)
    assert outcome.retval == 1 and outcome.summary == "n2"
    assert "offline, unclean (not fenced)" in outcome.detail
    # Only the watched nodes count; a node crmd does not know is a failure.
    assert judge(current, ["n1"], ALL).ok
    assert judge(current, ["n1", "n9"], ALL).summary == "n9"


def test_a_failed_resource_fails_unless_nodes_only() -> None:
    action = FailedAction(node="n1", group="web", resource="ip", agent="IPaddr", action="monitor",
                          interval=10.0, outcome="not running", rc=7, detail="", when=0.0,
                          duration=0.1)  # fmt: skip
    current = status([node("n1")], [resource("ip", "failed", "n1")], (action,))
    outcome = judge(current, [], ALL)
    assert outcome.summary == "ip@n1"
    assert "failed actions:" in outcome.detail
    assert "ip monitor on n1: not running (rc 7)" in outcome.detail
    assert judge(current, [], ClusterOptions(resources=False)).ok
    assert not judge(current, [], ClusterOptions(nodes=False)).ok


def test_crmd_not_answering_is_a_failure() -> None:
    outcome = unavailable("crmd did not answer in time")
    assert not outcome.ok and outcome.summary == "crmd not answering"
