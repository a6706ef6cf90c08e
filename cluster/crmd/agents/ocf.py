"""OCF resource agents: ``ocf:PROVIDER:TYPE::name=value...`` and legacy ``OCF::agent::instance``.

Role: a procedure agent that runs ``$OCF_ROOT/resource.d/PROVIDER/TYPE ACTION``
with the configuration in the environment (pacemaker.md 1.1, 1.4). Inputs: the
parsed resource (provider, type, parameters, instance name) and the request.
Output: a :class:`Reply` whose outcome follows :func:`exitcodes.ocf_outcome`
and whose detail is the agent's exit reason (its last ``ocf-exit-reason:``
line on stderr), else, for a failure, the tail of its output.

Environment set for every call (added to the executor's base environment):
``OCF_ROOT``, ``OCF_RA_VERSION_MAJOR``/``_MINOR`` (1/1), ``OCF_RESOURCE_INSTANCE``
(the resource id), ``OCF_RESOURCE_TYPE``, ``OCF_RESOURCE_PROVIDER``,
``OCF_RESKEY_<param>`` for every parameter, ``OCF_RESKEY_CRM_meta_name`` (the
action), ``OCF_RESKEY_CRM_meta_timeout`` and ``OCF_RESKEY_CRM_meta_interval``
(milliseconds; interval 0 on a probe), ``OCF_RESKEY_CRM_meta_on_node`` (this
host's name), ``OCF_EXIT_REASON_PREFIX`` and ``HA_RSCTMP`` (created if missing;
set it per node in the base environment when nodes share a file system).

Legacy ``OCF::agent::instance`` (heartbeat.md 2.2) runs provider ``heartbeat``'s
``agent`` with the parameters of the shell-style file
``CONFDIR/conf/OCF/<agent>/<instance>`` (``name=value`` lines, optional
``export``, single or double quotes, ``#`` comments; nothing is executed).
A missing or unreadable file is ``CONFIG_ERROR``, except for ``stop``, which
still runs the agent without parameters (a stop must work with broken config).

``reannounce`` (see ``protocol.py``): OCF has no such action, but
resource-agents' ``IPaddr2`` re-sends its gratuitous ARP from ``monitor`` when
``arp_count_refresh`` is above 0 (its ``run_arp_sender refresh``, normally
off). So ``reannounce`` runs ``monitor`` (interval 0) with
``OCF_RESKEY_arp_count_refresh`` set to the resource's ``arp_count`` (default
5, IPaddr2's): the agent's own ARP sender, the same train as its start. Agents
without such a refresh (:data:`ARP_REFRESH_AGENTS`) answer ``UNIMPLEMENTED``.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Mapping
from pathlib import Path

from cluster.crmd.agents.exitcodes import ocf_outcome
from cluster.crmd.agents.ipaddr import ARP_COUNT
from cluster.crmd.agents.protocol import (
    AgentPaths,
    OpRequest,
    Outcome,
    Procedure,
    Reply,
    run_command,
)

__all__ = [
    "ARP_REFRESH_AGENTS",
    "EXIT_REASON_PREFIX",
    "OcfAgent",
    "ocf_environment",
    "parse_params_file",
]

EXIT_REASON_PREFIX = "ocf-exit-reason:"
#: (provider, type) of the OCF agents whose monitor re-sends gratuitous ARP on request.
ARP_REFRESH_AGENTS = frozenset({("heartbeat", "IPaddr2")})
_RA_VERSION = ("1", "1")


def ocf_environment(
    paths: AgentPaths,
    provider: str,
    agent_type: str,
    instance: str,
    params: Mapping[str, str],
    request: OpRequest,
) -> dict[str, str]:
    """The OCF variables for one call of an agent."""
    env = {
        "OCF_ROOT": str(paths.ocf_root),
        "OCF_RA_VERSION_MAJOR": _RA_VERSION[0],
        "OCF_RA_VERSION_MINOR": _RA_VERSION[1],
        "OCF_RESOURCE_INSTANCE": instance,
        "OCF_RESOURCE_TYPE": agent_type,
        "OCF_RESOURCE_PROVIDER": provider,
        "OCF_RESKEY_CRM_meta_name": request.action,
        "OCF_RESKEY_CRM_meta_timeout": str(round(request.timeout * 1000)),
        "OCF_RESKEY_CRM_meta_interval": str(round(request.interval * 1000)),
        "OCF_RESKEY_CRM_meta_on_node": os.uname().nodename,
        "OCF_EXIT_REASON_PREFIX": EXIT_REASON_PREFIX,
        "HA_RSCTMP": str(paths.ha_rsctmp),
    }
    for name, value in params.items():
        env[f"OCF_RESKEY_{name}"] = value
    return env


def parse_params_file(text: str) -> dict[str, str]:
    """Parse a legacy ``conf/OCF`` parameter file; raises ``ValueError``."""
    params: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            words = shlex.split(line, comments=True)
        except ValueError as err:
            raise ValueError(f"line {number}: {err}") from None
        if words[:1] == ["export"]:
            words = words[1:]
        for word in words:
            name, sep, value = word.partition("=")
            if not sep or not name.isidentifier():
                raise ValueError(f"line {number}: expected name=value, got {word!r}")
            params[name] = value
    return params


class OcfAgent:
    """One OCF resource. ``params_file`` is set for the legacy ``OCF::`` form."""

    def __init__(
        self,
        provider: str,
        agent_type: str,
        instance: str,
        params: Mapping[str, str],
        paths: AgentPaths,
        params_file: Path | None = None,
    ) -> None:
        self._provider = provider
        self._type = agent_type
        self._instance = instance
        self._params = dict(params)
        self._paths = paths
        self._params_file = params_file

    @property
    def busy(self) -> bool:
        return False

    def close(self) -> None:
        pass

    @property
    def program(self) -> Path:
        return self._paths.ocf_root / "resource.d" / self._provider / self._type

    def execute(self, request: OpRequest) -> Reply | Procedure:
        program = self.program
        if not (program.is_file() and os.access(program, os.X_OK)):
            return Reply(Outcome.NOT_INSTALLED, detail=f"no executable OCF agent {program}")
        params = self._params
        if self._params_file is not None:
            try:
                params = parse_params_file(self._params_file.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError) as err:
                if request.action != "stop":
                    why = err.strerror if isinstance(err, OSError) else str(err)
                    return Reply(Outcome.CONFIG_ERROR, detail=f"{self._params_file}: {why}")
                params = {}
        if request.action == "reannounce":
            if (self._provider, self._type) not in ARP_REFRESH_AGENTS:
                return Reply(Outcome.UNIMPLEMENTED,
                             detail=f"{self._provider}:{self._type} cannot announce again")
            params = {**params, "arp_count_refresh": params.get("arp_count", str(ARP_COUNT))}
            request = OpRequest("monitor", 0.0, request.timeout)
        with contextlib.suppress(OSError):  # the agent reports it if it needs the directory
            os.makedirs(self._paths.ha_rsctmp, exist_ok=True)
        env = ocf_environment(self._paths, self._provider, self._type, self._instance, params,
                              request)  # fmt: skip
        return self._call(program, request.action, env)

    def _call(self, program: Path, action: str, env: Mapping[str, str]) -> Procedure:
        done = yield from run_command((str(program), action), env)
        if done.rc is None:
            return Reply(Outcome.NOT_INSTALLED, detail=f"cannot run {program}: {done.error}")
        reason = _exit_reason(done.stderr)
        if done.rc < 0:
            return Reply(Outcome.FAILED, done.rc, reason or f"killed by signal {-done.rc}")
        outcome = ocf_outcome(done.rc, action)
        if reason or outcome is Outcome.OK or outcome is Outcome.NOT_RUNNING:
            return Reply(outcome, done.rc, reason)
        return Reply(outcome, done.rc, done.tail())


def _exit_reason(stderr: str) -> str:
    reasons = [
        line[len(EXIT_REASON_PREFIX) :].strip()
        for line in stderr.splitlines()
        if line.startswith(EXIT_REASON_PREFIX)
    ]
    return reasons[-1] if reasons else ""
