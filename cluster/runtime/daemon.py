"""The shell every daemon runs in: arguments, config, logs, title, loop.

``run_daemon("hbcomm", HbcommService)`` parses the shared options, loads the
configuration (exit 2 with ``file:line: problem`` when it is wrong), sets the
process title ``cluster: hbcomm``, opens the daemon's log, builds the event
loop and the ZeroMQ context, constructs the service and runs until SIGTERM.
SIGTERM/SIGINT call ``service.shutdown()``, which calls ``ctx.finish()``
once the daemon has wound down (crmd first stops its resources); SIGHUP
calls ``service.reload()``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import zmq
from setproctitle import setproctitle

from cluster.bus import endpoints
from cluster.bus.client import AsyncClient, EventCallback, LiveCallback, Subscriber
from cluster.bus.loop import Loop
from cluster.bus.server import ControlServer, Handler, Publisher
from cluster.common.heap import release_startup_garbage
from cluster.common.logs import setup_logging
from cluster.config.confdir import ClusterConfig, load_config
from cluster.config.errors import ConfigError
from cluster.runtime.paths import NodePaths, add_node_arguments, paths_from_args

log = logging.getLogger(__name__)

EXIT_CONFIG = 2
# Heartbeat's convention: a child that exits 100 must not be respawned.
EXIT_NO_RESPAWN = 100


class CannotStart(Exception):
    """The host does not give the daemon what it needs (a key file others can read).

    Logged as one error line naming what to fix, without a traceback; cluster-mcp
    respawns the daemon with its usual backoff, so fixing the file is enough.
    """


class NotNeeded(Exception):
    """Raised by a service factory when the configuration gives it nothing to do.

    The daemon exits 100, which the master control process never respawns.
    """


class Service(Protocol):
    def shutdown(self) -> None: ...
    def reload(self, config: ClusterConfig) -> None: ...
    def close(self) -> None: ...


@dataclass
class DaemonContext:
    """Everything a daemon's service needs from its process."""

    name: str
    node: str
    paths: NodePaths
    config: ClusterConfig
    loop: Loop
    zmq: zmq.Context[Any]
    debug: int = 0
    started: float = 0.0
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def control_server(self, handlers: Mapping[type, Handler]) -> ControlServer:
        server = ControlServer(self.zmq, self.loop, self.paths.run_dir, self.name, handlers,
                               self.started)
        self._closers.append(server.close)
        return server

    def publisher(self) -> Publisher:
        pub = Publisher(self.zmq, self.loop, self.paths.run_dir, self.name)
        self._closers.append(pub.close)
        return pub

    def subscribe(self, daemon: str, topics: Iterable[str], callback: EventCallback,
                  on_live: LiveCallback | None = None) -> Subscriber:
        sub = Subscriber(self.zmq, self.loop, self.paths.run_dir, daemon, topics, callback,
                         on_live)
        self._closers.append(sub.close)
        return sub

    def client(self, daemon: str) -> AsyncClient:
        client = AsyncClient(self.zmq, self.loop, self.paths.run_dir, daemon)
        self._closers.append(client.close)
        return client

    def finish(self) -> None:
        """The service has wound down: leave the loop."""
        self.loop.stop()

    def close_bus(self) -> None:
        for closer in reversed(self._closers):
            try:
                closer()
            except Exception:
                log.exception("error while closing the bus")
        self._closers.clear()


def parse_daemon_args(name: str, argv: Sequence[str] | None,
                      extra: Callable[[argparse.ArgumentParser], None] | None = None
                      ) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m cluster.{name}",
                                     description=f"cluster {name} daemon (started by cluster-mcp)")
    add_node_arguments(parser)
    if extra is not None:
        extra(parser)
    return parser.parse_args(argv)


def run_daemon(name: str, factory: Callable[[DaemonContext], Service],
               argv: Sequence[str] | None = None, title: str | None = None) -> int:
    """Run one daemon to completion; return its exit status."""
    args = parse_daemon_args(name, argv)
    paths = paths_from_args(args)
    try:
        config = load_config(paths.conf_dir, args.node)
    except ConfigError as err:
        print(f"{name}: {err}", file=sys.stderr)
        return EXIT_CONFIG
    setproctitle(title or f"cluster: {name}")
    ha = config.ha
    setup_logging(name, config.local_node, paths.log_dir, logfile=ha.logfile,
                  debugfile=ha.debugfile, logfacility=ha.logfacility,
                  debug=max(ha.debug, args.debug))
    endpoints.prepare_run_dir(paths.run_dir)
    loop = Loop()
    ctx = DaemonContext(name=name, node=config.local_node, paths=paths, config=config,
                        loop=loop, zmq=zmq.Context(), debug=args.debug, started=loop.clock())
    try:
        service = factory(ctx)
    except NotNeeded as reason:
        log.info("%s not needed: %s; exiting without respawn", name, reason)
        status = EXIT_NO_RESPAWN
    except CannotStart as reason:
        log.error("%s cannot start: %s", name, reason)
        status = 1
    except Exception:
        log.exception("%s could not start", name)
        status = 1
    else:
        status = 0
    if status:
        ctx.close_bus()
        ctx.zmq.term()
        loop.close()
        return status
    shutting_down = False

    def on_term(signum: int) -> None:
        nonlocal shutting_down
        if shutting_down:
            return
        shutting_down = True
        log.info("%s shutting down (%s)", name, signal.Signals(signum).name)
        service.shutdown()

    def on_hup(_signum: int) -> None:
        try:
            new = load_config(paths.conf_dir, args.node)
        except ConfigError as err:
            log.error("configuration not reloaded, keeping the running one: %s", err)
            return
        ctx.config = new
        service.reload(new)

    loop.add_signal(signal.SIGTERM, on_term)
    loop.add_signal(signal.SIGINT, on_term)
    loop.add_signal(signal.SIGHUP, on_hup)
    log.info("%s started (pid %d)", name, os.getpid())
    release_startup_garbage()
    try:
        loop.run()
    finally:
        service.close()
        ctx.close_bus()
        ctx.zmq.term()
        loop.close()
    log.info("%s stopped", name)
    return 0


class BusOnlyService:
    """A daemon that so far only speaks the bus: Ping on its control socket.

    Used by daemons whose own logic has not landed yet, so that the master
    control process, respawn and shutdown can be exercised end to end.
    """

    def __init__(self, ctx: DaemonContext) -> None:
        self._ctx = ctx
        self.server = ctx.control_server({})
        self.publisher = ctx.publisher()

    def shutdown(self) -> None:
        self._ctx.finish()

    def reload(self, config: ClusterConfig) -> None:
        log.info("configuration reloaded")

    def close(self) -> None:
        pass
