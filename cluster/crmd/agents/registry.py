"""Which agent family runs a haresources resource.

Role: :func:`make_agent` maps a parsed :class:`ResourceSpec` to an agent
object (``protocol.Agent``). Inputs: the spec, where agents live
(:class:`AgentPaths`), the loop and the kernel seams the built-ins use.
Output: an agent; it never fails. Whether a script or OCF agent exists is
checked when an operation runs (a package may be installed later), giving
``NOT_INSTALLED`` with the paths searched.

=====================================  ==========================================
haresources agent                      family
=====================================  ==========================================
``IPaddr``, ``IPaddr2``                built-in, in-process (``ipaddr.py``)
``Filesystem``                         built-in, runs mount/umount (``filesystem.py``)
``ocf:PROVIDER:TYPE``                  OCF agent, ``name=value`` arguments (``ocf.py``)
``OCF`` (``OCF::agent::instance``)     OCF ``heartbeat`` agent, params from ``conf/OCF``
anything else                          ``resource.d`` / init script (``script.py``)
=====================================  ==========================================

:func:`announces` says which of them announce a service address and so are
asked to ``reannounce`` it (the built-in IP agents and OCF agents in
``ocf.ARP_REFRESH_AGENTS``, i.e. resource-agents' ``IPaddr2``).

The built-ins take precedence over scripts of the same name in ``resource.d``:
Heartbeat's own ``resource.d/IPaddr`` was only a wrapper around the OCF agent.
To run a site's own ``IPaddr`` script anyway, name it differently.
"""

from __future__ import annotations

from cluster.bus.loop import Loop
from cluster.config.haresources import ResourceSpec
from cluster.crmd.agents.arp import ArpSender
from cluster.crmd.agents.filesystem import FilesystemAgent
from cluster.crmd.agents.ipaddr import IpAddressAgent
from cluster.crmd.agents.netlink import Netlink
from cluster.crmd.agents.ocf import ARP_REFRESH_AGENTS, OcfAgent
from cluster.crmd.agents.protocol import Agent, AgentPaths
from cluster.crmd.agents.script import ScriptAgent

__all__ = ["BUILT_IN", "announces", "make_agent"]

#: Agent names handled in-process rather than by a script.
BUILT_IN = frozenset({"IPaddr", "IPaddr2", "Filesystem"})


def make_agent(
    spec: ResourceSpec, paths: AgentPaths, loop: Loop, netlink: Netlink, arp: ArpSender
) -> Agent:
    """The agent that runs ``spec``."""
    if spec.agent in ("IPaddr", "IPaddr2"):
        return IpAddressAgent(spec.args, loop, netlink, arp)
    if spec.agent == "Filesystem":
        return FilesystemAgent(spec.args)
    ocf = _ocf_agent(spec)
    if ocf is not None and spec.is_ocf:
        return OcfAgent(*ocf, spec.id, dict(spec.ocf_params), paths)
    if ocf is not None:
        provider, agent_type = ocf
        instance = spec.args[1]
        params_file = paths.conf_dir / "conf" / "OCF" / agent_type / instance
        return OcfAgent(provider, agent_type, instance, {}, paths, params_file)
    return ScriptAgent(spec.agent, spec.args, paths)


def announces(spec: ResourceSpec) -> bool:
    """Does ``spec``'s agent announce a service address (and take ``reannounce``)?"""
    if spec.agent in ("IPaddr", "IPaddr2"):
        return True
    ocf = _ocf_agent(spec)
    return ocf is not None and ocf in ARP_REFRESH_AGENTS


def _ocf_agent(spec: ResourceSpec) -> tuple[str, str] | None:
    """(provider, type) for ``ocf:PROVIDER:TYPE`` and legacy ``OCF::type::instance``."""
    if spec.is_ocf:
        _, provider, agent_type = spec.agent.split(":", 2)
        return provider, agent_type
    if spec.agent == "OCF" and len(spec.args) == 2:
        return "heartbeat", spec.args[0]
    return None
