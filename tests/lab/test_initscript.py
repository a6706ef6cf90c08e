"""contrib/init.d/heartbeat, the LSB init script, against a real stack in a node.

Acceptance (issue #14 part 4): start -> status 0 with the resource up;
reload with a broken haresources exits 1 naming file:line and the stack is
unchanged (same processes, resource still up, no reload in the MCP's log);
a good reload reaches the MCP; a crashed MCP leaves status 1 (dead, pid file
left); stop -> status 3 and nothing left in the node. The script finds the
node's directories and the stack's command through a defaults file, as an
admin's /etc/default/heartbeat would give them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cluster.lab import Lab, Node
from cluster.lab.probes import cli_tool
from cluster.lab.waiting import stays, wait_for
from cluster.mcp.template import TITLE as TEMPLATE_TITLE

pytestmark = pytest.mark.lab

SCRIPT = Path(__file__).resolve().parents[2] / "contrib" / "init.d" / "heartbeat"
MCP_TITLE = "cluster: master control process"
CHILD_TITLES = {"cluster: hbcomm", "cluster: ccm", "cluster: crmd"}
HA_CF = "keepalive 100ms\ndeadtime 500ms\ninitdead 1\nbcast eth0\nnode solo\n"
_TIMEOUT = 30.0


def _init(node: Node, action: str, settings: str = "") -> subprocess.CompletedProcess[str]:
    """Run the script's `action`; `settings` are more lines of the defaults file."""
    defaults = node.dir / "heartbeat.default"
    defaults.write_text(
        f'CLUSTER_MCP="{sys.executable} -m cluster.mcp"\n'
        f"HA_CONF_DIR={node.conf_dir}\nHA_RUN_DIR={node.run_dir}\n"
        f'HA_OPTIONS="--node {node.name} --state-dir {node.state_dir} '
        f'--log-dir {node.log_dir}"\n{settings}')  # fmt: skip
    env = {"HEARTBEAT_DEFAULTS": str(defaults), "HA_RSCTMP": str(node.run_dir / "ra")}
    return node.run(["/bin/sh", str(SCRIPT), action], env=env, check=False, timeout=120)


def _stack(node: Node) -> dict[int, str]:
    """The node's cluster daemons: pid -> title.  The process template is left out:
    it lives only while the stack starts, so it may exit between two looks."""
    return {pid: line for pid, line in node.processes().items()
            if line.startswith("cluster: ") and line != "cluster: process template"}


def test_lsb_actions_drive_a_real_stack_and_a_bad_reload_changes_nothing(lab: Lab) -> None:
    lan = lab.add_lan("lan0")
    node = lab.add_node("solo", [lan])
    vip = lan.host(200)
    good = f"solo IPaddr::{vip}/24/eth0\n"
    node.write_config(ha_cf=HA_CF, haresources=good)

    assert _init(node, "status").returncode == 3
    started = _init(node, "start")
    assert started.returncode == 0, started.stderr
    assert "started (pid" in started.stdout
    wait_for(lambda: node.has_address(vip), _TIMEOUT, message="the resource never came up")
    status = _init(node, "status")
    assert status.returncode == 0 and "is running (pid" in status.stdout
    assert _init(node, "start").returncode == 0  # already running: LSB says success

    before = _stack(node)
    assert MCP_TITLE in before.values() and "cluster: crmd" in before.values()
    (node.conf_dir / "haresources").write_text("solo IPaddr::999.1.1.1/24\n")
    bad = _init(node, "reload")
    assert bad.returncode == 1
    assert f"{node.conf_dir}/haresources:1" in bad.stderr, bad.stderr
    assert _stack(node) == before
    assert node.has_address(vip)
    assert "configuration re-read" not in node.daemon_log("mcp")
    assert _init(node, "force-reload").returncode == 1
    assert _init(node, "restart").returncode == 6  # checked before stopping anything
    assert _stack(node) == before

    (node.conf_dir / "haresources").write_text(good)
    assert _init(node, "reload").returncode == 0
    wait_for(lambda: "configuration re-read" in node.daemon_log("mcp"), _TIMEOUT,
             message="a good reload did not reach the MCP")  # fmt: skip
    assert _stack(node).keys() & before.keys()  # reloaded, not restarted

    stopped = _init(node, "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert _init(node, "status").returncode == 3
    assert not node.has_address(vip)
    wait_for(lambda: not node.pids(), 10, message="processes left in the node")
    assert _init(node, "stop").returncode == 0  # stopping a stopped service succeeds
    assert _init(node, "try-restart").returncode == 0 and not node.pids()
    assert _init(node, "reload").returncode == 7


def test_a_crashed_mcp_is_dead_with_a_pid_file_and_starts_again(lab: Lab) -> None:
    """kill -9 of cluster-mcp: status says dead (1); its children run on unsupervised
    (no watchdog here) until the next start, which stops them before it starts one
    stack of its own: never two hbcomms or crmds on one node."""
    lan = lab.add_lan("lan0")
    node = lab.add_node("solo", [lan])
    node.write_config(ha_cf=HA_CF)
    assert _init(node, "start").returncode == 0
    wait_for(lambda: set(_stack(node).values()) >= CHILD_TITLES, _TIMEOUT,
             message="the stack's daemons started")
    old = _stack(node)
    mcp = next(pid for pid, title in old.items() if title == MCP_TITLE)
    os.kill(mcp, signal.SIGKILL)
    wait_for(lambda: mcp not in node.pids(), 10, message="the MCP outlived SIGKILL")
    dead = _init(node, "status")
    assert dead.returncode == 1 and "dead" in dead.stdout
    # The process template (while the stack starts) goes with its MCP: its socket closes.
    orphans = {pid for pid, title in old.items() if title not in (MCP_TITLE, TEMPLATE_TITLE)}
    assert orphans <= set(_stack(node)), "the children were expected to outlive their MCP"
    assert _init(node, "start").returncode == 0
    wait_for(lambda: set(_stack(node).values()) >= CHILD_TITLES, _TIMEOUT,
             message="the new stack's daemons started")
    now = _stack(node)
    assert not orphans & set(now), f"orphans still running: {orphans & set(now)}"
    titles = sorted(now.values())
    assert len(titles) == len(set(titles)), f"two stacks on one node: {titles}"
    assert "outlived the master control process" in node.daemon_log("mcp")
    assert _init(node, "status").returncode == 0
    assert _init(node, "stop").returncode == 0
    assert _init(node, "status").returncode == 3
    assert _init(node, "frobnicate").returncode == 2


def test_a_standby_start_state_in_the_defaults_keeps_the_node_out_until_lifted(
        lab: Lab) -> None:
    lan = lab.add_lan("lan0")
    node = lab.add_node("solo", [lan])
    vip = lan.host(200)
    node.write_config(ha_cf=HA_CF, haresources=f"solo IPaddr::{vip}/24/eth0\n")
    started = _init(node, "start", "HA_NODE_START_STATE=standby\n")
    assert started.returncode == 0, started.stderr
    wait_for(lambda: "Node solo: standby" in cli_tool(node, "crm_status").stdout, _TIMEOUT,
             message="the node did not come up in standby")
    assert cli_tool(node, "crm_standby", "-N", "solo", "-G", "-Q").stdout == "on\n"
    stays(lambda: f"{vip} was started in standby" if node.has_address(vip) else None, 3.0)
    assert cli_tool(node, "crm_standby", "-N", "solo", "-v", "off").returncode == 0
    wait_for(lambda: node.has_address(vip), _TIMEOUT, message="not started once online")
    assert _init(node, "stop").returncode == 0
