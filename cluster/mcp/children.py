"""The child table: which processes the master control process runs, in order.

One row per child.  The built-in daemons come first in dependency order
(watchdog, transport, membership, fencing, resources, connectivity, the web
dashboard), then every ``respawn``/``failfast`` line of ha.cf in file order.  Children are
started top to bottom and stopped bottom to top.  A ``respawn`` line naming
a legacy Heartbeat daemon (``/usr/lib/heartbeat/ipfail``) selects our own
daemon instead of running that path.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from cluster.config.confdir import ClusterConfig, legacy_daemon
from cluster.runtime.paths import NodePaths

# A daemon that stops resources on the way down may need this long.
_CRMD_STOP_TIMEOUT = 600.0
_DEFAULT_STOP_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class ChildSpec:
    name: str                  # unique; built-ins use the daemon name
    argv: tuple[str, ...]
    user: str                  # "root" for built-ins
    builtin: bool
    failfast: bool = False     # Heartbeat `failfast`: abnormal death reboots the node
    stop_timeout: float = _DEFAULT_STOP_TIMEOUT

    @property
    def command(self) -> str:
        return " ".join(self.argv)


def _daemon(name: str, paths: NodePaths, node: str, debug: int,
            stop_timeout: float = _DEFAULT_STOP_TIMEOUT) -> ChildSpec:
    argv = (sys.executable, "-m", f"cluster.{name}", *paths.as_args(), "--node", node)
    argv += ("-d",) * debug
    return ChildSpec(name=name, argv=argv, user="root", builtin=True, stop_timeout=stop_timeout)


def child_table(config: ClusterConfig, paths: NodePaths, debug: int = 0) -> tuple[ChildSpec, ...]:
    """Every child this configuration calls for, in start order."""
    ha = config.ha
    node = config.local_node
    wanted_builtins = {"hbcomm", "ccm", "crmd"}
    if ha.stonith_hosts or ha.stonith:
        wanted_builtins.add("stonithd")
    if ha.watchdog:
        wanted_builtins.add("watchdog")
    if ha.web is not None:
        wanted_builtins.add("web")
    extra: list[ChildSpec] = []
    for spec in ha.respawns:
        mapped = legacy_daemon(spec.command)
        if mapped is not None:
            wanted_builtins.add(mapped)
            continue
        name = f"respawn:{spec.argv[0].rsplit('/', 1)[-1]}"
        while any(c.name == name for c in extra):
            name += "+"
        extra.append(ChildSpec(name=name, argv=("/bin/sh", "-c", f"exec {spec.command}"),
                               user=spec.user, builtin=False, failfast=spec.failfast))
    # The watchdog keeper starts first and so stops last: it guards the whole
    # shutdown, and a hang while resources are being stopped still resets the node.
    order = ("watchdog", "hbcomm", "ccm", "stonithd", "crmd", "ipfail", "web")
    builtins = [
        _daemon(name, paths, node, debug,
                _CRMD_STOP_TIMEOUT if name == "crmd" else _DEFAULT_STOP_TIMEOUT)
        for name in order if name in wanted_builtins
    ]
    return (*builtins, *extra)
