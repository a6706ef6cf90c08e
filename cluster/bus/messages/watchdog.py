"""Messages of the watchdog keeper (``watchdog.ctl``).

The keeper feeds the hardware watchdog only while the master control
process answers Ping.  It closes the device with the magic ``V`` (disarming
it) only after an orderly shutdown: the MCP sends WatchdogDisarm, with its
own pid, before it stops its children; the keeper accepts it only from its
parent and, when SIGTERM follows while that parent is still alive, writes
``V``.  A SIGTERM without it (a killed MCP's children being cleaned up by
systemd, an operator's kill) closes the device armed, so the node resets.
"""

from __future__ import annotations

from dataclasses import dataclass

from cluster.bus.catalogue import message


@message
@dataclass(frozen=True, slots=True)
class WatchdogDisarm:
    """The stack is stopping in order: the next SIGTERM may close with ``V``.

    Answered OkResult, or ErrorResult("refused") when `mcp_pid` is not the
    keeper's parent.
    """

    mcp_pid: int
