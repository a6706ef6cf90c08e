"""Shared fixtures: short run dirs and tracked ZeroMQ contexts."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq


@pytest.fixture
def run_dir() -> Iterator[Path]:
    """A short directory for ipc:// sockets (sun_path allows only 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="cl-run-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def zctx() -> Iterator[zmq.Context[Any]]:
    """A ZeroMQ context that must be cleanly closed: a leaked socket fails the test."""
    ctx: zmq.Context[Any] = zmq.Context()
    yield ctx
    leaked = [s for s in list(ctx._sockets) if not s.closed]  # type: ignore[attr-defined]
    for sock in leaked:
        sock.close(linger=0)
    ctx.term()
    assert not leaked, f"test leaked {len(leaked)} ZeroMQ socket(s)"
