"""Golden scenarios: ``--update-golden`` rewrites expected files instead of comparing.

    python -m pytest tests/scenarios --update-golden

Review reads the diff of the rewritten files: a changed decision or reason
shows up there, line by line.  (pytest only reads options from conftest files
it loads at start-up, so name this directory on the command line.)
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/scenarios/**/expected.json from the current code")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
