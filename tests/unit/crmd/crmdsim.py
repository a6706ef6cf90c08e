"""An in-memory cluster of real crmd services: fake bus, fake agents, virtual time.

`CrmdSim` runs one :class:`~cluster.crmd.service.CrmdService` per node — the
real shell, cores and messages (through the real codec) — on one virtual-time
loop.  hbcomm is a network that delivers SendToCluster to the destination's
``msg.crmd`` subscribers after a fixed delay (in order per pair; a cut pair
drops everything); ccm is whatever views the test forms with `form_view`.
Agents are a shared "world": which resource tokens run on which node; a
start adds, a stop removes, probes and monitors look.  Every start checks that
no other node runs the same token (`max_owners`).  Nothing sleeps: `run_until`
jumps from one timer to the next.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cluster.bus import codec
from cluster.bus.loop import Timer
from cluster.bus.messages.ccm import GetView, ViewChanged
from cluster.bus.messages.common import ErrorResult, OkResult
from cluster.bus.messages.crmd import GetStatus, IntentSync, RespawnMemory, StatusResult
from cluster.bus.messages.hbcomm import ClusterMessage, SendToCluster
from cluster.bus.server import DEFERRED
from cluster.config.authkeys import parse_authkeys
from cluster.config.confdir import ClusterConfig
from cluster.config.hacf import parse_hacf
from cluster.config.haresources import ResourceSpec, parse_haresources
from cluster.crmd.agents.protocol import OpResult, Outcome
from cluster.crmd.service import CrmdService

NET_DELAY = 0.002
OP_DELAY = 0.01
VIP = "IPaddr::10.231.1.200/24/eth0"
HARESOURCES = f"node1 {VIP} httpd\n"


class SimLoop:
    def __init__(self) -> None:
        self.now = 0.0
        self._timers: list[Timer] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(max(when, self.now), next(self._seq), callback)
        heapq.heappush(self._timers, timer)
        return timer

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return self.call_at(self.now + delay, callback)

    def step(self) -> bool:
        while self._timers:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self.now = max(self.now, timer.when)
            timer.callback()
            return True
        return False


class NodeLoop:
    """One node's view of the shared loop: callbacks die with the process."""

    def __init__(self, sim: CrmdSim, node: str, incarnation: int) -> None:
        self._sim, self._node, self._inc = sim, node, incarnation

    def clock(self) -> float:
        return self._sim.loop.now

    def _guard(self, callback: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            if self._sim.incarnation.get(self._node) == self._inc:
                callback()
        return run

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        return self._sim.loop.call_at(when, self._guard(callback))

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return self._sim.loop.call_later(delay, self._guard(callback))

    def stop(self) -> None:
        pass


class FakePublisher:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def publish(self, topic: str, msg: object) -> None:
        self.events.append((topic, msg))


class Reply:
    value: object = None


class SimServer:
    def __init__(self, handlers: dict[type, Callable[[Any], object]]) -> None:
        self._handlers = handlers
        self._current: Reply | None = None

    def defer(self) -> Responder:
        assert self._current is not None
        return Responder(self._current)

    def request(self, msg: object) -> Reply:
        reply = Reply()
        self._current = reply
        try:
            result = self._handlers[type(msg)](msg)
        finally:
            self._current = None
        if result is not DEFERRED:
            reply.value = result
        return reply


@dataclass
class Responder:
    reply: Reply
    done: bool = False

    def send(self, value: object) -> None:
        assert not self.done
        self.done = True
        self.reply.value = value


class SimClient:
    def __init__(self, sim: CrmdSim, node: str, daemon: str, loop: NodeLoop) -> None:
        self._sim, self._node, self._daemon, self._loop = sim, node, daemon, loop

    def call(self, msg: object, timeout: float, callback: Callable[[object], None]) -> None:
        if self._daemon == "hbcomm":
            assert isinstance(msg, SendToCluster)
            self._sim.deliver(self._node, msg)
            reply: object = OkResult()
        elif self._daemon == "ccm":
            assert isinstance(msg, GetView)
            reply = self._sim.views.get(self._node) or ViewChanged(0, (self._node,), False,
                                                                   self._node, formed=False)
        else:
            reply = ErrorResult("unsupported", self._daemon)
        self._loop.call_later(0.0005, lambda: callback(reply))

    def close(self) -> None:
        pass


@dataclass
class SimContext:
    sim: CrmdSim
    node: str
    config: ClusterConfig
    loop: NodeLoop
    finished: bool = False
    publishers: list[FakePublisher] = field(default_factory=list)
    server: SimServer | None = None

    @property
    def paths(self) -> Any:
        raise AssertionError("the simulator passes its own executor")

    def publisher(self) -> FakePublisher:
        pub = FakePublisher()
        self.publishers.append(pub)
        return pub

    def client(self, daemon: str) -> SimClient:
        return SimClient(self.sim, self.node, daemon, self.loop)

    def control_server(self, handlers: dict[type, Callable[[Any], object]]) -> SimServer:
        self.server = SimServer(handlers)
        return self.server

    def subscribe(self, daemon: str, topics: Iterable[str],
                  callback: Callable[[str, Any], None],
                  on_live: Callable[[], None] | None = None) -> None:
        """Live at once; confirmed on the loop's next turn, as a real publisher would."""
        self.sim.subscribers.setdefault((self.node, daemon), []).append(callback)
        if on_live is not None:
            self.loop.call_later(0.0005, on_live)

    def finish(self) -> None:
        self.finished = True


class SimMemory:
    """crmd's respawn memory for one node: kept while the machine stays up."""

    def __init__(self) -> None:
        self.saved = RespawnMemory()

    def load(self) -> RespawnMemory:
        return self.saved

    def save(self, memory: RespawnMemory) -> None:
        self.saved = memory


class SimIntents:
    """crmd's intent file for one node: in the state directory, kept across power-offs."""

    def __init__(self) -> None:
        self.saved = IntentSync(())

    def load(self) -> IntentSync:
        return self.saved

    def save(self, content: IntentSync) -> None:
        self.saved = content


class SimFencer:
    """Fences when the test says so (``sim.fence_ok``); records every request."""

    def __init__(self, sim: CrmdSim, loop: NodeLoop) -> None:
        self._sim, self._loop = sim, loop

    def fence(self, node: str, reason: str, done: Callable[[str, bool], None]) -> None:
        self._sim.fence_requests.append(node)
        ok = self._sim.fence_ok
        if ok:
            self._sim.kill(node)
        self._loop.call_later(0.05, lambda: done(node, ok))

    def notices(self) -> list[str]:
        return [] if self._sim.fence_ok else ["STONITH unavailable in this simulation"]

    def forget(self, node: str) -> None:
        pass


class FakeExecutor:
    def __init__(self, sim: CrmdSim, node: str, loop: NodeLoop) -> None:
        self._sim, self._node, self._loop = sim, node, loop
        self._monitors: dict[str, Timer] = {}
        self.ops: list[tuple[str, str]] = []
        self.times: list[float] = []            # when each of ``ops`` was asked for

    def _do(self, resource: ResourceSpec, action: str) -> OpResult:
        running = self._sim.running.setdefault(self._node, set())
        token = resource.token
        outcome = Outcome.OK
        if token in self._sim.env_down.get(self._node, set()) and action != "stop":
            if action == "start":
                return OpResult(token, action, Outcome.FAILED, None, "eth0 is down",
                                OP_DELAY, missing=True)
            if token in running:
                return OpResult(token, action, Outcome.FAILED, None, "on eth0, down", OP_DELAY)
        if action == "start":
            if token in self._sim.fail_start.get(self._node, set()):
                outcome = Outcome.FAILED
            else:
                running.add(token)
                self._sim.check_owners(token)
        elif action == "stop":
            if token in self._sim.fail_stop.get(self._node, set()):
                outcome = Outcome.FAILED
            else:
                running.discard(token)
        elif token not in running:
            outcome = Outcome.NOT_RUNNING
        return OpResult(token, action, outcome, None, "", OP_DELAY)

    def run(self, resource: ResourceSpec, action: str, callback: Callable[[OpResult], None],
            timeout: float | None = None) -> None:
        if action == "stop":
            self.stop_monitor(resource)
        self.ops.append((resource.token, action))
        self.times.append(self._loop.clock())
        self._loop.call_later(OP_DELAY, lambda: callback(self._do(resource, action)))

    def start_monitor(self, resource: ResourceSpec, interval: float,
                      on_change: Callable[[OpResult], None], timeout: float | None = None) -> None:
        self.stop_monitor(resource)
        last: list[Outcome | None] = [None]

        def fire() -> None:
            result = self._do(resource, "monitor")
            self._monitors[resource.token] = self._loop.call_later(interval, fire)
            if result.outcome is not last[0]:
                last[0] = result.outcome
                on_change(result)

        self._monitors[resource.token] = self._loop.call_later(0.0, fire)

    def stop_monitor(self, resource: ResourceSpec) -> None:
        timer = self._monitors.pop(resource.token, None)
        if timer is not None:
            timer.cancel()

    def close(self) -> None:
        for timer in self._monitors.values():
            timer.cancel()
        self._monitors.clear()


def make_config(node: str, nodes: tuple[str, ...], haresources: str, auto_failback: str,
                stonith: bool, deadtime: str, extra: str = "") -> ClusterConfig:
    text = (f"node {' '.join(nodes)}\nbcast eth0\nauto_failback {auto_failback}\n"
            f"keepalive 100ms\ndeadtime {deadtime}\n{extra}")
    if stonith:
        text += f"stonith_host * external/ssh {' '.join(nodes)}\n"
    ha = parse_hacf(text, "ha.cf")
    groups = parse_haresources(haresources, "haresources", ha.nodes)
    keys = parse_authkeys("auth 1\n1 sha256 secret\n", "authkeys", 0o600)
    return ClusterConfig(Path("/nonexistent"), ha, groups, keys, node)


class CrmdSim:
    def __init__(self, nodes: Iterable[str] = ("node1", "node2"), *,
                 haresources: str = HARESOURCES, auto_failback: str = "off",
                 stonith: bool = False, deadtime: str = "500ms", hacf: str = "") -> None:
        self.names = tuple(sorted(nodes))
        self.loop = SimLoop()
        self.running: dict[str, set[str]] = {}
        self.fail_start: dict[str, set[str]] = {}
        self.fail_stop: dict[str, set[str]] = {}
        self.env_down: dict[str, set[str]] = {}   # tokens whose interface is down there
        self.max_owners: dict[str, int] = {}
        self.views: dict[str, ViewChanged] = {}
        self.subscribers: dict[tuple[str, str], list[Callable[[str, Any], None]]] = {}
        self.incarnation: dict[str, int] = {}
        self.services: dict[str, CrmdService] = {}
        self.contexts: dict[str, SimContext] = {}
        self.executors: dict[str, FakeExecutor] = {}
        self.memories: dict[str, SimMemory] = {}
        self.intent_files: dict[str, SimIntents] = {}
        self.cuts: set[frozenset[str]] = set()
        self.instance = 0
        self.fence_ok = False
        self.fence_requests: list[str] = []
        self._settings = (haresources, auto_failback, stonith, deadtime, hacf)

    # -- processes -------------------------------------------------------------------

    def boot(self, node: str) -> CrmdService:
        inc = self.incarnation.get(node, 0) + 1
        self.incarnation[node] = inc
        for key in [k for k in self.subscribers if k[0] == node]:
            del self.subscribers[key]
        loop = NodeLoop(self, node, inc)
        haresources, failback, stonith, deadtime, hacf = self._settings
        config = make_config(node, self.names, haresources, failback, stonith, deadtime, hacf)
        ctx = SimContext(self, node, config, loop)
        executor = FakeExecutor(self, node, loop)
        service = CrmdService(ctx, executor=executor,  # type: ignore[arg-type]
                              fencer=SimFencer(self, loop),
                              memory=self.memories.setdefault(node, SimMemory()),
                              intents=self.intent_files.setdefault(node, SimIntents()))
        self.services[node], self.contexts[node], self.executors[node] = service, ctx, executor
        return service

    def boot_all(self) -> None:
        """Every node's crmd starts and they form one view."""
        for name in self.names:
            self.boot(name)
        self.form_view(self.names)

    def kill(self, node: str, *, power_off: bool = True) -> None:
        """crmd (and with power_off, the machine) dies at once."""
        self.incarnation[node] = self.incarnation.get(node, 0) + 1
        self.services.pop(node, None)
        self.views.pop(node, None)
        if power_off:
            self.running.pop(node, None)
            self.memories.pop(node, None)  # the run directory is gone with the machine

    def alive(self) -> list[str]:
        return sorted(self.services)

    # -- membership and network ---------------------------------------------------------

    def form_view(self, members: Iterable[str], quorate: bool = True) -> int:
        self.instance += 1
        names = tuple(sorted(members))
        view = ViewChanged(self.instance, names, quorate, names[0], True)
        for node in names:
            if node in self.services:
                self.views[node] = view
                self._publish(node, "ccm", "view", view)
        return self.instance

    def cut(self, a: str, b: str) -> None:
        self.cuts.add(frozenset((a, b)))

    def heal(self) -> None:
        self.cuts.clear()

    def deliver(self, src: str, msg: SendToCluster) -> None:
        targets = [msg.dest] if msg.dest is not None else list(self.names)
        for dst in targets:
            if dst != src and frozenset((src, dst)) in self.cuts:
                continue
            packet = ClusterMessage(src, msg.mtype, msg.body, msg.dest)
            data = codec.encode(packet)
            self.loop.call_later(NET_DELAY, lambda d=dst, b=data: self._publish(
                d, "hbcomm", "msg.crmd", codec.decode(b)))

    def _publish(self, node: str, daemon: str, topic: str, msg: object) -> None:
        if node not in self.services:
            return
        for callback in list(self.subscribers.get((node, daemon), ())):
            callback(topic, msg)

    # -- the world ------------------------------------------------------------------------

    def check_owners(self, token: str) -> None:
        owners = sum(1 for running in self.running.values() if token in running)
        self.max_owners[token] = max(self.max_owners.get(token, 0), owners)

    def owners(self, token: str = VIP) -> list[str]:
        return sorted(n for n, running in self.running.items() if token in running)

    def holds(self, node: str, tokens: Iterable[str]) -> bool:
        return set(tokens) <= self.running.get(node, set())

    # -- driving ---------------------------------------------------------------------------

    def run_until(self, predicate: Callable[[], object], timeout: float = 30.0) -> float:
        deadline = self.loop.now + timeout
        while not predicate():
            if self.loop.now > deadline or not self.loop.step():
                raise AssertionError(f"condition not met by t={self.loop.now:.3f}")
        return self.loop.now

    def run_for(self, seconds: float) -> None:
        deadline = self.loop.now + seconds
        marker = self.loop.call_at(deadline, lambda: None)
        while self.loop.step():
            if self.loop.now >= deadline and marker.cancelled is False:
                break

    def request(self, node: str, msg: object) -> Reply:
        server = self.contexts[node].server
        assert server is not None
        return server.request(msg)

    def status(self, node: str) -> StatusResult:
        reply = self.request(node, GetStatus())
        assert isinstance(reply.value, StatusResult)
        return reply.value
