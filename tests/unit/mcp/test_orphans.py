"""The record of children a killed cluster-mcp leaves, and how a successor stops them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cluster.common.procfs import process_start_time
from cluster.mcp.orphans import RECORD_FILE, record_children, stop_orphans

_IGNORE_TERM = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); " \
               "print('ready', flush=True); time.sleep(60)"


def _child(code: str = "import time; print('ready', flush=True); time.sleep(60)"
           ) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            process_group=0)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    return proc


def _reap(proc: subprocess.Popen[bytes]) -> None:
    proc.kill()
    proc.wait()
    assert proc.stdout is not None
    proc.stdout.close()


def test_recorded_children_are_terminated_and_the_record_removed(tmp_path: Path) -> None:
    proc = _child()
    try:
        record_children(tmp_path, {"hbcomm": proc.pid})
        assert stop_orphans(tmp_path, timeout=10) == ["hbcomm"]
        assert proc.wait(timeout=10) != 0
        assert not (tmp_path / RECORD_FILE).exists()
    finally:
        _reap(proc)


def test_a_child_that_ignores_sigterm_is_killed_after_the_timeout(tmp_path: Path) -> None:
    proc = _child(_IGNORE_TERM)
    try:
        record_children(tmp_path, {"crmd": proc.pid})
        assert stop_orphans(tmp_path, timeout=0.3) == ["crmd"]
        assert proc.wait(timeout=10) == -9
    finally:
        _reap(proc)


def test_a_recycled_pid_is_left_alone(tmp_path: Path) -> None:
    proc = _child()
    try:
        started = process_start_time(proc.pid)
        assert started is not None
        (tmp_path / RECORD_FILE).write_text(f"ccm {proc.pid} {started + 1}\nbad line\n")
        assert stop_orphans(tmp_path, timeout=1) == []
        assert proc.poll() is None
    finally:
        _reap(proc)


def test_no_record_means_nothing_to_stop(tmp_path: Path) -> None:
    assert stop_orphans(tmp_path, timeout=1) == []
