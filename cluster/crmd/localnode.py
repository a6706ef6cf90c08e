"""This node's half of crmd: its groups, the executor, its own report.

Role: part of crmd's shell.  :class:`LocalNode` feeds the DC's commands,
executor results and monitor changes into
:class:`~cluster.crmd.transition.LocalGroups`, carries out the effects it
returns (agent operations and recurring monitors through
:class:`~cluster.crmd.executor.Executor`, GroupStateChanged events, failed
actions), and broadcasts this node's NodeResources after every change.  It
also owns what the node says about itself: ``leaving``, ``standby``,
``wants``, and keeps the part a respawned crmd must not forget in
:mod:`cluster.crmd.memory`.  It decides nothing about placement; the service
and the policy do.

Graceful shutdown (:meth:`LocalNode.leave`): report ``leaving`` at once, stop
every group (each right to left, groups in parallel, so each moves as soon as
it is down), retry failed stops a few times, then send the final report —
holding nothing — and call ``finish`` once hbcomm has queued it.

Fail counts expire (``failure_timeout`` in ha.cf, off by default): each
failure here re-arms a timer for the group; when it fires the group's fail
count here is forgotten (:meth:`LocalNode.clear_fail_counts`) and the new
report lets the DC place the group again, so a group banned everywhere comes
back by itself once its cause is gone.  The failed actions stay listed (the
history) until a cleanup.  A respawned crmd re-arms the timers from the
remembered failures' times.

After a healed partition (:mod:`cluster.crmd.rivals`) the service calls
:meth:`LocalNode.reannounce` for a group this node kept: each of its
resources whose agent announces an address
(:func:`~cluster.crmd.agents.registry.announces`) runs ``reannounce``, queued
behind whatever that resource is doing.  The result is only logged: it
changes no state, and a missing address is the monitor's to find.

Recurring monitors run every :func:`monitor_interval` seconds while a group
is started: 10 s, or twice ``deadtime`` when that is shorter (never under
1 s): a dead service need not be noticed faster than a dead node, and lab
timings (deadtime 500 ms) still see a killed daemon within a second.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence

from cluster.bus.loop import Loop, Timer
from cluster.bus.messages.crmd import FailedAction, GroupStateChanged, LastChange, NodeResources
from cluster.bus.server import Publisher
from cluster.common import trace
from cluster.config.diff import ConfigDiff
from cluster.config.hacf import HaConfig
from cluster.config.haresources import ResourceGroup
from cluster.config.values import format_duration
from cluster.crmd.agents.protocol import OpResult, Outcome
from cluster.crmd.agents.registry import announces
from cluster.crmd.executor import Executor
from cluster.crmd.memory import Memory, RespawnMemory
from cluster.crmd.report import LocalFlags, group_line, local_message, to_report
from cluster.crmd.state import GroupState, NodeReport
from cluster.crmd.transition import (
    Effect,
    Failure,
    GroupChanged,
    LocalGroups,
    MonitorsOff,
    MonitorsOn,
    OpStatus,
    Retired,
    RunOp,
)

__all__ = ["LocalNode", "monitor_interval", "resolve_target"]

log = logging.getLogger(__name__)

Send = Callable[[object, str | None, Callable[[object], None] | None], None]

_MAX_FAILURES = 64          # failed actions kept locally (newest)
_LEAVE_STOP_RETRIES = 3     # Heartbeat retried a failed stop; we try 3 more times
_LEAVE_RETRY_DELAY = 1.0
_FINAL_REPORT_GRACE = 2.0   # leave even if hbcomm never confirms the last report


def monitor_interval(ha: HaConfig) -> float:
    return min(10.0, max(1.0, 2.0 * ha.deadtime))


def resolve_target(groups: Sequence[ResourceGroup], target: str) -> tuple[str, ...] | None:
    """Group keys named by a cleanup target (group key, resource token or id, "")."""
    if not target:
        return tuple(g.key for g in groups)
    found = tuple(g.key for g in groups
                  if g.key == target or any(target in (r.token, r.id) for r in g.resources))
    return found or None


def _status(result: OpResult) -> OpStatus:
    outcome = result.outcome
    if outcome is Outcome.OK:
        return OpStatus.OK
    if outcome is Outcome.NOT_RUNNING:
        return OpStatus.NOT_RUNNING
    if outcome.hard or outcome.fatal or result.missing:
        return OpStatus.HARD
    return OpStatus.FAILED


def _cause(result: OpResult) -> str:
    """What "the same cause" compares (LocalGroups counts a hard failure once per cause)."""
    return (f"{result.action} {result.resource}: {result.outcome.value} ({result.rc}) "
            f"{result.detail}")


def _logged_only(_result: OpResult) -> None:
    """The executor has logged the result; nothing depends on it."""


class LocalNode:
    def __init__(self, node: str, loop: Loop, ha: HaConfig, groups: Sequence[ResourceGroup],
                 executor: Executor, publisher: Publisher, send: Send,
                 changed: Callable[[], None], threshold: int, memory: Memory) -> None:
        self.node = node
        self._loop = loop
        self._groups = {g.key: g for g in groups}
        self._incoming: dict[str, ResourceGroup | None] = {}  # replace retiring groups
        self._deferred: list[ConfigDiff] = []  # reloads made during maintenance mode
        self._executor = executor
        self._publisher = publisher
        self._send = send
        self._changed = changed
        self._interval = monitor_interval(ha)
        self._runner = LocalGroups([(g.key, len(g.resources)) for g in groups], threshold)
        self._threshold = threshold
        self._failure_timeout = ha.failure_timeout
        self._expiry: dict[str, Timer] = {}
        self.instance = 0
        self.joined = 0
        self.leaving = False
        self.standby = ""
        self.standby_seq = 0
        self.last_change: LastChange | None = None
        self.wants: set[str] = set()
        self.failures: list[FailedAction] = []
        self._seq = 0
        self._report_pending = False
        self._on_left: Callable[[], None] | None = None
        self._stop_retries = 0
        self._retry_pending = False
        self._left = False
        self.maintenance = False
        self.boot = ""
        self._memory = memory
        self._remembered = self._recall(memory.load())

    # -- respawn memory -----------------------------------------------------------------

    def _recall(self, memory: RespawnMemory) -> RespawnMemory:
        self.standby, self.standby_seq = memory.standby, memory.standby_seq
        self.wants = set(memory.wants)
        self.failures = list(memory.failures)
        self._runner.restore_fail_counts(memory.fail_counts)
        self._arm_expiries(memory.fail_counts)
        self.boot = memory.boot or uuid.uuid4().hex[:12]
        if memory != RespawnMemory(boot=memory.boot):
            counts = ", ".join(f"{k} {n}" for k, n in sorted(memory.fail_counts.items()))
            log.warning("an earlier crmd of this stack left: standby [%s], takeover wishes "
                        "[%s], fail counts [%s], %d failed action(s); keeping them",
                        memory.standby or "none", " ".join(sorted(memory.wants)),
                        counts, len(memory.failures))
        return memory

    def _remember(self) -> None:
        counts = {k: n for k in self._runner.keys if (n := self._runner.status(k).fail_count)}
        memory = RespawnMemory(self.standby, self.standby_seq, tuple(sorted(self.wants)),
                               counts, tuple(self.failures), self.boot)
        if memory != self._remembered:
            self._memory.save(memory)
            self._remembered = memory

    # -- lifetime ---------------------------------------------------------------------

    def start(self) -> None:
        log.info("probing %d resource group(s) before reporting anything", len(self._groups))
        self._apply(self._runner.probe_all())

    def close(self) -> None:
        for timer in self._expiry.values():
            timer.cancel()
        self._expiry.clear()
        self._executor.close()

    def leave(self, finish: Callable[[], None]) -> None:
        if self.leaving:
            return
        self.leaving, self._on_left = True, finish
        self.wants.clear()
        if self.maintenance:
            log.warning("maintenance-mode: leaving every resource running as it is")
            self._left = True
            self._final_report()
            return
        log.info("Giving up all HA resources.")
        self.report_soon()
        self._apply(self._runner.leave())

    def reconfigure(self, diff: ConfigDiff) -> None:
        """A reload changed haresources: start probing added groups, retire removed and
        changed ones (stopped with their old resources first); leave the rest alone.
        In maintenance mode group changes wait until it ends (nothing is stopped or
        started meanwhile). A new failure_timeout re-arms every fail count's expiry."""
        if diff.failure_timeout is not None:
            self._failure_timeout = diff.failure_timeout[1]
            for timer in self._expiry.values():
                timer.cancel()
            self._expiry.clear()
            self._arm_expiries(k for k in self._runner.keys if self._runner.status(k).fail_count)
        if not (diff.groups_added or diff.groups_removed or diff.groups_changed):
            return
        if self.maintenance:
            self._deferred.append(dataclasses.replace(diff, failure_timeout=None))
            log.warning("maintenance-mode: the resource group changes of this reload wait "
                        "until it ends")
            return
        effects: list[Effect] = []
        for group in diff.groups_added:
            if group.key in self._groups:  # still retiring from an earlier reload
                self._incoming[group.key] = group
                effects += self._runner.replace(group.key, len(group.resources))
            else:
                self._groups[group.key] = group
                effects += self._runner.add(group.key, len(group.resources))
        for group in diff.groups_removed:
            self._incoming[group.key] = None
            effects += self._runner.replace(group.key, None)
        for _old, group in diff.groups_changed:
            self._incoming[group.key] = group
            effects += self._runner.replace(group.key, len(group.resources))
        self._apply(effects)
        self.report_soon()

    def _retired(self, key: str) -> None:
        new = self._incoming.pop(key, None)
        if new is None:
            del self._groups[key]
            log.info("group %s is stopped and no longer in haresources: forgotten", key)
        else:
            self._groups[key] = new
            log.info("group %s is stopped; probing its new resources: %s", key, group_line(new))

    def set_maintenance(self, on: bool) -> None:
        """Maintenance mode: no operation at all, monitors paused; leaving it
        probes every group again and starts only what is missing."""
        if on == self.maintenance:
            return
        self.maintenance = on
        if on:
            log.warning("maintenance-mode on: leaving every resource as it is, "
                        "monitors paused")
            for group in self._groups.values():
                for spec in group.resources:
                    self._executor.stop_monitor(spec)
            return
        log.info("maintenance-mode off: probing every group to adopt what runs")
        self._apply(self._runner.reprobe("leaving maintenance mode: probing again"))
        deferred, self._deferred = self._deferred, []
        for diff in deferred:
            self.reconfigure(diff)
        self.report_soon()

    # -- inputs -------------------------------------------------------------------------

    def on_view(self, instance: int, member: bool) -> None:
        self.instance = instance
        if self.joined == 0 and member:
            self.joined = instance
            self._runner.adopt_since(instance)
        self.report_soon()

    def command(self, key: str, action: str, instance: int) -> None:
        if self.maintenance:
            log.info("ignored %s %s: maintenance-mode", action, key)
            return
        if not self._runner.probed:
            log.info("ignored %s %s: still probing", action, key)
            return
        self._apply(self._runner.command(key, action, instance))
        self.report_soon()                   # also when nothing changed: the DC re-sent

    def reannounce(self, key: str, released_by: Sequence[str]) -> None:
        """Every other node that ran ``key`` released it; it runs here: tell the LAN again."""
        specs = [spec for spec in self._groups[key].resources if announces(spec)]
        if specs and self._runner.status(key).state is GroupState.STARTED:
            log.info("group %s: released by %s, kept here; announcing %s again "
                     "(gratuitous ARP)", key, ", ".join(released_by),
                     ", ".join(spec.token for spec in specs))
            for spec in specs:
                self._executor.run(spec, "reannounce", _logged_only)

    def cleanup(self, keys: Sequence[str], refresh: bool = False) -> None:
        """crm_resource --cleanup/--refresh: forget failed actions and fail counts."""
        for key in keys:
            log.info("cleanup: forgetting failures of %s", key)
        self.failures = [f for f in self.failures if f.group not in keys]
        self.clear_fail_counts(keys, refresh)

    def clear_fail_counts(self, keys: Sequence[str], refresh: bool = False) -> None:
        """Forget the fail counts of ``keys`` here (failed actions stay listed):
        the groups may be placed here again; a failed, idle one is probed again
        (every idle one with ``refresh``, unless in maintenance)."""
        for key in keys:
            timer = self._expiry.pop(key, None)
            if timer is not None:
                timer.cancel()
        self._apply(self._runner.cleanup(keys, refresh and not self.maintenance))
        self.report_soon()

    def _arm_expiries(self, keys: Iterable[str]) -> None:
        """Expiry timers for ``keys``' fail counts, from each group's last failure here."""
        for key in keys:
            last = max((f.when for f in self.failures if f.group == key), default=time.time())
            self._arm_expiry(key, last)

    def _arm_expiry(self, key: str, last: float) -> None:
        """Forget ``key``'s fail count ``failure_timeout`` after ``last`` (wall clock)."""
        timeout = self._failure_timeout
        if timeout is None:
            return
        old = self._expiry.pop(key, None)
        if old is not None:
            old.cancel()
        delay = min(timeout, max(0.0, last + timeout - time.time()))
        self._expiry[key] = self._loop.call_later(delay, lambda: self._expire(key))

    def _expire(self, key: str) -> None:
        self._expiry.pop(key, None)
        count = self._runner.status(key).fail_count
        if count == 0:
            return
        assert self._failure_timeout is not None
        log.info("fail count of %s here (%d) expired: no failure for %s (failure_timeout); "
                 "it may run here again", key, count, format_duration(self._failure_timeout))
        self.clear_fail_counts([key])

    def drop_fulfilled_wants(self) -> None:
        for key in list(self.wants):
            status = self._runner.status(key)
            if status.state is GroupState.STARTED or status.fail_count >= self._threshold:
                self.wants.discard(key)

    # -- the report ---------------------------------------------------------------------

    def own_report(self) -> NodeReport | None:
        """Our report as the tracker should see it; None until probed and in a view."""
        if not self._runner.probed or self.instance == 0:
            return None
        return to_report(self._message())

    def _message(self) -> NodeResources:
        flags = LocalFlags(self.node, self._seq, self.instance, self.joined, self.leaving,
                           self.standby, frozenset(self.wants), self.standby_seq,
                           self.last_change, self.boot)
        return local_message(flags, self._runner, self.failures)

    def report_soon(self) -> None:
        if not self._report_pending:
            self._report_pending = True
            self._loop.call_later(0.0, self._send_report)

    def _send_report(self, done: Callable[[object], None] | None = None) -> None:
        self._report_pending = False
        self._remember()
        if self.own_report() is None:
            if done is not None:
                done(None)
            return
        self._seq += 1
        self._send(self._message(), None, done)
        self._changed()

    # -- effects ------------------------------------------------------------------------

    def _apply(self, effects: list[Effect], result: OpResult | None = None) -> None:
        for effect in effects:
            if isinstance(effect, RunOp):
                self._run(effect)
            elif isinstance(effect, MonitorsOn):
                self._start_monitors(effect.group)
            elif isinstance(effect, MonitorsOff):
                for spec in self._groups[effect.group].resources:
                    self._executor.stop_monitor(spec)
            elif isinstance(effect, GroupChanged):
                self._group_changed(effect)
            elif isinstance(effect, Failure):
                self._record_failure(effect, result)
            elif isinstance(effect, Retired):
                self._retired(effect.group)
        if self.leaving and self._runner.settled:
            self._leave_settled()

    def _start_monitors(self, key: str) -> None:
        if self.maintenance:
            return
        for index, spec in enumerate(self._groups[key].resources):
            def changed(result: OpResult, index: int = index) -> None:
                self._monitored(key, index, result)

            self._executor.start_monitor(spec, self._interval, changed)

    def _run(self, op: RunOp) -> None:
        spec = self._groups[op.group].resources[op.index]
        trace.mark("crmd.op", f"{op.action} {spec.token}")
        self._executor.run(spec, op.action, lambda result: self._op_done(op, result))

    def _op_done(self, op: RunOp, result: OpResult) -> None:
        trace.mark("crmd.op_done", f"{op.action} {result.outcome.name}")
        status = _status(result)
        self._apply(self._runner.op_done(op.group, op.index, op.action, status,
                                         _cause(result)), result)

    def _monitored(self, key: str, index: int, result: OpResult) -> None:
        if result.outcome is Outcome.OK or self.maintenance:
            return
        self._apply(self._runner.monitor_failed(key, index, _status(result), _cause(result)),
                    result)

    def _group_changed(self, change: GroupChanged) -> None:
        group = self._groups[change.group]
        old, new = change.previous, change.state
        if new is GroupState.STARTING and old is not GroupState.STARTING:
            log.info("Acquiring resource group: %s", group_line(group))
        elif new is GroupState.STOPPING and old in (GroupState.STARTED, GroupState.FAILED):
            log.info("Releasing resource group: %s", group_line(group))
        level = logging.WARNING if new is GroupState.FAILED else logging.INFO
        log.log(level, "group %s: %s -> %s (%s; instance %d)", change.group, old.value,
                new.value, change.why, self.instance)
        self._publisher.publish("group", GroupStateChanged(self.node, change.group, new.value,
                                                           old.value, self.instance))
        self.report_soon()

    def _record_failure(self, failure: Failure, result: OpResult | None) -> None:
        spec = self._groups[failure.group].resources[failure.index]
        interval = self._interval if failure.action == "monitor" else 0.0
        outcome = result.outcome.value if result is not None else "failed"
        self.failures.append(FailedAction(
            node=self.node, group=failure.group, resource=spec.id, agent=spec.agent,
            action=failure.action, interval=interval, outcome=outcome,
            rc=result.rc if result is not None else None,
            detail=result.detail if result is not None else "",
            when=time.time(), duration=result.duration if result is not None else 0.0))
        del self.failures[:-_MAX_FAILURES]
        self._arm_expiry(failure.group, self.failures[-1].when)
        count = self._runner.status(failure.group).fail_count
        log.error("%s %s of %s failed (%s); fail count of %s here: %d", spec.token,
                  failure.action, failure.group, outcome, failure.group, count)

    # -- leaving ------------------------------------------------------------------------

    def _leave_settled(self) -> None:
        if self._left or self._retry_pending:
            return
        failed = [k for k in self._runner.keys
                  if self._runner.status(k).state is not GroupState.STOPPED]
        if failed and self._stop_retries < _LEAVE_STOP_RETRIES:
            self._stop_retries += 1
            self._retry_pending = True
            log.warning("retrying the stop of %s (%d of %d)", ", ".join(failed),
                        self._stop_retries, _LEAVE_STOP_RETRIES)
            self._loop.call_later(_LEAVE_RETRY_DELAY, self._retry_stops)
            return
        self._left = True
        if failed:
            log.critical("Resource STOP failure: %s may still be running; leaving anyway "
                         "(the other nodes will treat this node as unclean)", ", ".join(failed))
        else:
            log.info("All HA resources relinquished.")
        self._final_report()

    def _final_report(self) -> None:
        timer = self._loop.call_later(_FINAL_REPORT_GRACE, self._finish)

        def sent(_reply: object) -> None:
            timer.cancel()
            self._finish()

        self._send_report(sent)

    def _retry_stops(self) -> None:
        self._retry_pending = False
        self._apply(self._runner.retry_stops())

    def _finish(self) -> None:
        finish, self._on_left = self._on_left, None
        if finish is not None:
            finish()
