"""Messages of the master control process (``mcp.ctl``, ``mcp.pub``)."""

from __future__ import annotations

from dataclasses import dataclass

from cluster.bus.catalogue import message


@message
@dataclass(frozen=True, slots=True)
class ChildInfo:
    name: str
    state: str          # STOPPED | STARTING | RUNNING | BACKOFF | EXITED | FATAL
    pid: int | None
    command: str
    restarts: int
    user: str


@message
@dataclass(frozen=True, slots=True)
class GetChildren:
    """List the processes the master control process manages."""


@message
@dataclass(frozen=True, slots=True)
class ChildrenResult:
    node: str
    mcp_pid: int
    uptime: float
    children: tuple[ChildInfo, ...]


@message
@dataclass(frozen=True, slots=True)
class ChildStateChanged:
    """Published on topic ``child`` whenever a child changes state."""

    name: str
    state: str
    pid: int | None
    reason: str


@message
@dataclass(frozen=True, slots=True)
class Reload:
    """Re-read the configuration directory and apply it (``cluster-mcp reload``).

    With ``dry_run`` nothing is applied: the reply only says what would change
    (``cluster-mcp --check --diff``).
    """

    dry_run: bool = False


@message
@dataclass(frozen=True, slots=True)
class ReloadResult:
    """``error`` (``file:line: problem``) when the files are wrong: then nothing changed.

    ``changes`` are :meth:`cluster.config.diff.ConfigDiff.lines`, one per change.
    """

    applied: bool
    changes: tuple[str, ...]
    error: str | None = None
