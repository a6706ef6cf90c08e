"""crmd's respawn memory file: round trip, and anything unreadable starts clean."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cluster.bus.messages.crmd import FailedAction
from cluster.crmd.memory import MemoryFile, RespawnMemory
from cluster.mcp.main import _remove_leftovers
from cluster.runtime.paths import NodePaths

FAILED = FailedAction("node1", "IPaddr::10.0.0.1", "httpd", "lsb:httpd", "start", 0.0,
                      "failed", 1, "exit 1", 1.7e9, 0.2)


def test_round_trip(tmp_path: Path) -> None:
    memory = RespawnMemory("all", 4, ("g1",), {"g1": 2}, (FAILED,))
    MemoryFile(tmp_path / "crmd.state").save(memory)
    assert MemoryFile(tmp_path / "crmd.state").load() == memory


def test_missing_file_is_a_clean_start(tmp_path: Path) -> None:
    assert MemoryFile(tmp_path / "crmd.state").load() == RespawnMemory()


@pytest.mark.parametrize("content", [b"", b"\xc1garbage", b"\x93\x01\x02\x03"])
def test_unreadable_file_is_logged_and_ignored(tmp_path: Path, content: bytes,
                                               caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "crmd.state"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING):
        assert MemoryFile(path).load() == RespawnMemory()
    assert f"ignoring {path}" in caplog.text


def test_a_new_run_of_the_stack_starts_without_it(tmp_path: Path) -> None:
    """cluster-mcp empties the run directory's sockets and respawn state at start."""
    run = tmp_path / "run"
    MemoryFile(run / "crmd.state").save(RespawnMemory("all", 1))
    (run / "notes.txt").write_text("not ours")
    _remove_leftovers(NodePaths(tmp_path / "conf", run, tmp_path / "state", tmp_path / "log"))
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]
