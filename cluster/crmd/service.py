"""crmd's shell: the bus and the timers around the sans-I/O cores.

Inputs: ``ccm.pub`` topic ``view`` (ViewChanged; GetView once subscribed, the
slow-joiner snapshot), ``hbcomm.pub`` topic ``msg.crmd`` (peers'
NodeResources, Command, CleanupRequested), requests on ``crmd.ctl``
(GetStatus, Standby, Takeover, ClearStandby, CleanupResource, and the
operator's intent: Constrain, SetStandby, SetMaintenance, SetManaged,
RestartGroup, WhyGroup) and SIGTERM (``shutdown``).
Outputs: this node's reports and the DC's commands through hbcomm's
SendToCluster, fencing requests, replies, and a log line for every decision
with its reason and the membership instance.  This node's groups, executor
and report live in :class:`~cluster.crmd.localnode.LocalNode`.

Flow.  Every input is folded into the :class:`~cluster.crmd.state.StateTracker`
and schedules :meth:`CrmdService._evaluate` (coalesced, and also every
:data:`EVAL_INTERVAL` s): :func:`~cluster.crmd.policy.decide` runs on every
node — its notes are what ``crm_status`` shows — and on the DC the
:class:`~cluster.crmd.coordinator.Coordinator` turns the plan into commands,
re-sending those that did not land.  Commands to this node are applied
directly, to others sent with ``dest``.

Re-announcing: after every report and evaluation, :class:`~cluster.crmd.rivals.Rivals`
says which groups this node kept while another node also ran them (a healed
partition) and that every such node has now released; :meth:`LocalNode.reannounce`
tells the LAN again where their addresses live.

Operator intent (:mod:`cluster.crmd.intent`): kept in ``crmd.intent`` in the
state directory, sent to every node (IntentSync) on every change, to a node
that joins and with every report refresh, merged newest-wins; what holds
now goes into every ClusterState the policy sees, and maintenance mode into
LocalNode (no operation, monitors paused).

Fencing: the DC hands every Fence action to a
:class:`~cluster.crmd.fencing.Fencer` (FenceNode to the local stonithd);
until it confirms, the policy keeps the groups of that departed node stopped,
and the plan's notes and the fencer's notices (``crm_status``) say why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from cluster.bus import codec, endpoints
from cluster.bus.client import BusError
from cluster.bus.loop import Timer
from cluster.bus.messages.ccm import GetView, ViewChanged
from cluster.bus.messages.common import ErrorResult, OkResult
from cluster.bus.messages.crmd import (
    MTYPE,
    CleanupRequested,
    CleanupResource,
    ClearStandby,
    Command,
    Constrain,
    FailedAction,
    GetStatus,
    IntentSync,
    LastChange,
    NodeResources,
    RestartGroup,
    SetMaintenance,
    SetManaged,
    SetStandby,
    Simulate,
    SimulationResult,
    Standby,
    StatusResult,
    Takeover,
    WhyGroup,
)
from cluster.bus.messages.hbcomm import ClusterMessage, SendToCluster
from cluster.bus.server import DEFERRED, Responder
from cluster.common import trace
from cluster.common.logs import RateLimiter
from cluster.config.confdir import ClusterConfig
from cluster.config.diff import diff_configs
from cluster.crmd.coordinator import Coordinator
from cluster.crmd.executor import Executor
from cluster.crmd.fencing import Fencer, StonithdFencer
from cluster.crmd.intent import Intents, IntentStore
from cluster.crmd.localnode import LocalNode, resolve_target
from cluster.crmd.memory import FILE_NAME as MEMORY_FILE
from cluster.crmd.memory import IntentMemory, Memory, MemoryFile, intent_file
from cluster.crmd.moves import MoveWaiter, Refused, plan_standby, plan_takeover
from cluster.crmd.operator import Change, explain, plan_constrain, running_on
from cluster.crmd.policy import DEFAULT_FAILURE_THRESHOLD, Plan, decide
from cluster.crmd.report import build_status, newest_change, policy_config, to_report
from cluster.crmd.rivals import Rivals
from cluster.crmd.simulate import simulate
from cluster.crmd.state import (
    ClusterState,
    NodeReport,
    StateTracker,
    View,
    standby_remove,
    standby_union,
)
from cluster.runtime.daemon import DaemonContext

__all__ = ["EVAL_INTERVAL", "CrmdService"]

log = logging.getLogger(__name__)

#: Re-run the policy this often (s) without news: re-sends commands that did not land.
EVAL_INTERVAL = 1.0
#: Re-broadcast our report this often (s), in case one was lost.
REFRESH_INTERVAL = 5.0
_VIEW_RETRY = 1.0
_REQUEST_TIMEOUT = 2.0
#: The files whose newest change time is the configuration's "Last change".
_CONFIG_FILES = ("ha.cf", "haresources")


def config_change(conf_dir: Path, node: str) -> LastChange:
    """The configuration as this node loaded it: its files' newest mtime, by cluster-mcp."""
    times = [path.stat().st_mtime for name in _CONFIG_FILES
             if (path := conf_dir / name).exists()]
    return LastChange(max(times, default=time.time()), "cluster-mcp", node)


class CrmdService:
    def __init__(self, ctx: DaemonContext, executor: Executor | None = None,
                 fencer: Fencer | None = None, memory: Memory | None = None,
                 intents: IntentMemory | None = None) -> None:
        self._ctx = ctx
        self._node = ctx.node
        self._config = ctx.config
        self._policy = policy_config(ctx.config, DEFAULT_FAILURE_THRESHOLD)
        self._tracker = StateTracker(ctx.node, ctx.config.ha.nodes, ctx.loop.clock())
        self._coordinator = Coordinator()
        self._rivals = Rivals(ctx.node)
        self._fencer: Fencer = fencer if fencer is not None else StonithdFencer(
            lambda: ctx.client("stonithd"),
            lambda: endpoints.control_path(ctx.paths.run_dir, "stonithd").exists())
        self._plan = Plan(None, None)
        self._waiters: list[tuple[MoveWaiter, Responder]] = []
        self._warned: set[str] = set()
        self._seen_seq: dict[str, int] = {}
        self._failures: dict[str, tuple[FailedAction, ...]] = {}
        self._changes: dict[str, LastChange | None] = {}
        self._eval_pending = False
        self._send_errors = RateLimiter(interval=10.0)
        self.publisher = ctx.publisher()
        self._hbcomm = ctx.client("hbcomm")
        self._ccm = ctx.client("ccm")
        self.local = LocalNode(
            ctx.node, ctx.loop, ctx.config.ha, ctx.config.groups,
            executor if executor is not None else Executor(ctx.loop, ctx.paths.conf_dir),
            self.publisher, self._send, self._changed, self._policy.failure_threshold,
            memory if memory is not None else MemoryFile(ctx.paths.run_dir / MEMORY_FILE))
        self.local.last_change = config_change(ctx.config.directory, ctx.node)
        self._intent_file = (intents if intents is not None
                             else intent_file(ctx.paths.state_dir))
        self._intents = IntentStore(self._intent_file.load().entries)
        self._resolved = Intents()
        self._refresh_intents()
        self.server = ctx.control_server({
            GetStatus: self._get_status, Standby: self._standby, Takeover: self._takeover,
            ClearStandby: self._clear_standby, CleanupResource: self._cleanup,
            Constrain: self._constrain, SetStandby: self._set_standby,
            SetMaintenance: self._set_maintenance, SetManaged: self._set_managed,
            RestartGroup: self._restart, WhyGroup: self._why, Simulate: self._simulate,
        })
        ctx.subscribe("ccm", ["view"], self._on_ccm, on_live=self._ask_view)
        ctx.subscribe("hbcomm", [f"msg.{MTYPE}"], self._on_hbcomm)
        self.local.start()
        self._tick_timer = ctx.loop.call_later(EVAL_INTERVAL, self._tick)
        self._refresh_timer = ctx.loop.call_later(REFRESH_INTERVAL, self._refresh)
        self._recheck_timer: Timer | None = None

    # -- Service protocol -----------------------------------------------------------------

    def shutdown(self) -> None:
        self._coordinator.reset()
        self.local.leave(self._ctx.finish)
        self._changed()

    def reload(self, config: ClusterConfig) -> None:
        """haresources and auto_failback live: added groups start, removed ones stop,
        changed ones restart (see LocalNode.reconfigure); the others are not touched."""
        diff = diff_configs(self._config, config)
        self._config = config
        self._policy = policy_config(config, self._policy.failure_threshold)
        self.local.reconfigure(diff)
        log.info("configuration reloaded: %s",
                 "; ".join(diff.lines("crmd")) or "resource groups unchanged")
        self._changed()

    def close(self) -> None:
        self._tick_timer.cancel()
        self._refresh_timer.cancel()
        if self._recheck_timer is not None:
            self._recheck_timer.cancel()
        for _waiter, responder in self._waiters:
            responder.send(ErrorResult("shutdown", "crmd is shutting down"))
        self._waiters.clear()
        self.local.close()

    # -- the bus --------------------------------------------------------------------------

    def _send(self, msg: object, dest: str | None, done: Callable[[object], None] | None) -> None:
        def reply(result: object) -> None:
            if isinstance(result, BusError | ErrorResult) and self._send_errors.allow():
                log.warning("could not send %s to %s: %s", type(msg).__name__,
                            dest or "the cluster", result)
            if done is not None:
                done(result)

        self._hbcomm.call(SendToCluster(MTYPE, codec.encode(msg), dest), _REQUEST_TIMEOUT,
                          reply)

    def _ask_view(self) -> None:
        self._ccm.call(GetView(), _REQUEST_TIMEOUT, self._on_view_reply)

    def _on_view_reply(self, reply: object) -> None:
        if isinstance(reply, ViewChanged):
            self._on_view(reply)
        if self._tracker.view is None:
            self._ctx.loop.call_later(_VIEW_RETRY, self._ask_view)

    def _on_ccm(self, _topic: str, msg: object) -> None:
        if isinstance(msg, ViewChanged):
            self._on_view(msg)

    def _on_view(self, msg: ViewChanged) -> None:
        trace.mark("crmd.view", str(msg.instance))
        if not msg.formed:
            log.debug("membership view %d is not formed yet; waiting", msg.instance)
            return
        event = self._tracker.on_view(View(msg.instance, frozenset(msg.members), msg.quorate))
        if event is None:
            return
        log.info("membership instance %d: members [%s], %s quorum; joined [%s], "
                 "departed [%s]", msg.instance, " ".join(msg.members),
                 "with" if msg.quorate else "WITHOUT", " ".join(event.joined),
                 " ".join(event.departed))
        for name in event.departed:
            log.warning("node %s left the membership (instance %d)", name, msg.instance)
        for name in event.joined:
            self._coordinator.forget_takeovers(name)
            self._warned.discard(name)
            self._fencer.forget(name)
        self._changed()     # queued first: a takeover's decision goes before our report
        if any(name != self._node for name in event.joined):
            self._sync_intents()
        self.local.on_view(msg.instance, self._node in msg.members)

    def _on_hbcomm(self, _topic: str, msg: object) -> None:
        if not isinstance(msg, ClusterMessage) or msg.src == self._node:
            return
        try:
            body = codec.decode(msg.body)
        except codec.CodecError as err:
            log.warning("dropped a malformed crmd message from %s: %s", msg.src, err)
            return
        if isinstance(body, NodeResources):
            self._on_report(msg.src, body)
        elif isinstance(body, Command):
            self._on_command(msg.src, body)
        elif isinstance(body, CleanupRequested):
            if body.node and body.node != self._node:
                return
            keys = resolve_target(self._ctx.config.groups, body.target)
            log.info("cleanup of %s requested by %s", body.target or "everything", msg.src)
            self.local.cleanup(keys or (), body.refresh)
        elif isinstance(body, IntentSync):
            self._on_intents(msg.src, body)
        else:
            log.warning("dropped an unexpected %s from %s", type(body).__name__, msg.src)

    def _on_report(self, src: str, msg: NodeResources) -> None:
        try:
            report = to_report(msg)
        except ValueError as err:
            log.warning("dropped a report from %s: %s", src, err)
            return
        previous = self._tracker.node(src).report
        if report.leaving and (previous is None or not previous.leaving):
            log.info("node %s is shutting down: its groups move as soon as they are "
                     "stopped there", src)
        self._tracker.on_report(src, report, self._ctx.loop.clock())
        self._failures[src] = msg.failures
        self._changes[src] = msg.last_change
        last = self._seen_seq.get(src)
        if last is None or msg.seq <= last:
            self.local.report_soon()     # a crmd (re)started there: tell it about us now
        self._seen_seq[src] = msg.seq
        self._landed(src, report)
        self._check_rivals(self.state())
        self._changed()

    def _on_command(self, src: str, cmd: Command) -> None:
        view = self._tracker.view
        if view is None or cmd.instance != view.instance or src not in view.members:
            log.info("ignored %s %s from %s: decided in instance %d, this node is in %s",
                     cmd.action, cmd.group, src, cmd.instance,
                     view.instance if view else "no view")
            return
        if cmd.action == "start" and self._node in self._resolved.standby:
            log.warning("refused start %s from DC %s: this node is in standby (crm_standby); "
                        "sending it the operator's intent", cmd.group, src)
            self._sync_intents()
            return
        log.info("DC %s orders (instance %d, #%d): %s %s", src, cmd.instance, cmd.serial,
                 cmd.action, cmd.group)
        self.local.command(cmd.group, cmd.action, cmd.instance)

    # -- deciding -------------------------------------------------------------------------

    def _changed(self) -> None:
        if not self._eval_pending:
            self._eval_pending = True
            self._ctx.loop.call_later(0.0, self._evaluate)

    def _tick(self) -> None:
        self._tick_timer = self._ctx.loop.call_later(EVAL_INTERVAL, self._tick)
        self._evaluate()

    def _refresh(self) -> None:
        self._refresh_timer = self._ctx.loop.call_later(REFRESH_INTERVAL, self._refresh)
        self.local.report_soon()
        self._sync_intents()

    def state(self) -> ClusterState:
        """The table as of now, our own groups included."""
        report = self.local.own_report()
        if report is not None:
            self._tracker.on_report(self._node, report, self._ctx.loop.clock())
        return self._tracker.snapshot(self._ctx.loop.clock(), self._coordinator.in_flight(),
                                      self._resolved)

    # -- the operator's intent ------------------------------------------------------------

    def _refresh_intents(self) -> None:
        """Resolve the intents that hold now (lifetimes, boot ids) and apply
        maintenance mode to this node."""
        boots = self._tracker.boots()
        boots[self._node] = self.local.boot
        resolved = self._intents.resolve(time.time(), boots)
        for gone in set(self._resolved.constraints) - set(resolved.constraints):
            if gone.expires and gone.expires <= time.time():
                log.info("constraint %s expired", gone.id)
        self._resolved = resolved
        self.local.set_maintenance(resolved.maintenance)

    def _sync_intents(self) -> None:
        entries = self._intents.entries()
        if entries:
            self._send(IntentSync(entries), None, None)

    def _on_intents(self, src: str, msg: IntentSync) -> None:
        if self._intents.merge(msg.entries):
            log.info("operator intent updated from %s", src)
            self._intent_file.save(IntentSync(self._intents.entries()))
            self._refresh_intents()
            self._changed()
        if self._intents.behind(msg.entries):
            self._sync_intents()

    def _write(self, tool: str, changes: tuple[Change, ...], boot: str = "") -> None:
        """Record the operator's changes, tell every node, and act on them."""
        now = time.time()
        for change in changes:
            self._intents.write(change.kind, change.group, change.node, change.value,
                                now=now, origin=self._node, expires=change.expires,
                                boot=boot)
        if changes:
            self._record_change("", tool)
            self._intent_file.save(IntentSync(self._intents.entries()))
            self._sync_intents()
            self._refresh_intents()
            self._changed()

    def _landed(self, src: str, report: NodeReport) -> None:
        for node in self._coordinator.on_report(src, report, self._ctx.loop.clock()):
            log.info("mach_down takeover complete for node %s.", node)

    def _evaluate(self) -> None:
        trace.mark("crmd.evaluate")
        self._eval_pending = False
        self._refresh_intents()
        own = self.local.own_report()
        if own is None:
            return                              # still probing, or no formed view yet
        self._landed(self._node, own)
        state = self.state()
        self._check_rivals(state)
        plan = decide(state, self._policy)
        trace.mark("crmd.decided", str(plan.instance))
        level = logging.INFO if plan.dc == self._node else logging.DEBUG
        for note in plan.notes:
            if note not in self._plan.notes:
                log.log(level, "instance %s: %s", plan.instance, note)
        was_dc = self._plan.dc == self._node
        self._plan = plan
        self.local.drop_fulfilled_wants()
        self._check_waiters(state)
        if plan.dc != self._node or self.local.leaving:
            if was_dc:
                self._coordinator.reset()
            return
        if not was_dc:
            log.info("this node is the designated coordinator (instance %s)", plan.instance)
        self._recheck(plan.recheck)
        self._act(plan, state)

    def _recheck(self, when: float | None) -> None:
        """Decide again at ``when`` (a restart backoff ends), not only on the next tick."""
        if self._recheck_timer is not None:
            self._recheck_timer.cancel()
            self._recheck_timer = None
        if when is not None:
            self._recheck_timer = self._ctx.loop.call_at(when, self._changed)

    def _check_rivals(self, state: ClusterState) -> None:
        """Checked on every report, not only per (coalesced) evaluation: a rival's
        ``started`` and ``stopped`` may arrive together."""
        for key, rivals in self._rivals.update(state):
            self.local.reannounce(key, rivals)

    def _act(self, plan: Plan, state: ClusterState) -> None:
        for name in plan.unprotected:
            if name not in self._warned:
                self._warned.add(name)
                log.warning("No STONITH device configured.")
                log.warning("Shared disks are not protected.")
        dispatch = self._coordinator.dispatch(plan, state)
        for name in dispatch.acquiring:
            log.info("Resources being acquired from %s.", name)
        for fence in dispatch.fences:
            log.warning("instance %s: fencing %s: %s", plan.instance, fence.node, fence.reason)
            self._fencer.fence(fence.node, fence.reason, self._fenced)
        for order in dispatch.orders:
            log.info("decision (instance %d, #%d): %s %s on %s: %s", order.instance,
                     order.serial, order.action, order.group, order.node, order.reason)
            if order.node == self._node:
                trace.mark("crmd.order", f"{order.action} {order.group}")
                self.local.command(order.group, order.action, order.instance)
            else:
                self._send(Command(order.instance, order.group, order.action, order.serial),
                           order.node, None)

    def _fenced(self, node: str, ok: bool) -> None:
        if ok and self._tracker.on_fenced(node):
            log.info("STONITH confirmed: %s is off and holds nothing", node)
            self._coordinator.on_fenced(node)
            self._changed()

    # -- requests --------------------------------------------------------------------------

    def _get_status(self, _msg: GetStatus) -> StatusResult:
        state = self.state()
        notices = self._fencer.notices()
        failures = dict(self._failures)
        failures[self._node] = tuple(self.local.failures)
        change = newest_change([self.local.last_change, *self._changes.values()])
        return build_status(state, self._policy, decide(state, self._policy), failures,
                            notices, change)

    def _record_change(self, client: str, default: str) -> None:
        """A request changed intent: it is the cluster's "Last change" (sent in our report)."""
        self.local.last_change = LastChange(time.time(), client or default, self._node)

    def _standby(self, msg: Standby) -> object:
        state = self.state()
        now = self._ctx.loop.clock()
        plan = plan_standby(self._policy, state, msg.which, self.local.leaving, now, msg.timeout)
        if isinstance(plan, Refused):
            return ErrorResult(plan.code, plan.message)
        log.info("Going standby [%s].", msg.which)
        self._record_change(msg.client, "hb_standby")
        self.local.standby = standby_union(self.local.standby, msg.which)
        self.local.standby_seq = 1 + max((state.node(n).standby_seq for n in state.nodes),
                                         default=0)
        self.local.wants.difference_update(plan.groups)
        return self._wait(plan, "nothing to give up: this node holds none of them")

    def _takeover(self, msg: Takeover) -> object:
        state = self.state()
        now = self._ctx.loop.clock()
        plan = plan_takeover(self._policy, state, msg.which, self.local.leaving, now,
                             msg.timeout)
        if isinstance(plan, Refused):
            return ErrorResult(plan.code, plan.message)
        which = "local" if msg.which == "failback" else msg.which
        log.info("Taking over [%s]: %s", msg.which, ", ".join(plan.groups) or "nothing to do")
        self._record_change(msg.client, "hb_takeover")
        self.local.standby = standby_remove(self.local.standby, which)
        self.local.wants.update(plan.groups)
        return self._wait(plan, "this node already holds them")

    def _clear_standby(self, msg: ClearStandby) -> OkResult:
        if not self.local.standby:
            return OkResult("this node is not in standby")
        log.info("Standby [%s] lifted.", self.local.standby)
        self._record_change(msg.client, "crm_standby")
        self.local.standby = ""
        self.local.report_soon()
        return OkResult("standby lifted")

    def _wait(self, plan: MoveWaiter, nothing: str) -> object:
        self.local.report_soon()
        if not plan.groups:
            return OkResult(nothing)
        self._waiters.append((plan, self.server.defer()))
        self._ctx.loop.call_at(plan.deadline, lambda: self._check_waiters(self.state()))
        return DEFERRED

    def _check_waiters(self, state: ClusterState) -> None:
        for item in list(self._waiters):
            waiter, responder = item
            if waiter.complete(state):
                verb = "Standby" if waiter.kind == "standby" else "Takeover"
                responder.send(OkResult(f"{verb} [{waiter.which}] completed: "
                                        f"{waiter.describe(state)}"))
            elif state.now >= waiter.deadline:
                if waiter.kind == "takeover":
                    self.local.wants.difference_update(waiter.groups)
                    self.local.report_soon()
                responder.send(ErrorResult("timeout", f"not completed in time: "
                                           f"{waiter.describe(state)}"))
            else:
                continue
            self._waiters.remove(item)

    def _cleanup(self, msg: CleanupResource) -> object:
        keys = resolve_target(self._ctx.config.groups, msg.target)
        if keys is None:
            return ErrorResult("unknown_resource", f"Resource '{msg.target}' not found")
        if msg.node and msg.node not in self._ctx.config.ha.nodes:
            return ErrorResult("unknown_node", f"No node named '{msg.node}' in the cluster")
        if msg.node in ("", self._node):
            self.local.cleanup(keys, msg.refresh)
        self._record_change(msg.client, "crm_resource")
        self._send(CleanupRequested(msg.target, msg.node, msg.refresh), None, None)
        nodes = [msg.node] if msg.node else list(self.state().members)
        return OkResult("\n".join(f"Cleaned up {key} on {node}"
                                  for key in keys for node in nodes))

    def _group(self, target: str) -> str | ErrorResult:
        """The one group key ``target`` names (group key, resource token or id)."""
        keys = resolve_target(self._ctx.config.groups, target) if target else None
        if not keys:
            return ErrorResult("unknown_resource", f"Resource '{target}' not found")
        if len(keys) > 1:
            return ErrorResult("ambiguous", f"'{target}' names several groups: "
                               f"{', '.join(keys)}; give a group id")
        return keys[0]

    def _constrain(self, msg: Constrain) -> object:
        key = self._group(msg.target)
        if isinstance(key, ErrorResult):
            return key
        expires = time.time() + msg.lifetime if msg.lifetime > 0 else 0.0
        plan = plan_constrain(self._policy, self.state(), self._intents, msg.action, key,
                              msg.node, expires)
        if isinstance(plan, Refused):
            return ErrorResult(plan.code, plan.message)
        log.info("crm_resource --%s %s%s: %s", msg.action, key,
                 f" on {msg.node}" if msg.node else "",
                 "; ".join(f"{c.kind} {c.node or c.value} {'set' if c.value else 'cleared'}"
                           for c in plan.changes) or "nothing to do")
        self._write("crm_resource", plan.changes)
        return OkResult(plan.text)

    def _set_standby(self, msg: SetStandby) -> object:
        if msg.node not in self._ctx.config.ha.nodes:
            return ErrorResult("unknown_node", f"No node named '{msg.node}' in the cluster")
        if msg.lifetime not in ("forever", "reboot"):
            return ErrorResult("bad_request", f"unknown lifetime {msg.lifetime!r} "
                               "(forever or reboot)")
        boot = ""
        if msg.on and msg.lifetime == "reboot":
            boot = (self.local.boot if msg.node == self._node
                    else self._tracker.boots().get(msg.node, ""))
            if not boot:
                return ErrorResult("not_ready", f"{msg.node} has not reported since its "
                                   "stack started; a standby with lifetime reboot needs it "
                                   "up (or use -l forever)")
        log.info("crm_standby: %s standby %s (lifetime %s)", msg.node,
                 "on" if msg.on else "off", msg.lifetime)
        self._write("crm_standby", (Change("standby", "", msg.node, "on" if msg.on else ""),), boot)
        return OkResult("")

    def _set_maintenance(self, msg: SetMaintenance) -> object:
        log.warning("maintenance-mode set to %s", "true" if msg.on else "false")
        self._write("crm_attribute", (Change("maintenance", "", "", "true" if msg.on else ""),))
        return OkResult("")

    def _set_managed(self, msg: SetManaged) -> object:
        key = self._group(msg.target)
        if isinstance(key, ErrorResult):
            return key
        log.info("crm_resource: %s %s", key, "managed" if msg.managed else "unmanaged")
        self._write("crm_resource", (Change("unmanaged", key, "", "" if msg.managed else "true"),))
        return OkResult("")

    def _restart(self, msg: RestartGroup) -> object:
        key = self._group(msg.target)
        if isinstance(key, ErrorResult):
            return key
        state = self.state()
        if state.intents.maintenance or key in state.intents.unmanaged:
            return ErrorResult("refused", f"{key} is not managed (maintenance-mode or "
                               "--unmanage): not restarting it")
        where = running_on(state, key)
        view = state.view
        if not where or view is None:
            return ErrorResult("refused", f"Resource '{key}' is not running")
        for node in where:
            log.info("crm_resource --restart: restarting %s on %s", key, node)
            if node == self._node:
                self.local.command(key, "restart", view.instance)
            else:
                self._send(Command(view.instance, key, "restart", 0), node, None)
        return OkResult("\n".join(f"Restarting {key} on {node}" for node in where))

    def _why(self, msg: WhyGroup) -> object:
        key = self._group(msg.target)
        if isinstance(key, ErrorResult):
            return key
        group = next(g for g in self._ctx.config.groups if g.key == key)
        state = self.state()
        return OkResult(explain(self._policy, state, decide(state, self._policy), group))

    def _simulate(self, msg: Simulate) -> object:
        unknown = [n for n in (*msg.node_fail, *msg.standby) if n not in self._ctx.config.ha.nodes]
        if unknown:
            return ErrorResult("unknown_node", f"No node named '{unknown[0]}' in the cluster")
        state = self.state()
        if state.view is None:
            return ErrorResult("not_ready", "no membership view has formed yet")
        result = simulate(state, self._policy, msg.node_fail, msg.standby)
        return SimulationResult(result.before, result.after, result.actions, result.notes)
