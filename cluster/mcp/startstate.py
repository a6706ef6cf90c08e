"""Starting a node that is already in standby, for upgrades and repairs.

``cluster-mcp --standby``, or ``HA_NODE_START_STATE=standby`` in the
environment (``/etc/default/heartbeat``, read by the init script and the
systemd unit; Pacemaker's ``PCMK_node_start_state``), records this node's
standby in the operator's intent before crmd is spawned, so the node joins
the cluster and never takes a group, even the ones it prefers.  The standby
is crm_standby's with lifetime forever, as Pacemaker's start state is the
permanent node attribute: ``crm_status`` shows it, ``crm_standby -N NODE -v
off`` lifts it, and a stack that restarts again before the admin is done
keeps the node out.  ``online`` and ``default`` leave the node as it was.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from pathlib import Path

from cluster.crmd.memory import start_in_standby

__all__ = ["ENV", "add_argument", "enter_standby", "wanted"]

ENV = "HA_NODE_START_STATE"
_STATES = ("default", "online", "standby")


def add_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--standby", action="store_true",
                        help="join in standby (crm_standby forever): take no group until "
                             f"'crm_standby -N NODE -v off'; also {ENV}=standby")


def wanted(flag: bool, environ: Mapping[str, str]) -> bool:
    """Should this start put the node in standby?  ValueError for a bad ``ENV``."""
    value = environ.get(ENV, "").strip().lower()
    if value and value not in _STATES:
        raise ValueError(f"{ENV}={environ[ENV]!r} is not one of {', '.join(_STATES)}")
    return flag or value == "standby"


def enter_standby(state_dir: Path, node: str) -> str:
    """Record the standby; what to log about it."""
    if start_in_standby(state_dir, node, time.time()):
        return (f"starting in standby: {node} takes no resource group until "
                f"'crm_standby -N {node} -v off'")
    return f"starting in standby: {node} already was (crm_standby forever)"
