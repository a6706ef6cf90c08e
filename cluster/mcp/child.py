"""One managed child's life: the respawn, backoff and flap-limit rules.

Theory of operation
-------------------
A child is STOPPED until the master control process starts it.  A spawn
moves it to STARTING; after ``startsecs`` alive it counts as RUNNING.  When
it dies:

* exit status 100 ⇒ EXITED for good (Heartbeat's "do not respawn me");
* a stop was asked for ⇒ STOPPED;
* otherwise it is respawned.  A death within ``fast_window`` of its spawn is
  a *fast* death.  The first fast death respawns at once; each further one in
  a row waits twice as long as the last (0.25 s, 0.5 s, ... capped at
  ``max_backoff``) in BACKOFF; more than ``flap_limit`` fast deaths in a row
  make it FATAL ("respawning too fast"), as Heartbeat's 10-in-a-row rule
  does.  A slow death resets the count.

The machine takes ``now`` and returns what to do; it never touches a process.
"""

from __future__ import annotations

import enum
import signal
from dataclasses import dataclass


class ChildState(enum.Enum):
    STOPPED = "STOPPED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    BACKOFF = "BACKOFF"
    STOPPING = "STOPPING"
    EXITED = "EXITED"
    FATAL = "FATAL"


S = ChildState
_EDGES: dict[ChildState, frozenset[ChildState]] = {
    # STOPPED -> STARTING: spawned; -> BACKOFF/FATAL: the exec itself failed
    S.STOPPED: frozenset({S.STARTING, S.BACKOFF, S.FATAL}),
    # STARTING -> RUNNING: alive startsecs; -> BACKOFF: died, respawn (maybe at
    # once); -> EXITED: exit 100; -> FATAL: flapping; -> STOPPING: stop asked
    S.STARTING: frozenset({S.RUNNING, S.BACKOFF, S.EXITED, S.FATAL, S.STOPPING}),
    # RUNNING -> same exits as STARTING
    S.RUNNING: frozenset({S.BACKOFF, S.EXITED, S.FATAL, S.STOPPING}),
    # BACKOFF -> STARTING: delay over; -> STOPPED: stop asked while waiting;
    # -> BACKOFF/FATAL: the exec itself failed again
    S.BACKOFF: frozenset({S.STARTING, S.STOPPED, S.BACKOFF, S.FATAL}),
    # STOPPING -> STOPPED: it exited after our SIGTERM/SIGKILL
    S.STOPPING: frozenset({S.STOPPED}),
    # EXITED/FATAL -> STARTING: an operator (or a config reload) starts it again
    S.EXITED: frozenset({S.STARTING, S.STOPPED}),
    S.FATAL: frozenset({S.STARTING, S.STOPPED}),
}


class IllegalTransition(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class RespawnPolicy:
    startsecs: float = 1.0        # alive this long ⇒ RUNNING
    fast_window: float = 30.0     # Heartbeat: a death under 30 s after start is "fast"
    flap_limit: int = 10          # Heartbeat: >10 fast deaths in a row ⇒ give up
    first_backoff: float = 0.25
    max_backoff: float = 5.0


@dataclass(frozen=True, slots=True)
class Spawn:
    """Start the process now."""


@dataclass(frozen=True, slots=True)
class SpawnAt:
    when: float
    delay: float


@dataclass(frozen=True, slots=True)
class GiveUp:
    reason: str


@dataclass(frozen=True, slots=True)
class NoRespawn:
    reason: str


@dataclass(frozen=True, slots=True)
class Terminate:
    """Send SIGTERM now; escalate to SIGKILL if it has not gone by then."""


Action = Spawn | SpawnAt | GiveUp | NoRespawn | Terminate | None


def describe_status(returncode: int) -> str:
    """Popen-style return code as an admin reads it."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with status {returncode}"


class Child:
    """The respawn state machine of one child."""

    def __init__(self, name: str, policy: RespawnPolicy | None = None) -> None:
        self.name = name
        self.policy = policy or RespawnPolicy()
        self.state = ChildState.STOPPED
        self.pid: int | None = None
        self.spawned_at: float | None = None
        self.fast_deaths = 0
        self.restarts = 0
        self.retry_at: float | None = None
        self.last_exit: str = ""

    def _move(self, to: ChildState) -> None:
        if to not in _EDGES[self.state]:
            raise IllegalTransition(f"{self.name}: {self.state.value} -> {to.value}")
        self.state = to

    def start(self) -> Action:
        """Operator or MCP start-up: spawn unless already alive."""
        if self.state in (S.STARTING, S.RUNNING, S.STOPPING):
            return None
        if self.state is S.BACKOFF:
            return None
        self.fast_deaths = 0
        return Spawn()

    def spawned(self, pid: int, now: float) -> None:
        self._move(S.STARTING)
        self.pid = pid
        self.spawned_at = now
        self.retry_at = None

    def spawn_failed(self, now: float, why: str) -> Action:
        """The exec itself failed (binary missing, user gone): a fast death, never a spin."""
        self.last_exit = why
        self.fast_deaths += 1
        if self.fast_deaths > self.policy.flap_limit:
            self._move(S.FATAL)
            return GiveUp(f"could not be started {self.fast_deaths - 1} times in a row: {why}")
        delay = max(self.backoff_delay(), self.policy.first_backoff)
        self._move(S.BACKOFF)
        self.retry_at = now + delay
        return SpawnAt(self.retry_at, delay)

    def tick(self, now: float) -> Action:
        if self.state is S.STARTING and self.spawned_at is not None \
                and now - self.spawned_at >= self.policy.startsecs:
            self._move(S.RUNNING)
        if self.state is S.BACKOFF and self.retry_at is not None and now >= self.retry_at:
            return Spawn()
        return None

    def exited(self, returncode: int, now: float, why: str = "") -> Action:
        self.pid = None
        self.last_exit = why or describe_status(returncode)
        if self.state is S.STOPPING:
            self._move(S.STOPPED)
            return None
        if returncode == 100:
            self._move(S.EXITED)
            return NoRespawn("exit status 100 asks not to be respawned")
        fast = self.spawned_at is not None and now - self.spawned_at < self.policy.fast_window
        self.fast_deaths = self.fast_deaths + 1 if fast else 1
        if self.fast_deaths > self.policy.flap_limit:
            self._move(S.FATAL)
            return GiveUp(f"respawning too fast ({self.fast_deaths - 1} fast restarts in a row)")
        self.restarts += 1
        delay = self.backoff_delay()
        self._move(S.BACKOFF)
        self.retry_at = now + delay
        # With no delay the shell spawns at once; spawned() then leaves BACKOFF.
        return Spawn() if delay <= 0 else SpawnAt(self.retry_at, delay)

    def backoff_delay(self) -> float:
        """0 for the first death in a row, then doubling from first_backoff."""
        if self.fast_deaths <= 1:
            return 0.0
        delay = self.policy.first_backoff * 2 ** (self.fast_deaths - 2)
        return float(min(delay, self.policy.max_backoff))

    def stop(self) -> Action:
        if self.state in (S.STARTING, S.RUNNING):
            self._move(S.STOPPING)
            return Terminate()
        if self.state in (S.BACKOFF, S.EXITED, S.FATAL):
            self._move(S.STOPPED)
        return None

    @property
    def alive(self) -> bool:
        return self.pid is not None
