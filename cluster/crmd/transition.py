"""Local execution: drive this node's groups to what the DC asked, one op at a time.

Role: a sans-I/O core.  :class:`LocalGroups` holds one :class:`_Group` per
haresources line.  Inputs: the DC's commands (:meth:`LocalGroups.command`),
operation results (:meth:`LocalGroups.op_done`), monitor failures
(:meth:`LocalGroups.monitor_failed`), :meth:`LocalGroups.leave` (graceful
shutdown) and :meth:`LocalGroups.cleanup`.  Outputs: :data:`Effect` values
the service carries out — run an op through the executor, start or stop the
recurring monitors, publish a state change, record a failed action.  It never
runs anything itself, so every path is unit-tested without processes.

Theory of operation.  Each resource has a known state (unknown, stopped,
started, failed = "we cannot tell, an op on it failed"); each group has a
*target* (started, stopped or none = stay put and let the DC decide) and at
most one operation in flight.  After every input :meth:`_Group.step` picks the
next op toward the target: probing first (every resource, ``probe``), then a
*stop phase* (right to left, every resource not known stopped) when the
target is stopped, a restart was asked, or a start failed; then a *start
phase* (left to right).  A newer command only changes the target: the op in
flight finishes, its result is recorded, and the next step goes the new way,
so no half state is ever left unreported.  The group's reported state is the
state machine below; every edge goes through :meth:`_Group._enter`, which
raises on an edge the table does not list.

    UNKNOWN  -> STOPPED | STARTED | FAILED      probe results (all / none / some running)
    STOPPED  -> STARTING                        start or restart command
    STARTING -> STARTED                         every resource started
    STARTING -> STOPPING                        a start failed (clean up) or a stop came
    STARTED  -> STOPPING                        stop, restart, leaving
    STARTED  -> FAILED                          a monitor failed
    STOPPING -> STOPPED                         every resource stopped
    STOPPING -> STARTING                        restart: stop phase done
    STOPPING -> FAILED                          a stop failed, or the clean-up after a
                                                failed start is done
    FAILED   -> STOPPING | STARTING | STOPPED   stop/restart (directly when nothing
                                                is left to stop)
    FAILED   -> UNKNOWN                         cleanup: probe again
    STARTED | STOPPED -> UNKNOWN                reprobe (refresh, leaving maintenance)

A reprobe keeps a started group's target: when the probe finds only some
of its resources running (one was killed during maintenance mode), the group
starts the missing ones and leaves the running ones alone.

Reload (:meth:`LocalGroups.replace`): a group removed from haresources, or
changed, is *retired*: stopped as it is (its old resources, right to left),
commands and monitor failures for it ignored meanwhile; once stopped it is
dropped (:class:`Retired`) and, when changed, created afresh with its new
resources and probed, so the DC starts it again like any stopped group.  A
group added by a reload is probed the same way.  Other groups are not touched.

Failures: a failed start or monitor adds one to the group's fail count (a
*hard* outcome — agent not installed, bad arguments, the environment missing
such as the interface down — sets it to the threshold at once: this node
cannot run it); a failed stop does not count (it is not a service failure) but
leaves the group failed, which the DC retries.  A hard failure counts once per
*cause*: the same resource, action, outcome and reason text as the hard
failure counted last, with no successful start of the group in between, is
the same missing piece seen again, not a new failure, so it adds nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cluster.crmd.state import GroupState, GroupStatus

__all__ = [
    "Effect",
    "Failure",
    "GroupChanged",
    "LocalGroups",
    "MonitorsOff",
    "MonitorsOn",
    "OpStatus",
    "ResourceState",
    "Retired",
    "RunOp",
]


class OpStatus(enum.Enum):
    """An operation's result as far as the group is concerned."""

    OK = "ok"
    NOT_RUNNING = "not running"
    FAILED = "failed"           # soft: recover in place
    HARD = "hard"               # this node cannot run it


class ResourceState(enum.Enum):
    UNKNOWN = "unknown"
    STOPPED = "stopped"
    STARTED = "started"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RunOp:
    group: str
    index: int
    action: str                 # probe | start | stop


@dataclass(frozen=True, slots=True)
class MonitorsOn:
    group: str


@dataclass(frozen=True, slots=True)
class MonitorsOff:
    group: str


@dataclass(frozen=True, slots=True)
class GroupChanged:
    group: str
    previous: GroupState
    state: GroupState
    why: str


@dataclass(frozen=True, slots=True)
class Failure:
    group: str
    index: int
    action: str                 # probe | start | stop | monitor


@dataclass(frozen=True, slots=True)
class Retired:
    """A retired group is stopped and gone; ``size`` resources replace it (None: none)."""

    group: str
    size: int | None


Effect = RunOp | MonitorsOn | MonitorsOff | GroupChanged | Failure | Retired

_S = GroupState
_EDGES = frozenset({
    (_S.UNKNOWN, _S.STOPPED), (_S.UNKNOWN, _S.STARTED), (_S.UNKNOWN, _S.FAILED),
    (_S.STOPPED, _S.STARTING),
    (_S.STARTING, _S.STARTED), (_S.STARTING, _S.STOPPING),
    (_S.STARTED, _S.STOPPING), (_S.STARTED, _S.FAILED),
    (_S.STOPPING, _S.STOPPED), (_S.STOPPING, _S.STARTING), (_S.STOPPING, _S.FAILED),
    (_S.FAILED, _S.STOPPING), (_S.FAILED, _S.STARTING), (_S.FAILED, _S.STOPPED),
    (_S.FAILED, _S.UNKNOWN), (_S.STARTED, _S.UNKNOWN), (_S.STOPPED, _S.UNKNOWN),
})  # fmt: skip


class _Group:
    def __init__(self, key: str, size: int, threshold: int) -> None:
        self.key = key
        self.threshold = threshold
        self.res = [ResourceState.UNKNOWN] * size
        self.state = GroupState.UNKNOWN
        self.fail_count = 0
        self.cause: str | None = None             # of the last hard failure counted
        self.since = 0
        self.target: GroupState | None = None     # STARTED | STOPPED | None
        self.stop_first = False                   # restart / clean-up: stop phase first
        self.failed_start = False                 # clean-up after a failed start
        self.busy: tuple[int, str] | None = None
        self.probing = True

    @property
    def idle(self) -> bool:
        return self.busy is None and not self.probing and self._next_op() is None

    def _enter(self, new: GroupState, why: str, out: list[Effect]) -> None:
        old = self.state
        if new is old:
            return
        if (old, new) not in _EDGES:
            raise RuntimeError(f"group {self.key}: impossible transition {old.value} -> "
                               f"{new.value} ({why})")
        self.state = new
        if old is GroupState.STARTED:
            out.append(MonitorsOff(self.key))
        out.append(GroupChanged(self.key, old, new, why))
        if new is GroupState.STARTED:
            self.cause = None
            out.append(MonitorsOn(self.key))

    def _next_op(self) -> tuple[int, str] | None:
        if self.probing:
            for index, state in enumerate(self.res):
                if state is ResourceState.UNKNOWN:
                    return index, "probe"
            return None
        if self.stop_first or self.target is GroupState.STOPPED:
            for index in range(len(self.res) - 1, -1, -1):
                if self.res[index] is not ResourceState.STOPPED:
                    return index, "stop"
            if not self.stop_first or self.failed_start or self.target is not GroupState.STARTED:
                return None
        if self.target is GroupState.STARTED:
            for index, state in enumerate(self.res):
                if state is not ResourceState.STARTED:
                    return index, "start"
        return None

    def step(self, out: list[Effect]) -> None:
        """Start the next op toward the target, or settle the group's state."""
        if self.busy is not None:
            return
        op = self._next_op()
        if op is None:
            self._settle(out)
            return
        index, action = op
        if action == "stop":
            self._enter(GroupState.STOPPING, "stopping", out)
        elif action == "start":
            self.stop_first = False
            self._enter(GroupState.STARTING, "starting", out)
        self.busy = op
        out.append(RunOp(self.key, index, action))

    def _settle(self, out: list[Effect]) -> None:
        if self.probing:
            self.probing = False
            if all(s is ResourceState.STARTED for s in self.res):
                self._enter(GroupState.STARTED, "probe: every resource is running", out)
            elif all(s is ResourceState.STOPPED for s in self.res):
                self._enter(GroupState.STOPPED, "probe: nothing is running", out)
            else:
                self._enter(GroupState.FAILED, "probe: partially running or unknown", out)
            if self.target is not None:
                self.step(out)                       # e.g. told to leave while probing
            return
        if self.failed_start:
            self.failed_start = self.stop_first = False
            self.target = None
            self._enter(GroupState.FAILED, "start failed; stopped what had started", out)
        elif self.target is GroupState.STOPPED:
            self.target = None
            self._enter(GroupState.STOPPED, "every resource stopped", out)
        elif self.target is GroupState.STARTED:
            self._enter(GroupState.STARTED, "every resource started", out)

    def done(self, index: int, action: str, status: OpStatus, out: list[Effect],
             cause: str = "") -> None:
        if self.busy != (index, action):
            return                                   # not the op we are waiting for
        self.busy = None
        ok = status is OpStatus.OK
        if action == "probe":
            if status is OpStatus.HARD:
                self.fail_count = max(self.fail_count, self.threshold)
                out.append(Failure(self.key, index, action))
            if status is OpStatus.FAILED:
                out.append(Failure(self.key, index, action))
            self.res[index] = (ResourceState.STARTED if ok else ResourceState.FAILED
                               if status is OpStatus.FAILED else ResourceState.STOPPED)
        elif action == "start" and ok:
            self.res[index] = ResourceState.STARTED
        elif action == "start":
            self.res[index] = ResourceState.FAILED
            self._count_failure(status, cause)
            out.append(Failure(self.key, index, action))
            self.failed_start = self.stop_first = True
        elif action == "stop" and status in (OpStatus.OK, OpStatus.NOT_RUNNING):
            self.res[index] = ResourceState.STOPPED
        else:
            self.res[index] = ResourceState.FAILED
            out.append(Failure(self.key, index, action))
            self.failed_start = self.stop_first = False
            self.target = None
            self._enter(GroupState.FAILED, "a stop failed", out)
            return
        self.step(out)

    def _count_failure(self, status: OpStatus, cause: str) -> None:
        if status is not OpStatus.HARD:
            self.fail_count += 1
        elif cause and cause == self.cause:
            self.fail_count = max(self.fail_count, self.threshold)
        else:
            self.cause = cause or None
            self.fail_count = max(self.fail_count + 1, self.threshold)

    def monitor_failed(self, index: int, status: OpStatus, out: list[Effect],
                       cause: str = "") -> None:
        if self.state is not GroupState.STARTED or self.busy is not None:
            return                                   # stale: the group is moving anyway
        self.res[index] = ResourceState.FAILED
        self._count_failure(status, cause)
        out.append(Failure(self.key, index, "monitor"))
        self.target = None
        self._enter(GroupState.FAILED, "a monitor failed", out)


class LocalGroups:
    """Every local group; each method returns the effects to carry out, in order."""

    def __init__(self, groups: Sequence[tuple[str, int]], threshold: int) -> None:
        self._groups = {key: _Group(key, size, threshold) for key, size in groups}
        self._threshold = threshold
        self._retiring: dict[str, int | None] = {}  # key -> size of its replacement
        self._stop_tried: set[str] = set()          # retiring groups whose stop we began
        self.leaving = False

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self._groups)

    def probe_all(self) -> list[Effect]:
        out: list[Effect] = []
        for group in self._groups.values():
            group.step(out)
        return out

    @property
    def probed(self) -> bool:
        return not any(group.probing for group in self._groups.values())

    @property
    def settled(self) -> bool:
        """No op in flight and nothing left to do (graceful shutdown waits for this)."""
        return all(group.idle for group in self._groups.values())

    def status(self, key: str) -> GroupStatus:
        group = self._groups[key]
        return GroupStatus(group.state, group.fail_count, group.since)

    def resources(self, key: str) -> tuple[ResourceState, ...]:
        return tuple(self._groups[key].res)

    def adopt_since(self, instance: int) -> None:
        """Groups found running by the probe count as started in ``instance``."""
        for group in self._groups.values():
            if group.since == 0 and group.state is GroupState.STARTED:
                group.since = instance

    def command(self, key: str, action: str, instance: int) -> list[Effect]:
        out: list[Effect] = []
        group = self._groups.get(key)
        if (group is None or group.probing or key in self._retiring
                or (self.leaving and action != "stop")):
            return out
        if action == "stop":
            group.target, group.stop_first = GroupState.STOPPED, False
        elif action in ("start", "restart"):
            if group.target is not GroupState.STARTED or action == "restart":
                group.since = instance
            if action == "restart" or group.state is GroupState.FAILED:
                group.stop_first = True
            group.target = GroupState.STARTED
        else:
            raise ValueError(f"unknown group action {action!r}")
        group.failed_start = False
        group.step(out)
        return out

    def op_done(self, key: str, index: int, action: str, status: OpStatus,
                cause: str = "") -> list[Effect]:
        """An op ended; ``cause`` names a failure (see "counts once per cause")."""
        out: list[Effect] = []
        group = self._groups.get(key)
        if group is not None:
            group.done(index, action, status, out, cause)
            self._drop_if_retired(key, out)
        return out

    def monitor_failed(self, key: str, index: int, status: OpStatus,
                       cause: str = "") -> list[Effect]:
        out: list[Effect] = []
        group = self._groups.get(key)
        if group is not None and not self.leaving and key not in self._retiring:
            group.monitor_failed(index, status, out, cause)
        return out

    def add(self, key: str, size: int) -> list[Effect]:
        """A reload added a group: probe it (the DC places it once it is known)."""
        if key in self._groups:
            return self.replace(key, size)
        out: list[Effect] = []
        self._groups[key] = _Group(key, size, self._threshold)
        self._groups[key].step(out)
        return out

    def replace(self, key: str, size: int | None) -> list[Effect]:
        """A reload removed (``size`` None) or changed a group: stop it as it is,
        then drop it, and for a changed one probe its ``size`` new resources."""
        out: list[Effect] = []
        group = self._groups.get(key)
        if group is None:
            return self.add(key, size) if size is not None else out
        self._retiring[key] = size
        self._stop_tried.discard(key)
        group.target, group.stop_first, group.failed_start = GroupState.STOPPED, False, False
        self._drop_if_retired(key, out)
        return out

    def _drop_if_retired(self, key: str, out: list[Effect]) -> None:
        """Drive a retiring group to stopped (one try: a failed stop stays failed
        until a cleanup), then drop it and create its replacement."""
        group = self._groups[key]
        if key not in self._retiring or group.busy is not None:
            return
        if group.probing or group.state is not GroupState.STOPPED:
            if group.state is GroupState.FAILED and key in self._stop_tried:
                return
            if group.probing or group.state is not GroupState.UNKNOWN:
                self._stop_tried.add(key)
                group.target, group.stop_first = GroupState.STOPPED, False
                group.step(out)
            if group.busy is not None or group.state is not GroupState.STOPPED:
                return
        size = self._retiring.pop(key)
        self._stop_tried.discard(key)
        del self._groups[key]
        out.append(Retired(key, size))
        if size is not None and not self.leaving:
            self._groups[key] = _Group(key, size, self._threshold)
            self._groups[key].step(out)

    def leave(self) -> list[Effect]:
        """Graceful shutdown: stop every group (all at once, each right to left)."""
        self.leaving = True
        out: list[Effect] = []
        for group in reversed(self._groups.values()):
            group.target, group.stop_first, group.failed_start = GroupState.STOPPED, False, False
            group.step(out)
        return out

    def retry_stops(self) -> list[Effect]:
        """While leaving: try failed stops again (the DC no longer commands us)."""
        out: list[Effect] = []
        for group in self._groups.values():
            if group.state is GroupState.FAILED and group.busy is None and not group.probing:
                group.target = GroupState.STOPPED
                group.step(out)
        return out

    def restore_fail_counts(self, counts: Mapping[str, int]) -> None:
        """Fail counts a previous crmd of this stack left (groups no longer
        configured are skipped)."""
        for key, count in counts.items():
            if key in self._groups:
                self._groups[key].fail_count = max(0, count)

    def cleanup(self, keys: Sequence[str], refresh: bool = False) -> list[Effect]:
        """Forget fail counts; probe failed, idle groups again (every idle group
        with ``refresh``)."""
        out: list[Effect] = []
        for key in keys:
            group = self._groups.get(key)
            if group is None:
                continue
            group.fail_count, group.cause = 0, None
            self._stop_tried.discard(key)
            if refresh or group.state is GroupState.FAILED:
                self._reprobe(group, "cleanup: probing again", out)
        return out

    def reprobe(self, why: str) -> list[Effect]:
        """Probe every idle group again, keeping started groups started."""
        out: list[Effect] = []
        for group in self._groups.values():
            self._reprobe(group, why, out)
        return out

    def _reprobe(self, group: _Group, why: str, out: list[Effect]) -> None:
        if group.busy is not None or group.probing or self.leaving:
            return
        keep = GroupState.STARTED if group.state is GroupState.STARTED else None
        group.res = [ResourceState.UNKNOWN] * len(group.res)
        group.probing, group.target, group.stop_first = True, keep, False
        group._enter(GroupState.UNKNOWN, why, out)
        group.step(out)
