"""What every resource agent family speaks: requests in, outcomes out.

Role: the contract between the executor (``cluster/crmd/executor.py``) and the
agent families of this package (built-in ``IPaddr``/``IPaddr2`` and
``Filesystem``, Heartbeat ``resource.d``/LSB scripts, OCF agents).

Theory of operation. An agent is asked to carry out one :class:`OpRequest`
(``start``, ``stop`` or ``monitor``, with its interval and timeout) through
:meth:`Agent.execute`. A built-in that works in-process (netlink calls take a
millisecond) answers at once with a :class:`Reply`. An agent that needs programs
returns a *procedure*: a generator that yields steps, :class:`Command` ("run this
program, send me its :class:`Completed`") or :class:`Sleep`, and finally returns
its :class:`Reply`. The procedure never touches a process or a clock itself;
``operation.py`` runs each step on the event loop, enforces the operation's
deadline and closes the generator when the deadline passes. So every family is
tested by sending it canned :class:`Completed` values, and only the executor
needs real processes.

``reannounce`` is asked only of the agents that announce a service address
(:func:`cluster.crmd.agents.registry.announces`), for a resource already
running here: tell the LAN again, with the same gratuitous ARP train as a
start, that the address lives at this node's MAC (after a partition healed and
another node released it).  ``OK`` when announced, ``NOT_RUNNING`` when the
address is not here; it never adds or removes anything.

Outputs: the executor turns the :class:`Reply` into the public
:class:`OpResult`, adding the resource, the action and the duration.
"""

from __future__ import annotations

import enum
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Protocol

__all__ = [
    "ACTIONS",
    "Agent",
    "AgentPaths",
    "Command",
    "Completed",
    "OpRequest",
    "OpResult",
    "Outcome",
    "Procedure",
    "Reply",
    "Sleep",
    "Step",
    "run_command",
    "sleep",
]

#: The actions callers may request; ``probe`` is a one-shot monitor (interval 0),
#: ``reannounce`` only for agents that announce an address (see above).
ACTIONS = ("start", "stop", "monitor", "probe", "reannounce")

_NO_ENV: Mapping[str, str] = MappingProxyType({})


class Outcome(enum.Enum):
    """The result of one operation, independent of the agent family.

    The numbers behind the names are OCF's (reference: pacemaker.md 1.3):
    ``FAILED`` is rc 1 and every unknown code (a *soft* error: recover in place),
    ``INVALID_ARGS``/``UNIMPLEMENTED``/``NO_PERMISSION``/``NOT_INSTALLED`` are
    rc 2/3/4/5 (*hard*: this node cannot run the resource), ``CONFIG_ERROR`` is
    rc 6 (*fatal*: no node can). ``TIMEOUT`` means the executor killed it.
    """

    OK = "ok"
    NOT_RUNNING = "not running"
    FAILED = "failed"
    TIMEOUT = "timed out"
    INVALID_ARGS = "invalid arguments"
    UNIMPLEMENTED = "not implemented"
    NO_PERMISSION = "insufficient privileges"
    NOT_INSTALLED = "not installed"
    CONFIG_ERROR = "not configured"

    @property
    def hard(self) -> bool:
        """This node cannot run the resource (Pacemaker bans it from the node)."""
        return self in _HARD

    @property
    def fatal(self) -> bool:
        """The configuration itself is wrong: no node can run the resource."""
        return self is Outcome.CONFIG_ERROR


_HARD = frozenset(
    {Outcome.INVALID_ARGS, Outcome.UNIMPLEMENTED, Outcome.NO_PERMISSION, Outcome.NOT_INSTALLED}
)


@dataclass(frozen=True, slots=True)
class OpResult:
    """What one operation did: reported to the caller's callback.

    ``resource`` is the haresources token (``IPaddr::10.0.0.5/24/eth0``),
    ``action`` the requested action (``probe`` stays ``probe``), ``rc`` the exit
    code of the agent program (``None`` for built-ins and timeouts), ``detail``
    the OCF exit reason or the tail of the program's output, ``duration`` seconds.
    ``missing``: see :class:`Reply`.
    """

    resource: str
    action: str
    outcome: Outcome
    rc: int | None
    detail: str
    duration: float
    missing: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    def describe(self) -> str:
        """One log line: ``start IPaddr::10.0.0.5/24/eth0: ok in 3 ms[: detail]``."""
        ms = self.duration * 1000.0
        took = f"{ms:.0f} ms" if ms < 10_000 else f"{self.duration:.1f} s"
        rc = f" (rc={self.rc})" if self.rc not in (None, 0) else ""
        text = f"{self.action} {self.resource}: {self.outcome.value}{rc} in {took}"
        return f"{text}: {self.detail}" if self.detail else text


@dataclass(frozen=True, slots=True)
class OpRequest:
    """One operation for an agent: ``action`` is ``start``, ``stop``, ``monitor``
    or ``reannounce`` (a probe arrives as ``monitor`` with ``interval`` 0);
    times in seconds."""

    action: str
    interval: float
    timeout: float


@dataclass(frozen=True, slots=True)
class Reply:
    """An agent's answer; the executor adds resource, action and duration.

    ``missing``: the failure is this node's environment, not the service (the
    interface is down, a device is absent); trying again here cannot help until
    it comes back, so crmd treats it like ``NOT_INSTALLED``: not on this node.
    """

    outcome: Outcome
    rc: int | None = None
    detail: str = ""
    missing: bool = False


@dataclass(frozen=True, slots=True)
class Command:
    """A step: run ``argv`` (stdin /dev/null, own process group, output captured).

    ``env`` is added to the executor's base environment.
    """

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Sleep:
    """A step: wait ``seconds`` on a loop timer (the op's deadline still runs)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Completed:
    """How a :class:`Command` ended: ``rc`` is the exit status (negative: killed
    by that signal) or ``None`` when the program could not be started, in which
    case ``error`` says why. ``stdout``/``stderr`` are the last few KB."""

    rc: int | None
    stdout: str = ""
    stderr: str = ""
    error: str = ""

    def tail(self, limit: int = 400) -> str:
        """The end of stderr, else of stdout, else the start error: for ``detail``."""
        text = (self.stderr.strip() or self.stdout.strip() or self.error).strip()
        return text[-limit:]


Step = Command | Sleep
#: A multi-step operation: yields steps, receives ``Completed`` (or ``None``
#: after a ``Sleep``), returns the ``Reply``.
Procedure = Generator[Step, Completed | None, Reply]


def run_command(argv: tuple[str, ...], env: Mapping[str, str] = _NO_ENV) -> Generator[
    Step, Completed | None, Completed
]:  # fmt: skip
    """``done = yield from run_command(argv)`` inside a procedure."""
    done = yield Command(argv, env)
    if done is None:  # pragma: no cover - the executor always answers a Command
        raise RuntimeError("executor sent no result for a command")
    return done


def sleep(seconds: float) -> Generator[Step, Completed | None, None]:
    """``yield from sleep(0.2)`` inside a procedure."""
    yield Sleep(seconds)


@dataclass(frozen=True, slots=True)
class AgentPaths:
    """Where agents are looked up: the cluster config dir (``/etc/ha.d``, holding
    ``resource.d/`` and ``conf/OCF/``), the init script dir, ``OCF_ROOT``, and
    ``HA_RSCTMP`` (OCF agents' state directory: pidfiles, ARP sender pids)."""

    conf_dir: Path
    init_dir: Path = Path("/etc/init.d")
    ocf_root: Path = Path("/usr/lib/ocf")
    ha_rsctmp: Path = Path("/run/resource-agents")


class Agent(Protocol):
    """One resource's agent. The executor makes one per resource and keeps it."""

    def execute(self, request: OpRequest) -> Reply | Procedure:
        """Carry out ``request``: an immediate ``Reply`` or a procedure."""
        ...

    @property
    def busy(self) -> bool:
        """Background work still pending after the last reply (IPaddr's later
        gratuitous ARPs); a one-shot command-line tool waits for it."""
        ...

    def close(self) -> None:
        """Cancel background work (executor shutdown)."""
        ...
