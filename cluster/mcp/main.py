"""``cluster-mcp``: the master control process.

Loads and checks the configuration, spawns the child table, keeps every
child alive (see :mod:`cluster.mcp.child`), answers ``GetChildren`` and
``Reload`` on ``mcp.ctl``, re-reads the configuration on SIGHUP (the same
reload), and on SIGTERM stops the
children in reverse order and exits 0 leaving no process or socket behind.
``--check`` validates a configuration directory and prints what it
understood without starting anything; ``reload`` and ``--check --diff``
(:mod:`cluster.mcp.reloadcmd`) ask the running MCP to apply or preview it.

Watchdog: before an orderly stop (SIGTERM/SIGINT, or a reload that drops
the ``watchdog`` line) the MCP sends WatchdogDisarm with its pid to the
keeper and waits for the answer (at most :data:`_DISARM_TIMEOUT` s) before
stopping children; only then may the keeper close the device with the
magic ``V``.  A killed MCP sends nothing, so its keeper leaves the device
armed and the node resets (see :mod:`cluster.watchdog.keeper`).  Without a
watchdog its children run on; the next cluster-mcp for the same run dir
stops them first (:mod:`cluster.mcp.orphans`).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import zmq
from setproctitle import setproctitle

from cluster import __version__
from cluster.bus import endpoints
from cluster.bus.client import AsyncClient, BusError
from cluster.bus.loop import Loop
from cluster.bus.messages.mcp import (
    ChildrenResult,
    ChildStateChanged,
    GetChildren,
    Reload,
    ReloadResult,
)
from cluster.bus.messages.watchdog import WatchdogDisarm
from cluster.bus.server import ControlServer, Publisher
from cluster.common.heap import release_startup_garbage
from cluster.common.logs import setup_logging
from cluster.config.confdir import ClusterConfig, describe, load_config
from cluster.config.diff import diff_configs
from cluster.config.errors import ConfigError
from cluster.mcp import startstate
from cluster.mcp.children import ChildSpec, child_table
from cluster.mcp.orphans import RECORD_FILE, record_children, stop_orphans
from cluster.mcp.reloadcmd import reload_command
from cluster.mcp.spawner import Spawner, Template, become_subreaper
from cluster.mcp.supervisor import Supervisor
from cluster.mcp.template import preload_modules
from cluster.runtime.daemon import EXIT_CONFIG
from cluster.runtime.paths import NodePaths, add_node_arguments, paths_from_args

log = logging.getLogger(__name__)

TITLE = "cluster: master control process"
PID_FILE = "cluster-mcp.pid"
_WATCHDOG = "watchdog"
_DISARM_TIMEOUT = 2.0   # the keeper answers in milliseconds; do not hold a stop up longer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cluster-mcp",
        description="Master control process of the cluster stack: starts and supervises "
                    "hbcomm, ccm, crmd and the other daemons for this node.")
    add_node_arguments(parser)
    parser.add_argument("command", nargs="?", choices=["reload"],
                        help="reload: check the configuration, then have the running "
                             "cluster-mcp apply it and print what changed (exit 1 if a file "
                             "is wrong: then nothing changes)")
    parser.add_argument("--check", action="store_true",
                        help="validate the configuration, print what was understood, and exit")
    parser.add_argument("--diff", action="store_true",
                        help="with --check: what a reload would change on the running stack")
    parser.add_argument("--daemon", action="store_true",
                        help="detach from the terminal (default: run in the foreground)")
    parser.add_argument("--console", action="store_true",
                        help="also log to standard error")
    startstate.add_argument(parser)
    parser.add_argument("--version", action="version", version=f"cluster-mcp {__version__}")
    return parser


def _running_mcp(pid_file: Path) -> int | None:
    """The pid of a live master control process that owns this run dir, if any."""
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if TITLE.encode() in cmdline and pid != os.getpid() else None


def _notify_systemd(state: str) -> None:
    """sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(state.encode(), address)
        except OSError as err:
            log.warning("could not notify systemd: %s", err)


def _daemonize() -> None:
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


class MasterControl:
    """The running master control process of one node."""

    def __init__(self, config: ClusterConfig, paths: NodePaths, debug: int,
                 spawner: Spawner) -> None:
        self.config = config
        self.paths = paths
        self.debug = debug
        self.loop = Loop()
        self.started = self.loop.clock()
        self.ctx: zmq.Context[Any] = zmq.Context()
        self.publisher = Publisher(self.ctx, self.loop, paths.run_dir, "mcp")
        self.server = ControlServer(self.ctx, self.loop, paths.run_dir, "mcp",
                                    {GetChildren: self._get_children,
                                     Reload: self._reload}, self.started)
        self.supervisor = Supervisor(self.loop, child_table(config, paths, debug), paths.log_dir,
                                     self._child_changed, spawner)
        self._stopping = False
        self._watchdog_client: AsyncClient | None = None

    def _child_changed(self, event: ChildStateChanged) -> None:
        """Publish it, and keep the record a successor uses if we are killed."""
        record_children(self.paths.run_dir, self.supervisor.pids())
        self.publisher.publish("child", event)

    def _get_children(self, _msg: GetChildren) -> ChildrenResult:
        return ChildrenResult(node=self.config.local_node, mcp_pid=os.getpid(),
                              uptime=self.loop.clock() - self.started,
                              children=self.supervisor.info())

    def run(self) -> int:
        self.loop.add_signal(signal.SIGCHLD, lambda _s: self.supervisor.reap())
        self.loop.add_signal(signal.SIGTERM, self._on_term)
        self.loop.add_signal(signal.SIGINT, self._on_term)
        self.loop.add_signal(signal.SIGHUP, self._on_hup)
        self.supervisor.start_all()
        _notify_systemd("READY=1")
        release_startup_garbage()
        try:
            self.loop.run()
        finally:
            self.supervisor.kill_everything()
            if self._watchdog_client is not None:
                self._watchdog_client.close()
            self.server.close()
            self.publisher.close()
            self.ctx.term()
            self.loop.close()
        return 0

    def _on_term(self, signum: int) -> None:
        if self._stopping:
            log.info("shutdown already in progress")
            return
        self._stopping = True
        log.info("%s received; stopping all children in reverse order",
                 signal.Signals(signum).name)
        _notify_systemd("STOPPING=1")
        self._disarm_watchdog(lambda: self.supervisor.stop_all(self._all_stopped))

    def _disarm_watchdog(self, then: Callable[[], None]) -> None:
        """Tell the keeper this stop is orderly (WatchdogDisarm), then carry on."""
        if _WATCHDOG not in self.supervisor.pids():
            then()
            return
        if self._watchdog_client is None:  # closed in run(), before the context ends
            self._watchdog_client = AsyncClient(self.ctx, self.loop, self.paths.run_dir,
                                                _WATCHDOG)

        def answered(reply: object) -> None:
            if isinstance(reply, BusError):
                log.warning("watchdog keeper did not take the disarm (%s); the watchdog may "
                            "reset this node", reply)
            else:
                log.info("watchdog keeper told this stop is orderly")
            then()

        self._watchdog_client.call(WatchdogDisarm(os.getpid()), _DISARM_TIMEOUT, answered)

    def _all_stopped(self) -> None:
        log.info("all children stopped; master control process exiting")
        self.loop.stop()

    def _on_hup(self, _signum: int) -> None:
        self._reload(Reload())

    def _reload(self, msg: Reload) -> ReloadResult:
        """Read the files again; unless ``dry_run``, apply them: respawn lines here,
        the rest in each daemon (SIGHUP). A file with an error changes nothing."""
        if self._stopping:
            log.warning("reload ignored: the stack is stopping")
            return ReloadResult(applied=False, changes=(),
                                error="the stack is stopping")
        try:
            new = load_config(self.paths.conf_dir, self.config.local_node)
        except ConfigError as err:
            if not msg.dry_run:
                log.error("configuration not reloaded, keeping the running one: %s", err)
            return ReloadResult(applied=False, changes=(), error=str(err))
        changes = tuple(diff_configs(self.config, new).lines())
        if msg.dry_run:
            return ReloadResult(applied=False, changes=changes)
        for warning in new.warnings:
            log.warning("%s", warning)
        self.config = new
        log.info("configuration re-read from %s: %s", self.paths.conf_dir,
                 "; ".join(changes) or "no changes")
        specs = child_table(new, self.paths, self.debug)

        def apply() -> None:
            self.supervisor.replace_specs(specs)
            self.supervisor.signal_all(signal.SIGHUP)

        if any(spec.name == _WATCHDOG for spec in specs):
            apply()
        else:
            self._disarm_watchdog(apply)
        return ReloadResult(applied=True, changes=changes)


def _start_template(table: Sequence[ChildSpec]) -> tuple[Spawner, str]:
    """Fork the process template now, before logging, threads or zmq exist:
    the daemons are forked from it and share its imported code
    (:mod:`cluster.mcp.template`).  Without it every daemon is exec'd, and the
    second value says why, for the log."""
    if not become_subreaper():
        return Spawner(), "cannot become a child subreaper: every daemon is exec'd"
    modules = preload_modules(spec.name for spec in table if spec.builtin)
    gc.collect()
    gc.freeze()  # our later collections must not write to the pages the daemons share
    try:
        template = Template.fork(modules)
    except OSError as err:
        return Spawner(), f"cannot fork the process template ({err}): every daemon is exec'd"
    return Spawner(template, modules), ""


def _remove_leftovers(paths: NodePaths) -> None:
    """Sockets, the daemons' respawn state (``*.state``) and the record of
    children: they live for one run."""
    for pattern in ("*.ctl", "*.pub", "*.state", PID_FILE, RECORD_FILE):
        for path in paths.run_dir.glob(pattern):
            with contextlib.suppress(OSError):
                path.unlink()


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    paths = paths_from_args(args)
    if args.diff and not args.check:
        parser.error("--diff goes with --check")
    if args.command == "reload" or args.diff:
        return reload_command(paths, args.node, dry_run=args.diff,
                              running=_running_mcp(paths.run_dir / PID_FILE))
    try:
        config = load_config(paths.conf_dir, args.node)
        standby = startstate.wanted(args.standby, os.environ)
    except (ConfigError, ValueError) as err:
        print(f"cluster-mcp: {err}", file=sys.stderr)
        return EXIT_CONFIG
    if args.check:
        print(describe(config))
        return 0
    try:
        endpoints.prepare_run_dir(paths.run_dir)
        paths.log_dir.mkdir(parents=True, exist_ok=True)
        paths.state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        print(f"cluster-mcp: cannot prepare directories: {err}", file=sys.stderr)
        return 1
    pid_file = paths.run_dir / PID_FILE
    other = _running_mcp(pid_file)
    if other is not None:
        print(f"cluster-mcp: already running as pid {other} for {paths.run_dir}", file=sys.stderr)
        return 1
    try:
        start_note = startstate.enter_standby(paths.state_dir, config.local_node) if standby else ""
    except OSError as err:
        print(f"cluster-mcp: cannot record the standby to start in: {err}", file=sys.stderr)
        return 1
    if args.daemon:
        _daemonize()
    spawner, no_template = _start_template(child_table(config, paths, args.debug))
    setproctitle(TITLE)
    ha = config.ha
    setup_logging("mcp", config.local_node, paths.log_dir, logfile=ha.logfile,
                  debugfile=ha.debugfile, logfacility=ha.logfacility,
                  debug=max(ha.debug, args.debug), console=args.console)
    log.info("cluster %s starting on node %s (config %s)", __version__, config.local_node,
             paths.conf_dir)
    for warning in config.warnings:
        log.warning("%s", warning)
    if start_note:
        log.info("%s", start_note)
    if no_template:
        log.warning("%s", no_template)
    stop_orphans(paths.run_dir, max(spec.stop_timeout for spec in child_table(config, paths, 0)))
    _remove_leftovers(paths)
    pid_file.write_text(f"{os.getpid()}\n")
    try:
        return MasterControl(config, paths, args.debug, spawner).run()
    finally:
        _remove_leftovers(paths)
        log.info("master control process stopped")

