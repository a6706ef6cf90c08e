"""The watchdog keeper's shell: device, timers, Ping to the MCP, WatchdogDisarm.

Spawned by cluster-mcp for ``watchdog DEVICE`` in ha.cf.  At start it opens
the device (``Using watchdog device: /dev/watchdog``), sets its timeout to
Heartbeat's ``ceil((deadtime + 10 ms) / 1 s)`` seconds and feeds it as
:class:`cluster.watchdog.keeper.Keeper` decides: every period one Ping to
``mcp.ctl``, one keepalive per answer from our MCP.

Inputs: ``watchdog.ctl`` WatchdogDisarm (from the MCP, before it stops its
children), Ping answers, SIGTERM.  Outputs: writes to the device, log
lines.  On SIGTERM the device is closed with ``V`` only after an accepted
WatchdogDisarm while the MCP is still our parent; any other ending —
SIGTERM without it, a crash of this process, ``kill -9`` — leaves it armed.
A device that cannot be opened is fatal (exit 1: the MCP respawns us with
backoff), because a node that asked for a watchdog must not run without.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from cluster.bus.client import BusError
from cluster.bus.loop import Timer
from cluster.bus.messages.common import ErrorResult, OkResult, Ping, PingResult
from cluster.bus.messages.watchdog import WatchdogDisarm
from cluster.config.confdir import ClusterConfig
from cluster.runtime.daemon import DaemonContext, NotNeeded
from cluster.watchdog.device import WatchdogDevice
from cluster.watchdog.keeper import (
    Action,
    Close,
    Keeper,
    Pet,
    Recovered,
    SendPing,
    Starving,
    device_timeout,
    feed_period,
    ping_timeout,
)

__all__ = ["WatchdogService"]

log = logging.getLogger(__name__)


class WatchdogService:
    def __init__(self, ctx: DaemonContext) -> None:
        self._ctx = ctx
        ha = ctx.config.ha
        if ha.watchdog is None:
            raise NotNeeded("no watchdog line in ha.cf")
        self._path = Path(ha.watchdog)
        self._device = WatchdogDevice.open(self._path)
        log.info("Using watchdog device: %s", self._path)
        wanted = device_timeout(ha.deadtime)
        try:
            actual = self._device.set_timeout(wanted)
        except OSError as err:
            log.warning("cannot set the watchdog timeout on %s: %s", self._path, err)
            actual = None
        if actual is None:
            log.warning("watchdog %s runs with its own timeout (it cannot be set to %d s)",
                        self._path, wanted)
        else:
            log.info("watchdog timeout set to %d s (deadtime %.3f s)", actual, ha.deadtime)
        self._timeout = actual
        period = feed_period(ha.keepalive, actual)
        self._mcp = ctx.client("mcp")
        self._keeper = Keeper(period, os.getppid(), ctx.loop.clock(),
                              ping_timeout(period, actual))
        self.server = ctx.control_server({WatchdogDisarm: self._disarm})
        log.info("feeding the watchdog every %.3f s while the master control process "
                 "(pid %d) answers", period, self._keeper.mcp_pid)
        self._timer: Timer | None = None
        self._apply(self._keeper.start(ctx.loop.clock()))
        self._schedule()

    # -- timers and pings ---------------------------------------------------------
    def _schedule(self) -> None:
        self._timer = self._ctx.loop.call_later(self._keeper.period, self._tick)

    def _tick(self) -> None:
        self._apply(self._keeper.tick(self._ctx.loop.clock()))
        self._schedule()

    def _on_ping(self, reply: Any) -> None:
        now = self._ctx.loop.clock()
        if isinstance(reply, PingResult):
            self._apply(self._keeper.answered(reply.pid, now))
        elif isinstance(reply, BusError):
            self._apply(self._keeper.unanswered(str(reply), now))
        else:
            self._apply(self._keeper.unanswered(f"unexpected answer {reply!r}", now))

    def _apply(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Pet):
                self._pet()
            elif isinstance(action, SendPing):
                self._mcp.call(Ping(), action.timeout, self._on_ping)
            elif isinstance(action, Starving):
                left = "" if self._timeout is None else (
                    f"; the node resets about {self._timeout} s after the last keepalive")
                log.critical("master control process not answering (%s): no longer feeding "
                             "the watchdog%s", action.why, left)
            elif isinstance(action, Recovered):
                log.warning("master control process answers again after %.1f s; feeding the "
                            "watchdog again", action.starved_for)
            elif isinstance(action, Close):
                self._close(action)

    def _pet(self) -> None:
        try:
            self._device.keepalive()
        except OSError as err:
            log.error("cannot feed the watchdog %s: %s", self._path, err)

    def _close(self, action: Close) -> None:
        if action.magic:
            log.info("closing the watchdog device with the magic close (%s)", action.why)
        else:
            left = "" if self._timeout is None else f" in {self._timeout} s"
            log.warning("closing the watchdog device armed (%s): the node resets%s unless it "
                        "is reopened and fed", action.why, left)
        try:
            self._device.close(action.magic)
        except OSError as err:
            log.error("closing the watchdog device %s failed: %s", self._path, err)

    # -- requests -------------------------------------------------------------------
    def _disarm(self, msg: WatchdogDisarm) -> object:
        if not self._keeper.disarm(msg.mcp_pid):
            log.warning("WatchdogDisarm from pid %d refused: our MCP is pid %d", msg.mcp_pid,
                        self._keeper.mcp_pid)
            return ErrorResult("refused", f"pid {msg.mcp_pid} is not this keeper's MCP")
        log.info("orderly shutdown announced by the MCP: the watchdog will be disarmed on stop")
        return OkResult("the watchdog will be closed with the magic close on SIGTERM")

    # -- lifetime ------------------------------------------------------------------------
    def shutdown(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._apply(self._keeper.terminate(os.getppid()))
        self._ctx.finish()

    def reload(self, config: ClusterConfig) -> None:
        if config.ha.watchdog != str(self._path):
            log.warning("watchdog device changed to %s in ha.cf; still using %s until the "
                        "stack restarts", config.ha.watchdog, self._path)

    def close(self) -> None:
        if self._device.is_open:  # ended without SIGTERM (an internal error): stay armed
            self._close(Close(False, "the keeper is exiting unexpectedly"))
