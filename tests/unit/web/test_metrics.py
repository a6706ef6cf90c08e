"""/metrics text: families, escaping, and (where installed) promtool's verdict."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest

from cluster.web.metrics import render

PICTURE: dict[str, Any] = {
    "quorate": True, "instance": 3,
    "nodes": [{"name": "a", "state": "online", "dc": True,
               "links": [{"name": "eth1", "status": "up"}, {"name": "/dev/ttyS0",
                                                            "status": "dead"}]},
              {"name": "b", "state": "offline", "dc": False, "links": []}],
    "groups": [{"key": 'IPaddr::10.0.0.1 "web"', "node": "a"}],
    "fail_counts": [{"node": "a", "group": "g", "count": 2}],
    "failed_actions": [{}],
}
HOSTS = {"a": {"cpu": 12.5, "load": [0.5, 0.4, 0.3], "mem_used": 123456789012,
               "mem_total": 223456789012}}


def test_values_and_labels() -> None:
    text = render(PICTURE, HOSTS, 2, 0.75)
    assert 'cluster_node_online{node="b"} 0' in text
    assert 'cluster_link_up{node="a",link="/dev/ttyS0"} 0' in text
    assert 'cluster_group_running{group="IPaddr::10.0.0.1 \\"web\\"",node="a"} 1' in text
    assert "cluster_failovers_total 2" in text
    assert "cluster_last_failover_seconds 0.75" in text
    assert 'cluster_host_memory_used_bytes{node="a"} 123456789012' in text   # no rounding


def test_without_a_picture() -> None:
    text = render(None, {}, 0, None)
    assert "cluster_status_known 0" in text and "cluster_quorate" not in text


@pytest.mark.skipif(shutil.which("promtool") is None, reason="needs promtool (prometheus)")
def test_promtool_accepts_it() -> None:
    for text in (render(PICTURE, HOSTS, 2, 0.75), render(None, {}, 0, None)):
        done = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                              capture_output=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
