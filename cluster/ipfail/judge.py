"""ipfail's decision: should this node give its groups away, or take them back?

Theory of operation
-------------------
Every node counts the ping nodes (routers, switches) it reaches and tells
its peers.  If some live peer reaches strictly more than we do, our uplink
is worse than theirs: clients are better served there.  That condition must
hold for ``settle`` seconds before we act (a one-off lost echo or a cable
flapping faster than that moves nothing); then we give up our groups
(:class:`GiveUp`, crmd's standby).  Once we reach at least as many as every
peer again, and have for ``hold`` seconds (longer than ``settle``, so a
flapping link causes at most one move), we lift our standby
(:class:`Recover`); with ``auto_failback on`` the groups that prefer this
node then come home.  When every node loses the same, nothing moves: moving
would not help anyone.

Sans-I/O: counts and ``now`` in, actions out; the shell asks crmd.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class JudgeConfig:
    settle: float        # a worse uplink must last this long before we move away
    hold: float          # a recovered uplink must last this long before we take back
    stale_after: float   # a peer's count older than this is forgotten


@dataclass(frozen=True, slots=True)
class GiveUp:
    mine: int
    best_peer: str
    theirs: int


@dataclass(frozen=True, slots=True)
class Recover:
    mine: int


Action = GiveUp | Recover


class _State(enum.Enum):
    SERVING = "serving"        # we may hold groups
    GAVE_UP = "gave up"        # we asked crmd to put us in standby


class Judge:
    """Compare our ping count with the peers'; decide moves with hysteresis."""

    def __init__(self, config: JudgeConfig, gave_up: bool = False) -> None:
        """`gave_up`: an earlier ipfail of this stack put us in standby and we
        carry on from there (so we still lift it when the uplink recovers)."""
        self._config = config
        self._mine: int | None = None
        self._peers: dict[str, tuple[int, float]] = {}   # node -> (count, heard at)
        self._state = _State.GAVE_UP if gave_up else _State.SERVING
        self._since: float | None = None   # when the current trigger condition began
        self.moves = 0

    @property
    def state(self) -> str:
        return self._state.value

    @property
    def gave_up(self) -> bool:
        return self._state is _State.GAVE_UP

    def my_count(self, count: int, now: float) -> list[Action]:
        self._mine = count
        return self.tick(now)

    def peer_count(self, node: str, count: int, now: float) -> list[Action]:
        self._peers[node] = (count, now)
        return self.tick(now)

    def peer_gone(self, node: str, now: float) -> list[Action]:
        self._peers.pop(node, None)
        return self.tick(now)

    def _best_peer(self, now: float) -> tuple[str, int] | None:
        fresh = {n: c for n, (c, at) in self._peers.items()
                 if now - at <= self._config.stale_after}
        if not fresh:
            return None
        node = max(sorted(fresh), key=lambda n: fresh[n])
        return node, fresh[node]

    def _trigger(self, now: float) -> bool:
        """SERVING: a peer is strictly better.  GAVE_UP: nobody is better any more."""
        best = self._best_peer(now)
        if self._mine is None:
            return False
        if self._state is _State.SERVING:
            return best is not None and best[1] > self._mine
        return best is None or best[1] <= self._mine

    def tick(self, now: float) -> list[Action]:
        if not self._trigger(now):
            self._since = None
            return []
        if self._since is None:
            self._since = now
        wait = self._config.settle if self._state is _State.SERVING else self._config.hold
        if now - self._since < wait:
            return []
        self._since = None
        assert self._mine is not None
        if self._state is _State.SERVING:
            best = self._best_peer(now)
            assert best is not None
            # SERVING -> GAVE_UP: a peer has had the better uplink for `settle`
            self._state = _State.GAVE_UP
            self.moves += 1
            return [GiveUp(self._mine, best[0], best[1])]
        # GAVE_UP -> SERVING: nobody has been better for `hold`
        self._state = _State.SERVING
        return [Recover(self._mine)]

    def next_deadline(self) -> float:
        if self._since is None:
            return math.inf
        wait = self._config.settle if self._state is _State.SERVING else self._config.hold
        return self._since + wait
