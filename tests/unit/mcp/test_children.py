"""The child table: the web dashboard is started for a ``web`` line, last."""

from __future__ import annotations

import os
from pathlib import Path

from cluster.config.confdir import load_config
from cluster.mcp.children import child_table
from cluster.runtime.paths import NodePaths

HA_CF = "bcast eth0\nnode alice bob\nauto_failback off\nlogfile /var/log/ha-log\n"


def _table(tmp_path: Path, extra: str) -> list[str]:
    (tmp_path / "ha.cf").write_text(HA_CF + extra)
    keys = tmp_path / "authkeys"
    keys.write_text("auth 1\n1 sha1 secret\n")
    os.chmod(keys, 0o600)
    paths = NodePaths(tmp_path, tmp_path / "run", tmp_path / "state", tmp_path / "log")
    return [child.name for child in child_table(load_config(tmp_path, "alice"), paths)]


def test_no_web_line_no_dashboard(tmp_path: Path) -> None:
    assert "web" not in _table(tmp_path, "")


def test_web_line_starts_the_dashboard_last_among_builtins(tmp_path: Path) -> None:
    names = _table(tmp_path, "web 0.0.0.0:7630\nrespawn hacluster /bin/true\n")
    assert names == ["hbcomm", "ccm", "crmd", "web", "respawn:true"]
