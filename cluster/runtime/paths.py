"""Where a node keeps its configuration, sockets, state and logs.

Defaults follow the Filesystem Hierarchy Standard and Heartbeat's layout:
``/etc/ha.d`` for configuration, ``/run/cluster`` for IPC sockets,
``/var/lib/cluster`` for state that must survive a restart (the heartbeat
generation number), ``/var/log/cluster`` for one log per daemon.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CONF_DIR = Path("/etc/ha.d")
DEFAULT_RUN_DIR = Path("/run/cluster")
DEFAULT_STATE_DIR = Path("/var/lib/cluster")
DEFAULT_LOG_DIR = Path("/var/log/cluster")


@dataclass(frozen=True, slots=True)
class NodePaths:
    conf_dir: Path
    run_dir: Path
    state_dir: Path
    log_dir: Path

    def as_args(self) -> list[str]:
        return ["-c", str(self.conf_dir), "--run-dir", str(self.run_dir),
                "--state-dir", str(self.state_dir), "--log-dir", str(self.log_dir)]


def add_run_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR,
                        help=f"directory of the stack's IPC sockets (default {DEFAULT_RUN_DIR})")


def add_node_arguments(parser: argparse.ArgumentParser) -> None:
    """The options the master control process and every daemon share."""
    parser.add_argument("-c", "--config-dir", type=Path, default=DEFAULT_CONF_DIR,
                        help=f"configuration directory holding ha.cf (default {DEFAULT_CONF_DIR})")
    parser.add_argument("--node", default=None,
                        help="this node's name (default: uname -n, or the nodeinfo file)")
    add_run_dir_argument(parser)
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                        help=f"persistent state (default {DEFAULT_STATE_DIR})")
    parser.add_argument("--log-dir", type=Path, default=DEFAULT_LOG_DIR,
                        help=f"one log file per daemon (default {DEFAULT_LOG_DIR})")
    parser.add_argument("-d", "--debug", action="count", default=0,
                        help="more verbose logging (repeat for more)")


def paths_from_args(args: argparse.Namespace) -> NodePaths:
    return NodePaths(conf_dir=args.config_dir, run_dir=args.run_dir,
                     state_dir=args.state_dir, log_dir=args.log_dir)
