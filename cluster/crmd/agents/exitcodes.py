"""Exit codes and status text of agent programs -> :class:`Outcome`.

Role: pure mapping functions, one per convention (reference: pacemaker.md 1.3
and 2.1, heartbeat.md 2.3). Inputs: an exit status (negative when a signal
killed the program) and the action; for ``status`` also the program's stdout.
Output: an :class:`Outcome`. No I/O; used by ``ocf.py`` and ``script.py``.

* OCF (every action): 0 ok; 7 not running on ``monitor``, tolerated as ok on
  ``stop`` (the resource *is* stopped) and a failure on ``start``; 2/3/4/5 hard
  errors, 6 fatal, 190/191 (degraded) count as ok; 8 ("running promoted", only
  meaningful for promotable clones, which we do not have) counts as running;
  1, 9 and anything else is a soft failure.
* LSB non-status actions: the same numbers 0-7 (7 on ``stop`` is ok as well).
* LSB/Heartbeat ``status``: Heartbeat's ResourceManager reads only the text:
  "not ... running" or "stopped" means stopped, "running" or "OK" means running.
  LSB reads only the code: 0 running, 1-3 not running, 4 unknown. We honour
  both, text first where it is decisive, as :func:`status_outcome` explains.
"""

from __future__ import annotations

import re

from cluster.crmd.agents.protocol import Outcome

__all__ = ["lsb_outcome", "ocf_outcome", "status_outcome"]

_COMMON = {
    0: Outcome.OK,
    1: Outcome.FAILED,
    2: Outcome.INVALID_ARGS,
    3: Outcome.UNIMPLEMENTED,
    4: Outcome.NO_PERMISSION,
    5: Outcome.NOT_INSTALLED,
    6: Outcome.CONFIG_ERROR,
}
_OCF_EXTRA = {8: Outcome.OK, 190: Outcome.OK, 191: Outcome.OK}
_STATUS_OTHER = {150: Outcome.NOT_INSTALLED, 151: Outcome.NO_PERMISSION}

# Heartbeat's ResourceManager matches case-insensitively: "not <anything> running"
# first (stopped), then "running" or "OK" (running). "stopped" is the LSB word.
_STOPPED_TEXT = re.compile(r"\bnot\b.*\brunning\b|\bstopped\b|\bdead\b", re.IGNORECASE)
_RUNNING_TEXT = re.compile(r"\brunning\b|\bok\b", re.IGNORECASE)


def ocf_outcome(rc: int, action: str) -> Outcome:
    """The outcome of an OCF agent that exited ``rc`` for ``action``."""
    if rc == 7:
        return _not_running(action)
    return _COMMON.get(rc) or _OCF_EXTRA.get(rc) or Outcome.FAILED


def lsb_outcome(rc: int, action: str) -> Outcome:
    """The outcome of an init script's ``start``/``stop`` that exited ``rc``."""
    if rc == 7:
        return _not_running(action)
    return _COMMON.get(rc, Outcome.FAILED)


def status_outcome(rc: int, stdout: str) -> Outcome:
    """The outcome of ``script status``, from its exit status and its stdout.

    1. Text saying it is stopped ("not running", "stopped", "dead") wins: both
       Heartbeat and a human reader take that as stopped, whatever the code.
    2. Code 0: running (LSB). Code 3: not running (LSB's explicit answer).
    3. Text saying "running" or "OK": running, whatever the code (Heartbeat
       ignored the code; old resource.d scripts exit with anything).
    4. Codes 1 and 2 (LSB: dead, pid or lock file left): not running.
    5. 4 (unknown) and every other code: failed, an unknown state the cluster
       must clean up; Pacemaker's 150/151: not installed / no privilege.
    """
    if _STOPPED_TEXT.search(stdout):
        return Outcome.NOT_RUNNING
    if rc == 0:
        return Outcome.OK
    if rc == 3:
        return Outcome.NOT_RUNNING
    if _RUNNING_TEXT.search(stdout):
        return Outcome.OK
    if rc in (1, 2):
        return Outcome.NOT_RUNNING
    return _STATUS_OTHER.get(rc, Outcome.FAILED)


def _not_running(action: str) -> Outcome:
    if action == "monitor":
        return Outcome.NOT_RUNNING
    # A stop that finds the resource already stopped has done its job (OCF and
    # LSB both require stop on stopped to succeed); a start that leaves it
    # stopped has failed.
    return Outcome.OK if action == "stop" else Outcome.FAILED
