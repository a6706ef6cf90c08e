"""``cluster-mcp reload`` and ``cluster-mcp --check --diff``: the admin's side of a reload.

Both read the configuration directory first, so a wrong file is reported here
(``file:line: problem``, exit 1) and the running stack is never asked to read
it.  Then they ask the running master control process over its bus (``Reload``
on ``mcp.ctl``): ``reload`` applies and prints what changed, as the MCP saw it;
``--diff`` only previews.  Exit codes follow LSB's reload: 0 done, 1 a wrong
file or no answer, 7 no stack running for this run directory.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cluster.bus.client import BusError, request
from cluster.bus.messages.mcp import Reload, ReloadResult
from cluster.config.confdir import load_config
from cluster.config.errors import ConfigError
from cluster.runtime.paths import NodePaths

__all__ = ["EXIT_NOT_RUNNING", "reload_command"]

EXIT_NOT_RUNNING = 7  # LSB: program is not running
#: The MCP reads four small files and answers; a loaded box may take a while.
_TIMEOUT = 20.0


def reload_command(paths: NodePaths, node: str | None, *, dry_run: bool,
                   running: int | None) -> int:
    """Validate, then ask the MCP whose pid is ``running`` (None: no stack) to reload."""
    try:
        load_config(paths.conf_dir, node)
    except ConfigError as err:
        print(f"cluster-mcp: {err}", file=sys.stderr)
        print("cluster-mcp: nothing was reloaded; the running configuration stays",
              file=sys.stderr)
        return 1
    if running is None:
        if dry_run:
            print(f"{paths.conf_dir}: configuration OK; no cluster-mcp is running for "
                  f"{paths.run_dir}, so a start would apply all of it")
            return 0
        print(f"cluster-mcp: not running for {paths.run_dir}; nothing to reload",
              file=sys.stderr)
        return EXIT_NOT_RUNNING
    try:
        reply = request(paths.run_dir, "mcp", Reload(dry_run=dry_run), timeout=_TIMEOUT)
    except BusError as err:
        print(f"cluster-mcp: pid {running} did not answer the reload: {err}", file=sys.stderr)
        return 1
    if not isinstance(reply, ReloadResult):
        print(f"cluster-mcp: unexpected answer {type(reply).__name__}", file=sys.stderr)
        return 1
    if reply.error is not None:  # the stack is stopping, or a file changed since our check
        print(f"cluster-mcp: {reply.error}", file=sys.stderr)
        print("cluster-mcp: nothing was reloaded; the running configuration stays",
              file=sys.stderr)
        return 1
    _print_changes(paths.conf_dir, reply, dry_run)
    return 0


def _print_changes(conf_dir: Path, reply: ReloadResult, dry_run: bool) -> None:
    if not reply.changes:
        print(f"{conf_dir}: no changes" + ("" if dry_run else " (reloaded)"))
        return
    head = "a reload would apply" if dry_run else "reloaded"
    print(f"{conf_dir}: {head} {len(reply.changes)} change(s):")
    for line in reply.changes:
        print(f"  {line}")
