"""The keeper's rules: feed the watchdog only while the MCP answers (sans-I/O).

Inputs (each with ``now``): :meth:`Keeper.tick` every period,
:meth:`Keeper.answered` / :meth:`Keeper.unanswered` for the Ping sent to the
master control process, :meth:`Keeper.disarm` (WatchdogDisarm arrived) and
:meth:`Keeper.terminate` (SIGTERM).  Outputs: :class:`Pet`,
:class:`SendPing`, :class:`Starving` / :class:`Recovered` (for the log) and
:class:`Close`.  The shell (:mod:`cluster.watchdog.service`) does the I/O.

Theory of operation
-------------------
::

    FEEDING  --Ping unanswered or answered by another pid--> STARVING (no more Pet)
    STARVING --Ping answered by our MCP-->                   FEEDING  (Pet at once)
    FEEDING/STARVING --terminate-->                          CLOSED   (Close(magic?))

Every period the keeper sends one Ping to ``mcp.ctl`` (never two at once)
and pets the device when, and only when, the answer comes from the MCP that
started us (its pid is our parent's).  A Ping may take up to
``ping_timeout`` (a third of the device's timeout, at least a period) before
it counts as unanswered, so a busy but live MCP is not declared dead for
one slow answer; the device still fires its timeout after the last pet.  A dead MCP (``kill -9``:
nobody answers, and we are re-parented), a hung one (SIGSTOP, a stuck loop:
no answer) or a different one stops the feeding, and the device resets the
node within its timeout of the last pet.  The period is at most a second
and at most a third of the device's timeout, so a healthy stack pets it
several times per timeout.

Closing: ``Close(magic=True)`` (write ``V``, the device disarms) only when
the MCP announced an orderly shutdown with :meth:`disarm` *and* is still our
parent when SIGTERM arrives; otherwise the device is closed armed.  So a
SIGTERM that follows a ``kill -9`` of the MCP (systemd cleaning up its
children) leaves the node to be reset, and so does a ``kill -9`` of the
keeper itself, unless the MCP respawns a keeper that reopens the device in
time.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

__all__ = ["Close", "Keeper", "KeeperState", "Pet", "Recovered", "SendPing", "Starving",
           "device_timeout", "feed_period", "ping_timeout"]

MIN_PERIOD = 0.1       # never ping the MCP more than 10 times a second
MAX_PERIOD = 1.0


def device_timeout(deadtime: float) -> int:
    """Heartbeat's watchdog timeout: ceil((deadtime + 10 ms) / 1 s) seconds."""
    return max(1, math.ceil(deadtime + 0.010))


def ping_timeout(period: float, timeout: float | None) -> float:
    """How long one Ping may take: a third of the device's timeout, at least a period."""
    return period if timeout is None else max(period, timeout / 3)


def feed_period(keepalive: float, timeout: float | None) -> float:
    """Every keepalive or every second, whichever is smaller, and at most timeout/3."""
    period = min(keepalive, MAX_PERIOD)
    if timeout is not None and timeout > 0:
        period = min(period, timeout / 3)
    return max(period, MIN_PERIOD)


class KeeperState(enum.Enum):
    FEEDING = "FEEDING"
    STARVING = "STARVING"
    CLOSED = "CLOSED"


@dataclass(frozen=True, slots=True)
class Pet:
    """Write a keepalive to the device."""


@dataclass(frozen=True, slots=True)
class SendPing:
    timeout: float


@dataclass(frozen=True, slots=True)
class Starving:
    why: str
    last_pet: float


@dataclass(frozen=True, slots=True)
class Recovered:
    starved_for: float


@dataclass(frozen=True, slots=True)
class Close:
    magic: bool
    why: str


Action = Pet | SendPing | Starving | Recovered | Close

_EDGES = {
    KeeperState.FEEDING: {KeeperState.STARVING, KeeperState.CLOSED},
    KeeperState.STARVING: {KeeperState.FEEDING, KeeperState.CLOSED},
    KeeperState.CLOSED: set(),
}


class Keeper:
    def __init__(self, period: float, mcp_pid: int, now: float,
                 ping_timeout: float | None = None) -> None:
        self.period = period
        self.ping_timeout = max(period, ping_timeout or 0.0)
        self.mcp_pid = mcp_pid
        self.state = KeeperState.FEEDING
        self.last_pet = now
        self.disarmed = False
        self._pinging = False
        self._starving_since = now

    def _move(self, new: KeeperState) -> None:
        if new not in _EDGES[self.state]:
            raise RuntimeError(f"keeper: impossible transition {self.state.value} -> {new.value}")
        self.state = new

    def start(self, now: float) -> list[Action]:
        """Just opened: the MCP that spawned us is alive; pet and ask."""
        self.last_pet = now
        return [Pet(), *self.tick(now)]

    def tick(self, now: float) -> list[Action]:
        if self.state is KeeperState.CLOSED or self._pinging:
            return []
        self._pinging = True
        return [SendPing(self.ping_timeout)]

    def answered(self, pid: int, now: float) -> list[Action]:
        if self.state is KeeperState.CLOSED:
            return []
        self._pinging = False
        if pid != self.mcp_pid:
            return self.unanswered(f"mcp.ctl answered from pid {pid}, not our MCP "
                                   f"(pid {self.mcp_pid})", now)
        out: list[Action] = []
        if self.state is KeeperState.STARVING:
            self._move(KeeperState.FEEDING)  # STARVING -> FEEDING: our MCP answers again
            out.append(Recovered(now - self._starving_since))
        self.last_pet = now
        out.append(Pet())
        return out

    def unanswered(self, why: str, now: float) -> list[Action]:
        if self.state is KeeperState.CLOSED:
            return []
        self._pinging = False
        if self.state is KeeperState.STARVING:
            return []
        self._move(KeeperState.STARVING)  # FEEDING -> STARVING: stop feeding
        self._starving_since = now
        return [Starving(why, self.last_pet)]

    def disarm(self, pid: int) -> bool:
        """The MCP announces an orderly shutdown; accepted only from our own MCP."""
        if pid != self.mcp_pid or self.state is KeeperState.CLOSED:
            return False
        self.disarmed = True
        return True

    def terminate(self, parent_pid: int) -> list[Action]:
        """SIGTERM: close, with the magic ``V`` only after an orderly disarm."""
        if self.state is KeeperState.CLOSED:
            return []
        self._move(KeeperState.CLOSED)  # any -> CLOSED
        if not self.disarmed:
            return [Close(False, "no orderly shutdown was announced by the MCP")]
        if parent_pid != self.mcp_pid:
            return [Close(False, f"the MCP (pid {self.mcp_pid}) that announced the shutdown "
                                 "is gone")]
        return [Close(True, "orderly shutdown of the stack")]
