"""What crmd remembers across its own respawns.

A crmd that crashes is respawned by cluster-mcp at once.  Its resources are
found by the probe and adopted, but what this node *said* would be lost: a
node in standby would come back out of it (and with ``auto_failback on`` the
group would move back for no reason), and a group that failed here
``failure_threshold`` times would be allowed back.  So LocalNode writes
standby, takeover wishes, fail counts and failed actions to ``crmd.state``
in the run directory whenever they change, and reads them at start.

The file lives for one run of the stack: cluster-mcp empties the run
directory when it starts, and ``/run`` is empty after a reboot.  A stack
restart therefore starts clean, like Heartbeat's ``hb_standby`` and
Pacemaker's transient fail counts.  An unreadable file is logged and
ignored: forgetting is the old behaviour, never a reason not to start.

The operator's intent (crm_standby forever, moves, bans, maintenance mode,
unmanaged groups) is meant to outlive the stack: :func:`intent_file` keeps it
in ``crmd.intent`` in the *state* directory, with the same file handling.
The run-directory memory also holds this stack run's boot id (reboot-lifetime
standby, :mod:`cluster.crmd.intent`).

:func:`start_in_standby` is the one write to ``crmd.intent`` that is not
crmd's: ``cluster-mcp --standby`` records the node's standby there before it
spawns crmd, so the node joins already in standby and never takes a group.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from cluster.bus import codec
from cluster.bus.messages.crmd import IntentSync, RespawnMemory
from cluster.common.files import write_atomic
from cluster.crmd.intent import IntentStore

__all__ = ["FILE_NAME", "INTENT_FILE_NAME", "CodecFile", "IntentMemory", "Memory", "MemoryFile",
           "RespawnMemory", "intent_file", "start_in_standby"]

log = logging.getLogger(__name__)

FILE_NAME = "crmd.state"
#: The operator's intent (cluster.crmd.intent), in the state directory.
INTENT_FILE_NAME = "crmd.intent"

T = TypeVar("T")


class Memory(Protocol):
    def load(self) -> RespawnMemory: ...

    def save(self, memory: RespawnMemory) -> None: ...


class IntentMemory(Protocol):
    def load(self) -> IntentSync: ...

    def save(self, content: IntentSync) -> None: ...


class CodecFile(Generic[T]):
    """One codec-encoded message of type ``kind`` in a file, replaced atomically.

    ``what`` names the content for log lines ("standby and fail counts").
    """

    def __init__(self, path: Path, kind: type[T], empty: T, what: str) -> None:
        self.path = path
        self._kind = kind
        self._empty = empty
        self._what = what

    def load(self) -> T:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return self._empty
        except OSError as err:
            log.warning("cannot read %s (%s): %s start clean", self.path, err.strerror,
                        self._what)
            return self._empty
        try:
            content = codec.decode(data)
        except codec.CodecError as err:
            log.warning("ignoring %s: %s; %s start clean", self.path, err, self._what)
            return self._empty
        if not isinstance(content, self._kind):
            log.warning("ignoring %s: it holds a %s", self.path, type(content).__name__)
            return self._empty
        return content

    def write(self, content: T) -> None:
        """Replace the file; OSError when it cannot be."""
        write_atomic(self.path, codec.encode(content))

    def save(self, content: T) -> None:
        """Replace the file; a failure is logged (the content is then forgotten at
        the next start)."""
        try:
            self.write(content)
        except OSError as err:
            log.error("cannot save %s in %s: %s (they would be forgotten at the next "
                      "start)", self._what, self.path, err.strerror)


class MemoryFile(CodecFile[RespawnMemory]):
    """:class:`RespawnMemory` in the run directory."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, RespawnMemory, RespawnMemory(), "standby and fail counts")


def intent_file(state_dir: Path) -> CodecFile[IntentSync]:
    """The operator's intent in the state directory (survives a stack restart)."""
    return CodecFile(state_dir / INTENT_FILE_NAME, IntentSync, IntentSync(()),
                     "standby, moves, bans and maintenance mode")


def start_in_standby(state_dir: Path, node: str, now: float) -> bool:
    """Record ``node`` in standby, lifetime forever, as ``crm_standby -N node -v on``
    would (Pacemaker's ``PCMK_node_start_state=standby`` also sets the permanent
    attribute): only ``crm_standby -v off`` lifts it, and a stack that restarts
    during the upgrade stays out.  False when a forever standby already holds.
    Raises OSError when it cannot be saved (starting anyway would break the promise).
    """
    file = intent_file(state_dir)
    store = IntentStore(file.load().entries)
    held = store.get("standby", "", node)
    if held is not None and not held.boot and not held.expires:
        return False
    store.write("standby", "", node, "on", now=now, origin=node)
    file.write(IntentSync(store.entries()))
    return True
