"""32 nodes on one machine: every node's ccm agrees on all 32, and hbcomm on all 32 active.

Thirty-two namespace nodes on one LAN, each running the whole stack
(cluster-mcp: hbcomm, ccm, crmd) without resources, all started at once.
That is some 130 Python processes on a shared 2-core box, and every hbcomm
hears 31 peers, so the timings are Heartbeat's classic ones (keepalive 1 s,
deadtime 10 s) rather than the lab's tight ones: this test is about size, not
speed (``python3 -m bench`` measures speed).  Views are read with GetView and
GetNodes from outside; nothing sleeps hoping for absence.
"""

from __future__ import annotations

import pytest

from cluster.bus.client import BusError, request
from cluster.bus.messages.ccm import GetView, ViewChanged
from cluster.bus.messages.hbcomm import GetNodes, NodesResult
from cluster.lab import Lab, Node
from cluster.lab.waiting import wait_for

SIZE = 32
_AGREE_TIMEOUT = 300.0  # ~130 interpreters starting on 2 shared cores, then one ccm round


def _ha_cf(names: list[str]) -> str:
    return ("keepalive 1\ndeadtime 10\nwarntime 5\ninitdead 30\nauto_failback off\n"
            f"bcast eth0\nnode {' '.join(names)}\n")


def _ask(node: Node, daemon: str, msg: object) -> object:
    try:
        return request(node.run_dir, daemon, msg, timeout=2.0)
    except BusError:
        return None


def _disagreeing(nodes: list[Node], members: tuple[str, ...]) -> list[str]:
    """Nodes whose ccm has no formed view of exactly `members`, or whose hbcomm
    does not see every node active."""
    wrong = []
    for node in nodes:
        view = _ask(node, "ccm", GetView())
        seen = _ask(node, "hbcomm", GetNodes())
        if not (isinstance(view, ViewChanged) and view.formed and view.members == members
                and isinstance(seen, NodesResult)
                and all(n.status == "active" for n in seen.nodes)):
            wrong.append(node.name)
    return wrong


@pytest.mark.timeout(_AGREE_TIMEOUT + 240)
def test_32_nodes_agree_on_membership(lab: Lab) -> None:
    names = [f"n{i}" for i in range(1, SIZE + 1)]
    lan = lab.add_lan("hb")
    nodes = [lab.add_node(name, [lan]) for name in names]
    for node in nodes:
        node.write_config(ha_cf=_ha_cf(names))
    for node in nodes:
        node.start_stack()
    members = tuple(sorted(names))
    try:
        wait_for(lambda: not _disagreeing(nodes, members), _AGREE_TIMEOUT, interval=1.0)
    except TimeoutError:
        wrong = _disagreeing(nodes, members)
        pytest.fail(f"{len(wrong)} of {SIZE} nodes never agreed on all {SIZE}: "
                    f"{', '.join(wrong)}")
    views = {_ask(node, "ccm", GetView()) for node in nodes}
    assert len(views) == 1, "every node's ccm must hold the same view (same generation)"
