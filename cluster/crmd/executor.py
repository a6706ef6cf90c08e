"""How crmd runs resources: agent operations with deadlines, one at a time per resource.

Role: crmd's only way to touch a resource (Pacemaker's execd, in-process).
Inputs: ``run(resource, action, callback)`` for ``start``/``stop``/``monitor``/
``probe``/``reannounce`` and ``start_monitor``/``stop_monitor`` for recurring monitors.
Output: one :class:`OpResult` per operation through its callback, called from
the event loop (never from inside ``run``), and a log line per operation.
Talks to: the agents of ``cluster.crmd.agents`` and the programs they run.

Theory of operation. Each resource (keyed by its haresources token) has a FIFO
queue; at most one operation per resource runs, the rest wait in order
(Pacemaker's executor serialises per resource the same way), while different
resources run in parallel. The resource's agent is made once and kept (the IP
agent remembers its pending ARP announcements). Each operation is an
``agents.operation.Operation``: it runs the agent's answer on the loop under a
deadline (default 20 s per action, Pacemaker's default op timeout) and, when
the deadline passes, kills the program's whole process group and ends as
``TIMEOUT`` once it is reaped. Nothing here blocks: the daemon keeps
heartbeating while an agent runs.

Recurring monitors run ``monitor`` every ``interval`` seconds, counted from the
end of the previous run, through the same queue, so a monitor never overlaps
another operation of its resource. Only the first result and changes of
outcome reach ``on_change`` (and the log, at INFO or WARNING; unchanged results
log at DEBUG). A ``stop`` of the resource ends its recurring monitor first, as
Pacemaker cancels recurring operations before stopping.

Cancelling (``OpHandle.cancel``): a queued operation is dropped; a running one
has its process group killed and its result discarded. After ``cancel()`` the
callback is never called.

Logging: ``start IPaddr::10.0.0.5/24/eth0: ok in 3 ms: <detail>`` at INFO;
failed monitors at WARNING, failed starts and stops (and timeouts) at ERROR.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cluster.bus.loop import Loop, Timer
from cluster.config.haresources import ResourceSpec
from cluster.crmd.agents.arp import ArpSender, RawArpSender
from cluster.crmd.agents.netlink import Netlink, Rtnetlink
from cluster.crmd.agents.operation import Operation, Phase
from cluster.crmd.agents.protocol import (
    ACTIONS,
    Agent,
    AgentPaths,
    OpRequest,
    OpResult,
    Outcome,
    Reply,
)
from cluster.crmd.agents.registry import make_agent

__all__ = ["DEFAULT_TIMEOUTS", "Executor", "OpHandle"]

log = logging.getLogger(__name__)

#: Per-action timeouts in seconds (Pacemaker's default op timeout is 20 s).
DEFAULT_TIMEOUTS: Mapping[str, float] = {"start": 20.0, "stop": 20.0, "monitor": 20.0,
                                         "probe": 20.0, "reannounce": 20.0}  # fmt: skip
_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

ResultCallback = Callable[[OpResult], None]


@dataclass(eq=False)
class _Job:
    """A submitted operation and where its result goes."""

    resource: ResourceSpec
    operation: Operation
    callback: ResultCallback
    recurring: bool


class OpHandle:
    """A submitted operation; ``cancel()`` withdraws it (see the module doc)."""

    def __init__(self, executor: Executor, job: _Job) -> None:
        self._executor = executor
        self._job = job

    @property
    def done(self) -> bool:
        """Finished, or cancelled."""
        return self._job.operation.phase is Phase.DONE

    def cancel(self) -> None:
        self._executor._cancel(self._job)


@dataclass(eq=False)
class _Recurring:
    resource: ResourceSpec
    interval: float
    on_change: ResultCallback
    timeout: float | None
    last: Outcome | None = None
    handle: OpHandle | None = None
    timer: Timer | None = None


class Executor:
    """Runs agent operations on ``loop``; see the module docstring.

    ``conf_dir`` holds ``resource.d/`` and ``conf/OCF/``; ``env`` is the base
    environment of every agent program (default: this process's), where
    ``OCF_ROOT`` and ``HA_RSCTMP`` may be overridden. ``init_dir`` is where LSB
    scripts are looked up after ``resource.d``; ``netlink`` and ``arp`` are the
    IP agents' kernel seams (tests pass fakes).
    """

    def __init__(
        self,
        loop: Loop,
        conf_dir: Path,
        env: Mapping[str, str] | None = None,
        *,
        init_dir: Path = Path("/etc/init.d"),
        netlink: Netlink | None = None,
        arp: ArpSender | None = None,
    ) -> None:
        self._loop = loop
        self._env = dict(os.environ if env is None else env)
        self._env.setdefault("PATH", _DEFAULT_PATH)
        self._paths = AgentPaths(
            conf_dir=Path(conf_dir),
            init_dir=init_dir,
            ocf_root=Path(self._env.get("OCF_ROOT") or "/usr/lib/ocf"),
            ha_rsctmp=Path(self._env.get("HA_RSCTMP") or "/run/resource-agents"),
        )
        self._netlink = netlink if netlink is not None else Rtnetlink()
        self._raw_arp: RawArpSender | None = None  # ours to close
        if arp is None:
            arp = self._raw_arp = RawArpSender()
        self._arp = arp
        self._agents: dict[str, Agent] = {}
        self._queues: dict[str, deque[_Job]] = {}
        self._current: dict[str, _Job] = {}
        self._pumping: set[str] = set()
        self._recurring: dict[str, _Recurring] = {}
        self._closed = False

    # -- public API ------------------------------------------------------------

    def run(
        self,
        resource: ResourceSpec,
        action: str,
        callback: ResultCallback,
        timeout: float | None = None,
    ) -> OpHandle:
        """Queue ``action`` (one of ``ACTIONS``) for ``resource``."""
        if action == "stop":
            self.stop_monitor(resource)
        return self._submit(resource, action, callback, timeout, 0.0, recurring=False)

    def start_monitor(
        self,
        resource: ResourceSpec,
        interval: float,
        on_change: ResultCallback,
        timeout: float | None = None,
    ) -> None:
        """Monitor ``resource`` every ``interval`` s (replacing an earlier one);
        ``on_change`` gets the first result and every change of outcome."""
        if interval <= 0:
            raise ValueError(f"monitor interval must be positive, got {interval}")
        self.stop_monitor(resource)
        rec = _Recurring(resource, interval, on_change, timeout)
        self._recurring[resource.token] = rec
        rec.timer = self._loop.call_later(0.0, lambda: self._fire(rec))

    def stop_monitor(self, resource: ResourceSpec) -> None:
        """End the recurring monitor of ``resource`` (no-op if there is none)."""
        rec = self._recurring.pop(resource.token, None)
        if rec is None:
            return
        if rec.timer is not None:
            rec.timer.cancel()
        if rec.handle is not None:
            rec.handle.cancel()

    @property
    def monitors(self) -> frozenset[str]:
        """Tokens of the resources with a recurring monitor."""
        return frozenset(self._recurring)

    @property
    def idle(self) -> bool:
        """No operation queued or running and no agent busy in the background."""
        return (
            not self._current
            and not self._queues
            and not any(agent.busy for agent in self._agents.values())
        )

    def close(self) -> None:
        """Cancel everything: kill and reap running programs, stop announcements."""
        self._closed = True
        for rec in list(self._recurring.values()):
            self.stop_monitor(rec.resource)
        for queue in self._queues.values():
            for job in queue:
                job.operation.cancel()
        self._queues.clear()
        for job in list(self._current.values()):
            job.operation.close()
        self._current.clear()
        for agent in self._agents.values():
            agent.close()
        self._netlink.close()
        if self._raw_arp is not None:
            self._raw_arp.close()

    # -- queueing ----------------------------------------------------------------

    def _submit(
        self,
        resource: ResourceSpec,
        action: str,
        callback: ResultCallback,
        timeout: float | None,
        interval: float,
        *,
        recurring: bool,
    ) -> OpHandle:
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
        if timeout is None:
            timeout = DEFAULT_TIMEOUTS[action]
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        if self._closed:
            raise RuntimeError("executor is closed")
        request = OpRequest("monitor" if action == "probe" else action, interval, timeout)
        operation = Operation(self._loop, action, request, self._env, self._done,
                              label=f"{action} {resource.token}")  # fmt: skip
        job = _Job(resource, operation, callback, recurring)
        self._queues.setdefault(resource.token, deque()).append(job)
        self._schedule(resource.token)
        return OpHandle(self, job)

    def _schedule(self, token: str) -> None:
        """Start the next operation of ``token`` from the loop, not from our caller."""
        if token not in self._pumping:
            self._pumping.add(token)
            self._loop.call_later(0.0, lambda: self._pump(token))

    def _pump(self, token: str) -> None:
        self._pumping.discard(token)
        if self._closed or token in self._current:
            return
        queue = self._queues.get(token)
        if not queue:
            return
        job = queue.popleft()
        if not queue:
            del self._queues[token]
        self._current[token] = job
        agent = self._agents.get(token)
        if agent is None:
            agent = make_agent(job.resource, self._paths, self._loop, self._netlink, self._arp)
            self._agents[token] = agent
        job.operation.begin(agent)

    def _cancel(self, job: _Job) -> None:
        queue = self._queues.get(job.resource.token)
        if job.operation.phase is Phase.QUEUED and queue is not None:
            queue.remove(job)
            if not queue:
                del self._queues[job.resource.token]
        job.operation.cancel()

    def _done(self, operation: Operation, reply: Reply) -> None:
        """An operation ended: free its resource's slot, report unless cancelled."""
        token = next((t for t, j in self._current.items() if j.operation is operation), None)
        if token is None:  # pragma: no cover - every running operation is current
            return
        job = self._current.pop(token)
        self._schedule(token)
        if operation.cancelled:
            return
        duration = self._loop.clock() - operation.started
        result = OpResult(token, operation.action, reply.outcome, reply.rc, reply.detail, duration,
                          reply.missing)
        if job.recurring:
            log.debug("%s", result.describe())
        else:
            _log_result(result)
        _deliver(job.callback, result)

    # -- recurring monitors --------------------------------------------------------

    def _fire(self, rec: _Recurring) -> None:
        rec.timer = None
        if self._recurring.get(rec.resource.token) is not rec:
            return
        rec.handle = self._submit(
            rec.resource, "monitor", lambda result: self._monitored(rec, result),
            rec.timeout, rec.interval, recurring=True,
        )  # fmt: skip

    def _monitored(self, rec: _Recurring, result: OpResult) -> None:
        rec.handle = None
        if self._recurring.get(rec.resource.token) is not rec:
            return
        if result.outcome is not rec.last:
            rec.last = result.outcome
            _log_result(result, prefix=f"recurring (every {rec.interval:g} s) ")
            _deliver(rec.on_change, result)
        if self._recurring.get(rec.resource.token) is rec:  # on_change may have stopped it
            rec.timer = self._loop.call_later(rec.interval, lambda: self._fire(rec))


def _log_result(result: OpResult, prefix: str = "") -> None:
    """INFO for success (and a monitor finding it stopped), WARNING for a failed
    monitor or re-announcement, ERROR for a failed start or stop."""
    if result.outcome is Outcome.OK or (
        result.outcome is Outcome.NOT_RUNNING and result.action in ("monitor", "probe")
    ):
        level = logging.INFO
    elif result.action in ("monitor", "probe", "reannounce"):
        level = logging.WARNING
    else:
        level = logging.ERROR
    log.log(level, "%s%s", prefix, result.describe())


def _deliver(callback: ResultCallback, result: OpResult) -> None:
    try:
        callback(result)
    except Exception:
        log.exception("result callback for %s %s raised", result.action, result.resource)
