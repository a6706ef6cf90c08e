"""ccm between real namespaces: three nodes agree, lose one, split and heal, restart ccm.

Every node runs the whole stack (cluster-mcp: hbcomm, ccm, crmd) without
resources.  Views are read with GetView from outside and watched on ccm.pub
with EventLog; nothing sleeps hoping for absence.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable

import pytest

from cluster.bus.client import request
from cluster.bus.messages.ccm import GetView, ViewChanged
from cluster.lab import Lab, Lan, Node
from cluster.lab.events import EventLog
from cluster.lab.waiting import wait_for

HA_CF = """\
keepalive 200ms
deadtime 1
warntime 500ms
initdead 3
auto_failback off
bcast eth0
node n1 n2 n3
"""
_SETTLE = 20.0  # generous: initdead, deadtime and a few rounds on a loaded host


def view(node: Node) -> ViewChanged | None:
    try:
        reply = request(node.run_dir, "ccm", GetView(), timeout=1.0)
    except Exception:
        return None
    assert isinstance(reply, ViewChanged)
    return reply


def agreed(nodes: Iterable[Node], members: tuple[str, ...]) -> ViewChanged | None:
    """The common view of `nodes` when each has exactly `members`, else None."""
    views = {view(node) for node in nodes}
    if len(views) != 1:
        return None
    common = views.pop()
    return common if common is not None and common.formed and common.members == members \
        else None


def wait_agreed(nodes: list[Node], members: tuple[str, ...], message: str) -> ViewChanged:
    common = wait_for(lambda: agreed(nodes, members), timeout=_SETTLE, message=message)
    assert common is not None
    return common


@pytest.fixture
def trio(lab: Lab) -> tuple[list[Node], Lan]:
    hb = lab.add_lan("hb")
    nodes = [lab.add_node(name, [hb]) for name in ("n1", "n2", "n3")]
    for node in nodes:
        node.write_config(ha_cf=HA_CF)
        node.start_stack()
    wait_agreed(nodes, ("n1", "n2", "n3"), "the three nodes never agreed")
    return nodes, hb


def test_death_and_return_of_a_node(trio: tuple[list[Node], Lan]) -> None:
    (n1, n2, n3), _hb = trio
    first = view(n1)
    assert first is not None and first.quorate and first.leader == "n1"
    n3.power_off()
    pair = wait_agreed([n1, n2], ("n1", "n2"), "survivors never agreed")
    assert pair.instance > first.instance and pair.quorate
    log = (n1.log_dir / "ccm.log").read_text()
    assert f"membership instance {pair.instance}: n1 n2 (quorate)" in log
    assert "agreed in" in log
    n3.power_on()
    n3.start_stack()
    back = wait_agreed([n1, n2, n3], ("n1", "n2", "n3"), "n3 never came back")
    assert back.instance > pair.instance


def test_partition_loses_quorum_on_the_small_side_and_heals(
        trio: tuple[list[Node], Lan]) -> None:
    (n1, n2, n3), hb = trio
    before = view(n1)
    assert before is not None
    with EventLog(n3.run_dir, "ccm", ["view"]) as on_n3:
        n3.block(hb)
        pair = wait_agreed([n1, n2], ("n1", "n2"), "the majority never agreed")
        alone = wait_agreed([n3], ("n3",), "n3 never formed itself")
        assert pair.quorate and not alone.quorate
        assert min(pair.instance, alone.instance) > before.instance
        n3.unblock(hb)
        healed = wait_agreed([n1, n2, n3], ("n1", "n2", "n3"), "the partition never healed")
        assert healed.instance > max(pair.instance, alone.instance)
        instances = [e.msg.instance for e in on_n3.events() if isinstance(e.msg, ViewChanged)]
    assert instances == sorted(instances)  # never backwards on n3


def test_killed_ccm_is_respawned_and_does_not_go_back(trio: tuple[list[Node], Lan]) -> None:
    (n1, n2, _n3), _hb = trio
    before = view(n2)
    assert before is not None
    pid = next(pid for pid, line in n2.processes().items() if line == "cluster: ccm")
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: any(line == "cluster: ccm" and p != pid
                         for p, line in n2.processes().items()),
             timeout=_SETTLE, message="ccm not respawned")
    after = wait_agreed([n1, n2], ("n1", "n2", "n3"), "views differ after the ccm restart")
    assert after.instance > before.instance
    assert int((n2.state_dir / "ccm_instance").read_text()) >= after.instance
