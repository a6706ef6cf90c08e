"""Lab-tier fixtures: a fresh `Lab` per test, and the `lab` marker on every test here.

The fixture skips (never silently passes) when the host cannot run namespaces:
not root, iproute2/nftables/util-linux missing, or `ip netns add` refused. The
lab is closed in the finalizer, which runs for failures, pytest-timeout
(signal method) and Ctrl-C; whatever escapes that (SIGKILL, os._exit) is
removed by the stale sweeper when the next lab starts. A lab that cannot be
removed completely fails the test in teardown.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.lab import Lab, LabUnavailable

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test collected under tests/lab with `lab`."""
    for item in items:
        if _HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.lab)


@pytest.fixture
def lab() -> Iterator[Lab]:
    """A new, empty lab; closed (and checked to be gone) after the test."""
    try:
        new_lab = Lab()
    except LabUnavailable as exc:
        pytest.skip(f"lab tests need root and network namespaces: {exc}")
    try:
        yield new_lab
    finally:
        new_lab.close()
