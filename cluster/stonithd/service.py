"""stonithd's shell: the bus, device children and timers around :class:`Fencer`.

Inputs: ``stonithd.ctl`` requests — FenceNode (crmd, ``stonith --fence``),
ListFenceDevices, ConfirmManualFence (meatclient) — and SIGTERM/SIGHUP.
Outputs: FenceResult replies (deferred until the request completes),
NodeFenced on ``stonithd.pub`` topic ``fence`` for every completed request,
and Heartbeat's log lines (``Resetting node X with [rps10 /dev/ttyS0]``,
``node X now reset.``, ``STONITH of X failed.``).

Devices come from ha.cf (:func:`cluster.stonithd.devices.select_devices`).
Every device operation runs in a child (:class:`DeviceOperation`), so the
loop never waits on a switch.  ``meatware`` devices run no child: the
request waits for ConfirmManualFence or its deadline.

Status checks (Heartbeat: after start and hourly) run ``check`` (status,
then the host list) on every device at start and every
``CLUSTER_STONITHD_CHECK_INTERVAL`` seconds (environment, default 3600);
a failure logs ``STONITH device X not operational!`` and shows in
ListFenceDevices.  A fence operation preempts a check running on the same
device: a check must never delay a fence.
"""

from __future__ import annotations

import functools
import logging
import os
import random
from pathlib import Path

from cluster.bus.loop import Timer
from cluster.bus.messages.common import ErrorResult, OkResult
from cluster.bus.messages.stonithd import (
    ConfirmManualFence,
    FenceDeviceInfo,
    FenceDevicesResult,
    FenceNode,
    ListFenceDevices,
    NodeFenced,
)
from cluster.bus.server import DEFERRED, Responder
from cluster.config.confdir import ClusterConfig
from cluster.runtime.daemon import DaemonContext
from cluster.stonithd.devices import DeviceConfig, map_positional, select_devices
from cluster.stonithd.fencing import (
    Action,
    AttemptFailed,
    CancelOperation,
    Completed,
    Device,
    Fencer,
    Key,
    StartOperation,
)
from cluster.stonithd.operation import DeviceOperation
from cluster.stonithd.outcome import Outcome
from cluster.stonithd.simple import parse_hostlist

__all__ = ["CHECK_INTERVAL_ENV", "StonithdService"]

log = logging.getLogger(__name__)

CHECK_INTERVAL_ENV = "CLUSTER_STONITHD_CHECK_INTERVAL"
_CHECK_INTERVAL = 3600.0     # Heartbeat's STONITH-stat: hourly
_CHECK_TIMEOUT = 60.0
#: One operation's bound per device type; a request's timeout caps it further.
_OP_TIMEOUTS = {"rps10": 35.0, "null": 10.0}      # rps10: 12 s Ready + 5 s Plug + 14 s Complete
_DEFAULT_OP_TIMEOUT = 60.0
_DONE_WORDS = {"reset": "reset", "off": "off", "on": "on"}
_TESTING_ONLY = {"null": "its resets succeed without powering anything off",
                 "ssh": "it needs the node it fences to be up and answering"}


def _check_interval() -> float:
    try:
        value = float(os.environ.get(CHECK_INTERVAL_ENV, _CHECK_INTERVAL))
    except ValueError:
        return _CHECK_INTERVAL
    return value if value > 0 else _CHECK_INTERVAL


def load_devices(config: ClusterConfig) -> tuple[DeviceConfig, ...]:
    """This node's devices; reads the R1 ``stonith TYPE FILE`` parameter file."""
    ha = config.ha
    r1_text = None
    if ha.stonith is not None:
        path = Path(ha.stonith[1])
        path = path if path.is_absolute() else config.directory / path
        try:
            r1_text = path.read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as err:
            log.error("cannot read STONITH parameter file %s: %s", path, err)
    return select_devices(ha.stonith_hosts, config.local_node, ha.stonith, r1_text,
                          source=ha.path)


class StonithdService:
    def __init__(self, ctx: DaemonContext) -> None:
        self._ctx = ctx
        self._conf_dir = ctx.paths.conf_dir
        self._interval = _check_interval()
        self._responders: dict[Key, list[Responder]] = {}
        self._ops: dict[int, DeviceOperation] = {}
        self._manual: dict[int, StartOperation] = {}
        self._checks: dict[str, DeviceOperation] = {}
        self._wakeup: Timer | None = None
        self._stopping = False
        self._configure(ctx.config)
        self.publisher = ctx.publisher()
        self.server = ctx.control_server({
            FenceNode: self._fence_node, ListFenceDevices: self._list_devices,
            ConfirmManualFence: self._confirm_manual,
        })
        self._check_timer = ctx.loop.call_later(0.0, self._check_all)

    def _configure(self, config: ClusterConfig) -> None:
        self._configs = {d.name: d for d in load_devices(config)}
        devices = [Device(d.name, d.type, _OP_TIMEOUTS.get(d.type, _DEFAULT_OP_TIMEOUT),
                          d.type == "meatware", d.delay_base, d.delay_max)
                   for d in self._configs.values()]
        self._fencer = Fencer(config.local_node, devices, random.random)
        self._status = {name: "unchecked" for name in self._configs}
        for device in devices:
            log.info("STONITH device %s (%s) configured from %s", device.name, device.type,
                     self._configs[device.name].source)
            if device.manual:
                self._manual_hosts(device.name)
            if device.type in _TESTING_ONLY:
                log.warning("STONITH device %s is for testing only: %s", device.name,
                            _TESTING_ONLY[device.type])
        if not devices:
            log.warning("no STONITH device applies to node %s", config.local_node)

    def _manual_hosts(self, name: str) -> None:
        params = map_positional(("hostlist",), self._configs[name].params)
        try:
            self._fencer.set_hosts(name, parse_hostlist(params.get("hostlist", "")))
            self._status[name] = "ok"
        except ValueError as err:
            self._status[name] = f"misconfigured: {err}"

    # -- requests -----------------------------------------------------------------
    def _fence_node(self, msg: FenceNode) -> object:
        now = self._ctx.loop.clock()
        if self._stopping:
            return ErrorResult("stopping", "stonithd is shutting down")
        key, actions = self._fencer.submit(msg.node, msg.action, msg.reason,
                                           msg.requested_by, msg.timeout, now)
        log.info("fence request: %s node %s (reason: %s; by %s; timeout %.0f s)", msg.action,
                 msg.node, msg.reason or "-", msg.requested_by or "-", msg.timeout)
        self._responders.setdefault(key, []).append(self.server.defer())
        self._apply(actions)
        return DEFERRED

    def _list_devices(self, _msg: ListFenceDevices) -> FenceDevicesResult:
        return FenceDevicesResult(tuple(
            FenceDeviceInfo(name, config.type, self._fencer.hosts(name) or (),
                            self._status[name])
            for name, config in self._configs.items()))

    def _confirm_manual(self, msg: ConfirmManualFence) -> object:
        op_id = self._fencer.running_op(msg.node, manual=True)
        if op_id is None or op_id not in self._manual:
            return ErrorResult("not_pending", f"no meatware request is waiting for {msg.node}")
        self._manual.pop(op_id)
        log.info("operator confirmed that %s was power-cycled (meatclient)", msg.node)
        self._apply(self._fencer.finished(op_id, True, "operator confirmed with meatclient",
                                          self._ctx.loop.clock()))
        return OkResult(f"{msg.node} confirmed reset")

    # -- carrying out the core's actions ----------------------------------------------
    def _apply(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, StartOperation):
                self._start(action)
            elif isinstance(action, CancelOperation):
                op = self._ops.pop(action.op_id, None)
                if op is not None:
                    op.cancel()
                self._manual.pop(action.op_id, None)
            elif isinstance(action, AttemptFailed):
                when = (f"retrying in {action.retry_in:g} s" if action.retry_in
                        else "trying the next device")
                log.error("STONITH of %s with [%s] failed: %s; %s", action.node, action.device,
                          action.detail, when)
            elif isinstance(action, Completed):
                self._completed(action)
        self._schedule_wakeup()

    def _start(self, start: StartOperation) -> None:
        device = start.device
        check = self._checks.pop(device.name, None)
        if check is not None:
            log.info("status check of %s interrupted: a fence operation needs the device",
                     device.name)
            check.cancel()
        if start.action == "reset":
            log.info("Resetting node %s with [%s]", start.node, device.name)
        else:
            log.info("Powering node %s %s with [%s]", start.node, start.action, device.name)
        if device.manual:
            self._manual[start.op_id] = start
            log.critical("OPERATOR INTERVENTION REQUIRED to %s %s.", start.action, start.node)
            log.critical('Run "meatclient -c %s" AFTER power-cycling the machine '
                         "(within %.0f s).", start.node, start.timeout)
            self._ctx.loop.call_later(start.timeout, lambda: self._manual_timeout(start))
            return
        config = self._configs[device.name]

        def done(outcome: Outcome) -> None:
            self._ops.pop(start.op_id, None)
            self._apply(self._fencer.finished(start.op_id, outcome.ok, outcome.detail,
                                              self._ctx.loop.clock()))

        try:
            self._ops[start.op_id] = DeviceOperation(
                self._ctx.loop, device.type, config.params, start.action, start.node,
                start.timeout, self._conf_dir, done)
        except OSError as err:
            self._apply(self._fencer.finished(start.op_id, False, f"cannot start: {err}",
                                              self._ctx.loop.clock()))

    def _manual_timeout(self, start: StartOperation) -> None:
        if self._manual.pop(start.op_id, None) is not None:
            self._apply(self._fencer.finished(
                start.op_id, False, f"no operator confirmation within {start.timeout:.0f} s",
                self._ctx.loop.clock()))

    def _completed(self, done: Completed) -> None:
        result = done.result
        if result.ok:
            log.info("node %s now %s.", result.node, _DONE_WORDS.get(result.action, "fenced"))
            log.info("%s of %s by [%s]: %s", result.action, result.node, result.device,
                     result.detail)
        else:
            log.error("STONITH of %s failed. %s", result.node, result.detail)
        self.publisher.publish("fence", NodeFenced(result.node, result.ok, result.action,
                                                   result.device, result.detail,
                                                   done.requested_by))
        for responder in self._responders.pop(done.key, []):
            responder.send(result)

    def _schedule_wakeup(self) -> None:
        if self._wakeup is not None:
            self._wakeup.cancel()
            self._wakeup = None
        when = self._fencer.next_wakeup()
        if when is not None:
            self._wakeup = self._ctx.loop.call_at(when, self._tick)

    def _tick(self) -> None:
        self._wakeup = None
        self._apply(self._fencer.tick(self._ctx.loop.clock()))

    # -- status checks --------------------------------------------------------------------
    def _check_all(self) -> None:
        for name, config in self._configs.items():
            if config.type == "meatware" or name in self._checks or self._fencer.busy(name):
                continue
            self._checks[name] = DeviceOperation(
                self._ctx.loop, config.type, config.params, "check", None,
                min(_CHECK_TIMEOUT, _OP_TIMEOUTS.get(config.type, _CHECK_TIMEOUT)),
                self._conf_dir, functools.partial(self._checked, name))
        self._check_timer = self._ctx.loop.call_later(self._interval, self._check_all)

    def _checked(self, name: str, outcome: Outcome) -> None:
        self._checks.pop(name, None)
        if name not in self._status:
            return
        before = self._status[name]
        if outcome.ok:
            self._fencer.set_hosts(name, outcome.hosts)
            self._status[name] = "ok"
            if before != "ok":
                log.info("STONITH device %s is operational; it can fence: %s", name,
                         " ".join(outcome.hosts))
        else:
            self._status[name] = f"not operational: {outcome.detail}"
            log.warning("STONITH device %s not operational! %s", name, outcome.detail)

    # -- lifetime --------------------------------------------------------------------------
    def shutdown(self) -> None:
        self._stopping = True
        self._apply(self._fencer.cancel_all("stonithd is shutting down"))
        self._ctx.finish()

    def reload(self, config: ClusterConfig) -> None:
        if not self._fencer.idle():
            log.warning("configuration re-read while fencing; device changes apply after a "
                        "restart of stonithd")
            return
        for check in self._checks.values():
            check.cancel()
        self._checks.clear()
        self._configure(config)
        self._check_timer.cancel()
        self._check_timer = self._ctx.loop.call_later(0.0, self._check_all)

    def close(self) -> None:
        for op in [*self._ops.values(), *self._checks.values()]:
            op.cancel()
        self._ops.clear()
        self._checks.clear()
