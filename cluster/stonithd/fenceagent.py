"""``fence_*`` devices: the fence-agents (RHCS) standard-input protocol.

Role: run a fence agent the way Pacemaker's fencer does (reference
pacemaker.md 3.1): no arguments, options on standard input as ``name=value``
lines.  We write ``action=``, ``nodename=<target>`` and ``port=<plug>``
first and then the device's own parameters, so a ``port=`` given in the
configuration (a one-outlet device) wins, as the agent keeps the last
occurrence.  Exit 0 is success and anything else failure; a timeout is a
failure, never a success.

Configuration (``stonith_host * fence_ipmilan ipaddr=10.0.0.9 login=admin
passwd=secret pcmk_host_list=node2``): ``name=value`` words.  Words named
``pcmk_*`` are ours and never reach the agent:

* ``pcmk_host_list=a,b`` — the hosts this device fences (``port`` = host);
* ``pcmk_host_map=a:1;b:2`` — hosts and their plug names;
* neither: the agent's ``list`` action says which plugs exist.

Operations: reset = ``reboot``, off = ``off``, on = ``on``, status =
``monitor`` (device reachable), hosts = the list/map above.  Agents are
looked up as ``CONFDIR/stonith/fence_x``, then ``/usr/sbin``, ``/sbin``,
``/usr/local/sbin``; like external plugins they must not be writable by
group or others.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from pathlib import Path

from cluster.stonithd.outcome import Code, Deadline, Outcome
from cluster.stonithd.plugin import (
    ProgramResult,
    find_program,
    program_names,
    run_program,
    unsafe_program,
)

__all__ = ["FenceAgent", "fence_agent_names", "find_fence_agent"]

_SYSTEM_DIRS = (Path("/usr/sbin"), Path("/sbin"), Path("/usr/local/sbin"))
_AGENT_ACTIONS = {"reset": "reboot", "off": "off", "on": "on"}


def _search_dirs(conf_dir: Path | None) -> list[Path]:
    dirs = [conf_dir / "stonith"] if conf_dir is not None else []
    return [*dirs, *_SYSTEM_DIRS]


def find_fence_agent(name: str, conf_dir: Path | None) -> Path | None:
    if not name.startswith("fence_") or "/" in name:
        return None
    return find_program(name, _search_dirs(conf_dir))


def fence_agent_names(conf_dir: Path | None) -> list[str]:
    return sorted(program_names(_search_dirs(conf_dir), "fence_*"))


def _host_map(params: Mapping[str, str]) -> dict[str, str] | None:
    """host -> plug from pcmk_host_map / pcmk_host_list, or None for "ask the agent"."""
    mapping: dict[str, str] = {}
    for entry in params.get("pcmk_host_map", "").replace(",", ";").split(";"):
        host, sep, plug = entry.strip().partition(":")
        if host:
            mapping[host.lower()] = plug if sep else host
    for host in params.get("pcmk_host_list", "").replace(",", " ").split():
        mapping.setdefault(host.lower(), host)
    return mapping or None


class FenceAgent:
    """One ``fence_*`` device with its parameters."""

    def __init__(self, agent: Path, params: Mapping[str, str]) -> None:
        self.type = agent.name
        self.agent = agent
        self.params = dict(params)
        self._map = _host_map(self.params)

    @classmethod
    def config_names(cls, agent: Path, deadline: Deadline) -> tuple[str, ...] | Outcome:
        """Parameter names from the agent's ``metadata`` XML."""
        result = cls(agent, {})._run(deadline, "metadata")
        if isinstance(result, Outcome):
            return result
        try:
            root = ElementTree.fromstring(result.stdout)
        except ElementTree.ParseError as err:
            return Outcome(Code.OOPS, f"{agent.name}: metadata is not XML: {err}")
        names = [p.get("name", "") for p in root.iter("parameter")]
        return tuple(n for n in names if n and n not in ("action", "nodename"))

    def device_id(self) -> str:
        address = self.params.get("ipaddr") or self.params.get("ip")
        return f"{self.type} {address}" if address else self.type

    def hosts(self, deadline: Deadline) -> Outcome:
        if self._map is not None:
            hosts = tuple(self._map)
            return Outcome(Code.OK, f"{self.type} controls {' '.join(hosts)}", hosts)
        result = self._run(deadline, "list")
        if isinstance(result, Outcome):
            return result
        failed = result.failure(Code.OOPS, f"{self.type}: list", "no output")
        if failed is not None:
            return failed
        hosts = tuple(line.split(",")[0].strip().lower()
                      for line in result.stdout.splitlines() if line.strip())
        if not hosts:
            return Outcome(Code.OOPS, f"{self.type}: list printed no plug")
        return Outcome(Code.OK, f"{self.type} controls {' '.join(hosts)}", hosts)

    def status(self, deadline: Deadline) -> Outcome:
        result = self._run(deadline, "monitor")
        if isinstance(result, Outcome):
            return result
        failed = result.failure(Code.ACCESS, f"{self.type}: monitor", "device not accessible")
        return failed if failed is not None else Outcome(Code.OK, f"{self.type} device OK")

    def act(self, action: str, host: str, deadline: Deadline) -> Outcome:
        agent_action = _AGENT_ACTIONS.get(action)
        if agent_action is None:
            return Outcome(Code.INVAL, f"{self.type}: no such action {action!r}")
        plug = host if self._map is None else self._map.get(host.lower())
        if plug is None:
            return Outcome(Code.BADHOST, f"{self.type} does not control {host} "
                           f"(pcmk_host_list/pcmk_host_map: {' '.join(self._map or ())})")
        result = self._run(deadline, agent_action, host, plug)
        if isinstance(result, Outcome):
            return result
        failed = result.failure(Code.RESETFAIL, f"{self.type}: action={agent_action} port={plug}")
        if failed is not None:
            return failed
        lines = result.stdout.strip().splitlines()
        return Outcome(Code.OK, f"{self.type}: action={agent_action} port={plug}: "
                       f"{lines[-1] if lines else 'exit 0'}")

    def _stdin(self, action: str, host: str | None, plug: str | None) -> bytes:
        lines = [f"action={action}"]
        if host is not None:
            lines.append(f"nodename={host}")
        if plug is not None:
            lines.append(f"port={plug}")
        lines += [f"{key}={value}" for key, value in self.params.items()
                  if not key.startswith("pcmk_")]
        return ("\n".join(lines) + "\n").encode()

    def _run(self, deadline: Deadline, action: str, host: str | None = None,
             plug: str | None = None) -> ProgramResult | Outcome:
        refusal = unsafe_program(self.agent)
        if refusal is not None:
            return Outcome(Code.ACCESS, f"{self.type}: {refusal}")
        try:
            result = run_program([str(self.agent)], deadline,
                                 stdin=self._stdin(action, host, plug))
        except OSError as err:
            return Outcome(Code.OOPS, f"{self.type}: cannot run {self.agent}: {err}")
        if result.timed_out:
            return Outcome(Code.TIMEOUT, f"{self.type}: action={action} did not finish within "
                           f"{deadline.describe()}; killed")
        return result
