"""Exit codes and status text -> Outcome, for OCF, LSB and Heartbeat scripts."""

from __future__ import annotations

import pytest

from cluster.crmd.agents.exitcodes import lsb_outcome, ocf_outcome, status_outcome
from cluster.crmd.agents.protocol import Outcome

_O = Outcome


@pytest.mark.parametrize(
    ("rc", "action", "expected"),
    [
        (0, "start", _O.OK),
        (0, "monitor", _O.OK),
        (7, "monitor", _O.NOT_RUNNING),
        (7, "stop", _O.OK),  # stop found it stopped: done
        (7, "start", _O.FAILED),
        (1, "start", _O.FAILED),
        (2, "start", _O.INVALID_ARGS),
        (3, "monitor", _O.UNIMPLEMENTED),
        (4, "start", _O.NO_PERMISSION),
        (5, "start", _O.NOT_INSTALLED),
        (6, "stop", _O.CONFIG_ERROR),
        (8, "monitor", _O.OK),
        (9, "monitor", _O.FAILED),
        (190, "monitor", _O.OK),
        (191, "monitor", _O.OK),
        (42, "start", _O.FAILED),
        (-9, "start", _O.FAILED),
    ],
)
def test_ocf_exit_codes(rc: int, action: str, expected: Outcome) -> None:
    assert ocf_outcome(rc, action) is expected


@pytest.mark.parametrize(
    ("rc", "action", "expected"),
    [
        (0, "start", _O.OK),
        (0, "stop", _O.OK),
        (7, "stop", _O.OK),
        (7, "start", _O.FAILED),
        (1, "stop", _O.FAILED),
        (5, "start", _O.NOT_INSTALLED),
        (6, "start", _O.CONFIG_ERROR),
        (8, "start", _O.FAILED),  # > 7 is a generic error for non-status actions
        (150, "start", _O.FAILED),
    ],
)
def test_lsb_exit_codes(rc: int, action: str, expected: Outcome) -> None:
    assert lsb_outcome(rc, action) is expected


@pytest.mark.parametrize(
    ("rc", "stdout", "expected"),
    [
        (0, "", _O.OK),
        (0, "httpd (pid 42) is running...", _O.OK),
        (3, "", _O.NOT_RUNNING),
        (3, "httpd is stopped", _O.NOT_RUNNING),
        (0, "httpd is stopped", _O.NOT_RUNNING),  # the text decides for Heartbeat
        (0, "httpd is not running", _O.NOT_RUNNING),
        (1, "httpd dead but pid file exists", _O.NOT_RUNNING),
        (1, "", _O.NOT_RUNNING),
        (2, "", _O.NOT_RUNNING),
        (1, "Running OK", _O.OK),  # Heartbeat script: text, not code
        (5, "status: OK", _O.OK),
        (3, "running", _O.NOT_RUNNING),  # LSB's explicit "not running" code wins
        (4, "", _O.FAILED),
        (4, "broken token", _O.FAILED),  # "ok" only as a word
        (150, "", _O.NOT_INSTALLED),
        (151, "", _O.NO_PERMISSION),
        (-9, "", _O.FAILED),
    ],
)
def test_status_mapping(rc: int, stdout: str, expected: Outcome) -> None:
    assert status_outcome(rc, stdout) is expected


def test_hard_and_fatal_outcomes() -> None:
    assert {o for o in Outcome if o.hard} == {
        _O.INVALID_ARGS,
        _O.UNIMPLEMENTED,
        _O.NO_PERMISSION,
        _O.NOT_INSTALLED,
    }
    assert [o for o in Outcome if o.fatal] == [_O.CONFIG_ERROR]
