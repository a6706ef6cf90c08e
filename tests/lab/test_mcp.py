"""The master control process on a one-node stack in a namespace.

Acceptance of the foundation: every daemon runs under its own title; a
`kill -9` of any child brings it back within a second with a log line; a
`respawn` child that exits 100 stays down; SIGTERM stops everything within
5 s and leaves no process and no socket behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from cluster.lab import Lab, Node
from cluster.lab.waiting import wait_for

HA_CF = """\
keepalive 100ms
deadtime 500ms
warntime 300ms
initdead 1
auto_failback off
bcast eth0
node solo
respawn root /bin/sleep 1000
respawn root /bin/sh -c "exit 100"
"""

BUILTIN_TITLES = {
    "hbcomm": "cluster: hbcomm",
    "ccm": "cluster: ccm",
    "crmd": "cluster: crmd",
}
MCP_TITLE = "cluster: master control process"


def _pids_by_title(node: Node) -> dict[str, int]:
    found: dict[str, int] = {}
    for pid, line in node.processes().items():
        if line == MCP_TITLE:
            found["mcp"] = pid
        for name, title in BUILTIN_TITLES.items():
            if line == title:
                found[name] = pid
        if line.startswith("/bin/sleep 1000"):
            found["sleeper"] = pid
    return found


def _mcp_log(node: Node) -> str:
    path = node.log_dir / "mcp.log"
    return path.read_text() if path.exists() else ""


def _start(lab: Lab) -> tuple[Node, subprocess.Popen[bytes]]:
    lan = lab.add_lan("hb")
    node = lab.add_node("solo", [lan])
    node.write_config(ha_cf=HA_CF)
    mcp = node.start_stack()
    wait_for(lambda: {"mcp", "sleeper", *BUILTIN_TITLES} <= set(_pids_by_title(node)),
             timeout=20, message="stack did not come up with every title")
    return node, mcp


def test_every_child_is_respawned_after_kill_9(lab: Lab) -> None:
    node, mcp = _start(lab)
    for name in ("hbcomm", "ccm", "crmd", "sleeper"):
        old = _pids_by_title(node)[name]
        os.kill(old, signal.SIGKILL)
        wait_for(lambda n=name, o=old: _pids_by_title(node).get(n) not in (None, o),
                 timeout=1.0, interval=0.01, message=f"{name} was not respawned within 1 s")
        wait_for(lambda o=old: f"(pid {o}) killed by SIGKILL" in _mcp_log(node), timeout=5,
                 message=f"no log line for the death of {name}")
    assert "respawned child hbcomm" in _mcp_log(node)
    # The child that exited 100 was never restarted.
    log = _mcp_log(node)
    assert log.count("started child respawn:sh") == 1
    assert "exit status 100 asks not to be respawned" in log
    assert mcp.poll() is None


def test_sigterm_stops_everything_and_leaves_no_socket(lab: Lab) -> None:
    node, mcp = _start(lab)
    wanted = {"mcp.ctl", "hbcomm.ctl", "ccm.ctl", "crmd.ctl"}
    wait_for(lambda: wanted <= {p.name for p in node.run_dir.iterdir()}, timeout=10,
             message="every daemon bound its control socket")
    mcp.send_signal(signal.SIGTERM)
    assert mcp.wait(timeout=5) == 0
    wait_for(lambda: not node.pids(), timeout=5, message="processes left in the node")
    assert list(node.run_dir.iterdir()) == []
    assert "all children stopped; master control process exiting" in _mcp_log(node)


def test_bad_config_exits_2_naming_file_and_line(lab: Lab) -> None:
    lan = lab.add_lan("hb")
    node = lab.add_node("solo", [lan])
    node.write_config(ha_cf=HA_CF.replace("keepalive 100ms", "keepalive fast"))
    result = node.run([*_mcp_argv(node)], check=False)
    assert result.returncode == 2
    assert f"{node.conf_dir}/ha.cf:1:" in result.stderr
    assert "keepalive" in result.stderr


def _mcp_argv(node: Node) -> list[str]:
    return [sys.executable, "-m", "cluster.mcp", "-c", str(node.conf_dir), "--node", node.name,
            "--run-dir", str(node.run_dir), "--state-dir", str(node.state_dir),
            "--log-dir", str(node.log_dir)]
