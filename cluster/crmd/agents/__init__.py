"""Resource agents: how crmd starts, stops and monitors one resource.

One module per agent family, all speaking ``protocol.py``'s contract
(``OpRequest`` in; a ``Reply`` now, or a procedure of ``Command``/``Sleep``
steps that the executor runs without blocking):

* ``ipaddr.py`` (+ ``netlink.py``, ``arp.py``): built-in IPaddr/IPaddr2,
  in-process netlink and gratuitous ARP, the failover fast path;
* ``filesystem.py``: built-in Filesystem (mount/umount/fuser);
* ``script.py``: Heartbeat ``resource.d`` and LSB init scripts;
* ``ocf.py``: OCF agents, ``ocf:PROVIDER:TYPE`` and legacy ``OCF::``;
* ``exitcodes.py``: exit codes and status text -> ``Outcome``;
* ``operation.py``: one operation under its deadline (steps, timeout, cancel);
* ``process.py``: one agent program on the event loop (pidfd, process group);
* ``registry.py``: which family runs a haresources resource;
* ``cli.py``: ``python -m cluster.crmd.agents TOKEN ACTION``, one operation by hand.

``cluster/crmd/executor.py`` queues, times and reports operations on top.
"""

from __future__ import annotations

from cluster.crmd.agents.protocol import ACTIONS, Agent, AgentPaths, OpResult, Outcome

__all__ = ["ACTIONS", "Agent", "AgentPaths", "OpResult", "Outcome"]
