"""stonithd's core: fence requests, devices and retries, without I/O (sans-I/O).

Inputs: :meth:`Fencer.submit` (a FenceNode arrived), :meth:`Fencer.finished`
(a device operation ended), :meth:`Fencer.tick` (time passed), each with
``now``; :meth:`Fencer.set_hosts` (a status check learnt a device's hosts).
Outputs: actions for the shell — :class:`StartOperation`,
:class:`CancelOperation`, :class:`AttemptFailed` (for the log) and
:class:`Completed` (answer, publish, log).  The shell asks
:meth:`Fencer.next_wakeup` when to call ``tick`` again.

Theory of operation
-------------------
A request is keyed by (node, action).  A second request for the same key
while one is open joins it: both get the same result.  A request is
refused at once (ok=False) for an unknown action, for this node itself (a
node that powers itself off cannot report it; Heartbeat never did this),
or when no device can fence the node.

Candidates are the devices whose host list contains the node, then those
whose host list is not known yet (their status check has not answered),
in configuration order.  Each request moves through::

    WAITING --device free, start time reached--> RUNNING     (StartOperation)
    RUNNING --OK--> DONE                                      (Completed ok)
    RUNNING --failed, next device or round--> WAITING         (AttemptFailed)
    RUNNING --failed, rounds used up or no time left--> DONE  (Completed not ok)
    WAITING/RUNNING --deadline--> DONE                        (CancelOperation, Completed)

One *round* tries every candidate once; a request gets at most
:data:`ROUNDS` rounds, :data:`RETRY_DELAY` s apart, all inside its deadline
(the request's timeout minus a margin for the reply to travel).  Each
operation's own timeout is the device type's bound, capped so that it, plus
the time the shell needs to kill it, ends before the deadline.  A device
runs one operation at a time (a serial port cannot be shared); requests
queue for it in arrival order.  A device's ``pcmk_delay_*`` delay is waited
before the first attempt (two-node fencing race).  ``manual`` devices
(meatware) get all the remaining time in one attempt: the operator needs it.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cluster.bus.messages.stonithd import FenceResult
from cluster.stonithd.outcome import ACTIONS

__all__ = ["ROUNDS", "AttemptFailed", "CancelOperation", "Completed", "Device", "Fencer",
           "StartOperation"]

ROUNDS = 3             # every capable device is tried at most 3 times per request
RETRY_DELAY = 2.0      # seconds between rounds (Heartbeat retried every 5 s, forever)
KILL_GRACE = 1.0       # the shell kills a runner this long after its own timeout
_MIN_ATTEMPT = 0.5     # never start an operation with less time than this
_MAX_DETAIL = 1500

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Device:
    name: str                  # "rps10 /dev/ttyS0"
    type: str
    op_timeout: float          # the type's bound on one operation, seconds
    manual: bool = False       # meatware: an operator confirms
    delay_base: float = 0.0
    delay_max: float = 0.0


@dataclass(frozen=True, slots=True)
class StartOperation:
    op_id: int
    device: Device
    action: str
    node: str
    timeout: float


@dataclass(frozen=True, slots=True)
class CancelOperation:
    op_id: int


@dataclass(frozen=True, slots=True)
class AttemptFailed:
    node: str
    action: str
    device: str
    detail: str
    retry_in: float            # 0: the next device right away


@dataclass(frozen=True, slots=True)
class Completed:
    key: Key
    result: FenceResult
    reason: str
    requested_by: str


Action = StartOperation | CancelOperation | AttemptFailed | Completed


class _State(enum.Enum):
    WAITING = "WAITING"
    RUNNING = "RUNNING"
    DONE = "DONE"


@dataclass
class _Request:
    key: Key
    reason: str
    requested_by: str
    deadline: float
    candidates: list[Device]
    ready_at: float
    state: _State = _State.WAITING
    round: int = 1
    index: int = 0
    attempts: int = 0
    op_id: int | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def device(self) -> Device:
        return self.candidates[self.index]


class Fencer:
    """Every open fence request of one stonithd."""

    def __init__(self, local_node: str, devices: Sequence[Device],
                 rand: Callable[[], float]) -> None:
        self.local_node = local_node.lower()
        self.devices = list(devices)
        self._rand = rand
        self._hosts: dict[str, tuple[str, ...] | None] = {d.name: None for d in devices}
        self._requests: dict[Key, _Request] = {}
        self._busy: dict[str, int] = {}          # device name -> op id running on it
        self._ops = itertools.count(1)

    # -- queries --------------------------------------------------------------
    def set_hosts(self, device: str, hosts: tuple[str, ...]) -> None:
        self._hosts[device] = tuple(h.lower() for h in hosts)

    def hosts(self, device: str) -> tuple[str, ...] | None:
        return self._hosts.get(device)

    def busy(self, device: str) -> bool:
        return device in self._busy

    def idle(self) -> bool:
        return not self._requests

    def running_op(self, node: str, manual: bool) -> int | None:
        """The op id of a running operation on `node` (a manual one when `manual`)."""
        for request in self._requests.values():
            if (request.key[0] == node.lower() and request.state is _State.RUNNING
                    and request.device.manual == manual):
                return request.op_id
        return None

    def next_wakeup(self) -> float | None:
        times = [r.deadline if r.state is _State.RUNNING else min(r.ready_at, r.deadline)
                 for r in self._requests.values()]
        return min(times) if times else None

    def candidates(self, node: str) -> list[Device]:
        known = [d for d in self.devices if node in (self._hosts[d.name] or ())]
        unknown = [d for d in self.devices if self._hosts[d.name] is None]
        return known + unknown

    # -- inputs ---------------------------------------------------------------
    def submit(self, node: str, action: str, reason: str, requested_by: str, timeout: float,
               now: float) -> tuple[Key, list[Action]]:
        node = node.lower()
        key = (node, action)
        if key in self._requests:
            return key, []   # joins the open request: same answer for both
        refusal = self._refusal(node, action, timeout)
        if refusal is not None:
            result = FenceResult(node, False, action, "", refusal, 0)
            return key, [Completed(key, result, reason, requested_by)]
        candidates = self.candidates(node)
        first = candidates[0]
        delay = first.delay_base + self._rand() * first.delay_max
        margin = min(1.0, timeout / 10)
        self._requests[key] = _Request(key, reason, requested_by, now + timeout - margin,
                                       candidates, now + delay)
        return key, self._pump(now)

    def finished(self, op_id: int, ok: bool, detail: str, now: float) -> list[Action]:
        """A device operation ended (ok: the device confirmed the action)."""
        request = self._by_op(op_id)
        if request is None:
            return []
        device = request.device
        self._busy.pop(device.name, None)
        request.op_id = None
        if ok:
            out = self._complete(request, True, device.name, detail)
        else:
            out = self._failed(request, detail, now)
        return out + self._pump(now)

    def tick(self, now: float) -> list[Action]:
        out: list[Action] = []
        for request in list(self._requests.values()):
            if now < request.deadline:
                continue
            if request.state is _State.RUNNING and request.op_id is not None:
                self._busy.pop(request.device.name, None)
                out.append(CancelOperation(request.op_id))
            request.failures.append("no success within the request's timeout")
            out += self._complete(request, False, request.device.name, "")
        return out + self._pump(now)

    def cancel_all(self, why: str) -> list[Action]:
        """Shutting down: end every request as failed."""
        out: list[Action] = []
        for request in list(self._requests.values()):
            if request.op_id is not None:
                out.append(CancelOperation(request.op_id))
            request.failures.append(why)
            out += self._complete(request, False, request.device.name, "")
        self._busy.clear()
        return out

    # -- internals --------------------------------------------------------------
    def _refusal(self, node: str, action: str, timeout: float) -> str | None:
        if action not in ACTIONS:
            return f"unknown action {action!r} (use {', '.join(ACTIONS)})"
        if node == self.local_node:
            return f"refusing to fence {node}: that is this node itself"
        if not (timeout > 0 and math.isfinite(timeout)):
            return f"bad timeout {timeout!r}"
        if not self.candidates(node):
            return f"no fencing device here can fence {node}"
        return None

    def _by_op(self, op_id: int) -> _Request | None:
        for request in self._requests.values():
            if request.op_id == op_id:
                return request
        return None

    def _failed(self, request: _Request, detail: str, now: float) -> list[Action]:
        device = request.device
        # Drivers name their device already ("rps10 /dev/ttyS0: ..."); others get it added.
        named = detail.startswith(device.type)
        request.failures.append(detail if named else f"{device.name}: {detail}")
        request.state = _State.WAITING  # RUNNING -> WAITING (or DONE below)
        request.index += 1
        wait = 0.0
        if request.index >= len(request.candidates):
            request.index = 0
            request.round += 1
            wait = RETRY_DELAY
        if request.round > ROUNDS or device.manual:
            return self._complete(request, False, device.name, "")
        if request.deadline - (now + wait) < _MIN_ATTEMPT + KILL_GRACE:
            request.failures.append("no time left for another attempt")
            return self._complete(request, False, device.name, "")
        request.ready_at = now + wait
        node, action = request.key
        return [AttemptFailed(node, action, device.name, detail, wait)]

    def _complete(self, request: _Request, ok: bool, device: str, detail: str) -> list[Action]:
        request.state = _State.DONE  # any -> DONE
        del self._requests[request.key]
        if not ok:
            detail = "; ".join(request.failures)[:_MAX_DETAIL]
        node, action = request.key
        result = FenceResult(node, ok, action, device, detail, request.attempts)
        return [Completed(request.key, result, request.reason, request.requested_by)]

    def _pump(self, now: float) -> list[Action]:
        """Start whatever may start now, oldest request first."""
        out: list[Action] = []
        for request in list(self._requests.values()):
            if request.state is not _State.WAITING or request.ready_at > now:
                continue
            device = request.device
            if device.name in self._busy:
                continue
            left = request.deadline - now - KILL_GRACE
            if left < _MIN_ATTEMPT:
                request.failures.append("no time left for an attempt")
                out += self._complete(request, False, device.name, "")
                continue
            op_id = next(self._ops)
            request.state = _State.RUNNING  # WAITING -> RUNNING
            request.op_id = op_id
            request.attempts += 1
            self._busy[device.name] = op_id
            timeout = left if device.manual else min(device.op_timeout, left)
            out.append(StartOperation(op_id, device, request.key[1], request.key[0], timeout))
        return out
