"""``cluster-mon``: the monitor daemon, and ``cluster-mon status`` to ask it.

Daemon::

    cluster-mon [-f MON.CF] [--run-dir DIR] [--log-dir DIR] [--node NAME]
                [--smtp-server HOST] [--smtp-port PORT] [--mail-from ADDR]
                [-d] [--check]

runs in the foreground until SIGTERM (or SIGINT), either alone or from a
``respawn`` line of ha.cf, e.g.
``respawn root /usr/bin/cluster-mon -f /etc/ha.d/mon.cf --run-dir /run/cluster``.
The default file is Mon's: /etc/mon/mon.cf if /etc/mon exists, else
/etc/mon.cf. A bad file prints ``path:line: problem`` and exits 2;
``--check`` only reads the file. SIGHUP reads it again: a bad file is logged
with ``path:line`` and changes nothing, a good one is applied
(``MonService.reload``). SMTP options override ``smtpserver``, ``smtpport``
and ``mailfrom`` of the file. Logs go to ``<log-dir>/mon.log``,
or to stderr without ``--log-dir``. The control socket ``<run-dir>/mon.ctl``
answers ``GetMonStatus``; ``mon.pub`` publishes status changes.

Query::

    cluster-mon status [--run-dir DIR] [-s WATCH/SERVICE] [--history] [--json]

prints every service's status (exit 0), or exits 12 when no monitor answers
and 1 for an unknown service (exit codes of ``cluster/cli/output.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
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

from cluster.bus import endpoints
from cluster.bus.loop import Loop
from cluster.bus.messages.mon import get_mon_status
from cluster.cli.output import EXIT_OK, run_tool
from cluster.common.logs import setup_logging
from cluster.config.errors import ConfigError
from cluster.mon import config as monconfig
from cluster.mon.service import MonService, ServiceOptions
from cluster.mon.specs import MonConfig
from cluster.mon.status import render, to_json
from cluster.runtime.paths import add_run_dir_argument

__all__ = ["main"]

log = logging.getLogger(__name__)

EXIT_CONFIG = 2


def default_config() -> Path:
    """Mon's rule: /etc/mon/mon.cf when /etc/mon exists, else /etc/mon.cf."""
    return Path("/etc/mon/mon.cf") if Path("/etc/mon").is_dir() else Path("/etc/mon.cf")


def _daemon_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cluster-mon",
        description="Mon-style service monitor (use 'cluster-mon status' to query it)",
    )
    parser.add_argument("-f", "--config", type=Path, default=None,
                        help=f"the mon.cf to use (default {default_config()})")  # fmt: skip
    add_run_dir_argument(parser)
    parser.add_argument("--log-dir", type=Path, default=None,
                        help="write <log-dir>/mon.log (default: log to stderr)")  # fmt: skip
    parser.add_argument("--node", default=None, help="this node's name (default: hostname)")
    parser.add_argument("--smtp-server", default=None, help="overrides smtpserver of mon.cf")
    parser.add_argument("--smtp-port", type=int, default=None, help="overrides smtpport")
    parser.add_argument("--mail-from", default=None, help="overrides mailfrom")
    parser.add_argument("-d", "--debug", action="count", default=0, help="more logging")
    parser.add_argument("--check", action="store_true", help="read the config and exit")
    return parser


def _status_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cluster-mon status",
                                     description="show what cluster-mon sees")  # fmt: skip
    add_run_dir_argument(parser)
    parser.add_argument("-s", "--service", default="", help="only WATCH/SERVICE")
    parser.add_argument("--history", action="store_true", help="with history and downtimes")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--timeout", type=float, default=5.0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "status":
        return _status(_status_parser().parse_args(args[1:]))
    return _daemon(_daemon_parser().parse_args(args))


def _status(args: argparse.Namespace) -> int:
    def body() -> int:
        result = get_mon_status(args.run_dir, args.service, args.history or args.json,
                                timeout=args.timeout)  # fmt: skip
        if args.json:
            print(json.dumps(to_json(result), indent=2))
        else:
            print(render(result, history=args.history))
        return EXIT_OK

    return run_tool("cluster-mon status", body)


def _load(args: argparse.Namespace) -> MonConfig:
    config = monconfig.load(args.config or default_config())
    smtp = config.smtp
    if args.smtp_server is not None:
        smtp = dataclasses.replace(smtp, server=args.smtp_server)
    if args.smtp_port is not None:
        smtp = dataclasses.replace(smtp, port=args.smtp_port)
    if args.mail_from is not None:
        smtp = dataclasses.replace(smtp, sender=args.mail_from)
    return dataclasses.replace(config, smtp=smtp)


def _daemon(args: argparse.Namespace) -> int:
    try:
        config = _load(args)
    except ConfigError as err:
        print(f"cluster-mon: {err}", file=sys.stderr)
        return EXIT_CONFIG
    if args.check:
        for note in config.notes:
            print(f"cluster-mon: note: {note}", file=sys.stderr)
        print(f"{config.path}: {len(config.services)} services, configuration ok")
        return EXIT_OK
    node = args.node or socket.gethostname()
    setproctitle("cluster: mon")
    setup_logging("mon", node, args.log_dir, debug=args.debug, console=args.log_dir is None)
    for note in config.notes:
        log.warning("%s", note)
    run_dir: Path | None = args.run_dir
    try:
        endpoints.prepare_run_dir(args.run_dir)
    except OSError as err:
        log.error("no control socket, status queries unavailable: cannot use %s: %s",
                  args.run_dir, err)  # fmt: skip
        run_dir = None
    return _serve(config, ServiceOptions(node=node, run_dir=run_dir), lambda: _load(args))


def _reload(service: MonService, load: Callable[[], MonConfig]) -> None:
    """SIGHUP: read the file again; a bad one changes nothing."""
    path = service.config.path
    try:
        config = load()
    except ConfigError as err:
        log.error("SIGHUP: %s; keeping the running configuration", err)
        return
    for note in config.notes:
        log.warning("%s", note)
    service.reload(config)
    log.info("SIGHUP: reloaded %s: %d services", path, len(config.services))


def _serve(config: MonConfig, options: ServiceOptions, load: Callable[[], MonConfig]) -> int:
    loop = Loop()
    ctx: zmq.Context[Any] = zmq.Context()
    holder: list[MonService] = []
    # Signals first: a child may exit before the service is even built.
    loop.add_signal(signal.SIGCHLD, lambda _s: holder[0].reap() if holder else None)
    loop.add_signal(signal.SIGTERM, lambda _s: loop.stop())
    loop.add_signal(signal.SIGINT, lambda _s: loop.stop())
    loop.add_signal(signal.SIGHUP, lambda _s: _reload(holder[0], load) if holder else None)
    try:
        holder.append(MonService(config, options, loop, ctx))
    except Exception:
        log.exception("cluster-mon could not start")
        ctx.term()
        loop.close()
        return 1
    log.info("cluster-mon started (pid %d): %d services from %s", os.getpid(),
             len(config.services), config.path)  # fmt: skip
    try:
        loop.run()
    finally:
        log.info("cluster-mon stopping")
        holder[0].close()
        ctx.term()
        loop.close()
    log.info("cluster-mon stopped")
    return EXIT_OK
