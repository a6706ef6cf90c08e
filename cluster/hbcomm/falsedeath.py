"""Why a live peer was declared dead: heartbeat timestamps from both ends.

Role: keep, at the cost of a deque append per heartbeat and per timer, the
last few heartbeats heard from each peer (the sender's ``ts``, its monotonic
clock when it sent, beside our clock when we read it) and the last wake-ups
of our own timer.  When a peer is declared dead for silence, the record is
held open; if the peer is heard again soon after, the death was false and
:meth:`HeartbeatTrace.heard` returns a :class:`FalseDeath` that says which end
was late.  Sans-I/O: times come in as arguments, nothing is logged here.

Causes, judged in this order (``threshold`` is the deadtime the peer was
judged by; gaps in the sender's sends are measured on its clock alone, so the
two clocks need not agree):

* ``sender``: nothing the peer sent in a whole threshold reached us; the
  peer stalled (its own log then shows a pause or a send gap) or its packets
  were lost on the way;
* ``receiver``: the peer sent in time, but our own timer fired late in the
  silence (we were not scheduled, or our loop was busy with other work);
* ``delivery``: the peer sent in time and we were awake on time, yet the
  heartbeat reached us late: the kernel or the host's scheduler held it (or
  the sender's send itself ran late after its ``ts`` was taken).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["Beat", "FalseDeath", "HeartbeatTrace", "classify"]

#: A heartbeat heard this long after the death (at most) makes it a false one;
#: later, the peer was really gone (a restart, a healed partition).
_FALSE_WITHIN_MIN = 1.0
_BEATS_KEPT = 8
_WAKES_KEPT = 64
#: Our own timer this late counts as a receiver stall (seconds).
_RECEIVER_LATE = 0.002


@dataclass(frozen=True, slots=True)
class Beat:
    sent: float  # the sender's clock
    received: float  # ours


@dataclass(frozen=True, slots=True)
class _Death:
    declared: float
    deadline: float
    threshold: float
    before: tuple[Beat, ...]


@dataclass(frozen=True, slots=True)
class FalseDeath:
    node: str
    declared: float  # our clock, when we declared it dead
    deadline: float  # last heard + threshold
    threshold: float
    before: tuple[Beat, ...]  # the last heartbeats heard before, oldest first
    after: Beat  # the first one heard after
    our_late: float  # the worst lateness of our own timer after the last heard
    cause: str  # sender | receiver | delivery

    @property
    def send_gap(self) -> float:
        """Between the last heartbeat heard before and the first after, on the sender's clock."""
        return self.after.sent - self.before[-1].sent if self.before else float("inf")

    def describe(self) -> str:
        """One log line: the cause and every timestamp it rests on, in ms."""
        def ms(value: float) -> str:
            return f"{value * 1000:.1f}"
        base = self.before[-1] if self.before else self.after
        beats = " ".join(f"{ms(b.sent - base.sent)}/{ms(b.received - base.received)}"
                         for b in (*self.before[-3:], self.after))
        return (f"false death of {self.node}: cause {self.cause}; declared at {ms(self.declared)}"
                f" (deadline +{ms(self.declared - self.deadline)}, threshold "
                f"{ms(self.threshold)}); send gap {ms(self.send_gap)}, our timer up to "
                f"{ms(self.our_late)} late; heartbeats sent/received relative to the "
                f"last before: {beats}")


def classify(threshold: float, before: tuple[Beat, ...], after: Beat, our_late: float) -> str:
    """``sender``, ``receiver`` or ``delivery`` (see the module docstring)."""
    if not before or after.sent - before[-1].sent >= threshold:
        return "sender"
    if our_late >= _RECEIVER_LATE:
        return "receiver"
    return "delivery"


class HeartbeatTrace:
    """Rings of recent heartbeats per peer and of our own timer's wake-ups."""

    def __init__(self) -> None:
        # (sent, received) pairs: a tuple per heartbeat is the cheapest record
        self._beats: dict[str, deque[tuple[float, float]]] = {}
        self._wakes: deque[tuple[float, float]] = deque(maxlen=_WAKES_KEPT)
        self._dead: dict[str, _Death] = {}

    def woke(self, scheduled: float, now: float) -> None:
        """Our timer, due at ``scheduled``, ran at ``now``."""
        self._wakes.append((now, now - scheduled))

    def died(self, node: str, now: float, silent_for: float, threshold: float) -> None:
        """We declared ``node`` dead for ``silent_for`` seconds of silence."""
        beats = self._beats.get(node)
        last = now - silent_for
        self._dead[node] = _Death(now, last + threshold, threshold,
                                  tuple(Beat(*beat) for beat in beats) if beats else ())

    def heard(self, node: str, sent: float, now: float) -> FalseDeath | None:
        """A heartbeat from ``node``, sent at ``sent`` on its clock; a death it
        proves false comes back, once."""
        beats = self._beats.get(node)
        if beats is None:
            beats = self._beats[node] = deque(maxlen=_BEATS_KEPT)
        beats.append((sent, now))
        if not self._dead:
            return None
        death = self._dead.pop(node, None)
        if death is None or now - death.declared > max(_FALSE_WITHIN_MIN, 10 * death.threshold):
            return None
        # A wake-up in the pass that read the last heartbeat before (same ``now``) came
        # before that read: its lateness is not part of this silence.
        since = death.before[-1].received if death.before else death.declared
        our_late = max((late for at, late in self._wakes if since < at <= now), default=0.0)
        beat = Beat(sent, now)
        return FalseDeath(node, death.declared, death.deadline, death.threshold, death.before,
                          beat, our_late, classify(death.threshold, death.before, beat, our_late))
