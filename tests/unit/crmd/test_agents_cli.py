"""``python -m cluster.crmd.agents``: one operation from the command line (real process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .agentkit import write_script

pytestmark = pytest.mark.slow  # each case starts a Python interpreter


def _cli(conf: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "cluster.crmd.agents", *args, "--config-dir", str(conf)]
    env = {**os.environ, "T": str(conf)}
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, check=False)


def test_cli_exit_status_follows_the_outcome(tmp_path: Path) -> None:
    write_script(tmp_path / "resource.d" / "svc", """
        case "$1" in
        start) touch "$T/up" ;;
        stop) rm -f "$T/up" ;;
        status) [ -e "$T/up" ] && echo running && exit 0; echo stopped; exit 3 ;;
        esac
    """)  # fmt: skip
    done = _cli(tmp_path, "svc", "status")
    assert (done.returncode, done.stdout.split(":")[0]) == (7, "monitor svc")
    assert "not running" in done.stdout
    done = _cli(tmp_path, "svc", "start")
    assert done.returncode == 0 and done.stdout.startswith("start svc: ok in ")
    assert _cli(tmp_path, "svc", "monitor").returncode == 0
    assert _cli(tmp_path, "svc", "stop").returncode == 0
    done = _cli(tmp_path, "missing", "start")
    assert done.returncode == 1 and "not installed" in done.stdout
    done = _cli(tmp_path, "svc", "reannounce")
    assert done.returncode == 2 and "announces no address" in done.stderr


def test_cli_rejects_a_bad_token(tmp_path: Path) -> None:
    done = _cli(tmp_path, "IPaddr::10.0.0.500", "start")
    assert done.returncode == 2 and "10.0.0.500" in done.stderr
