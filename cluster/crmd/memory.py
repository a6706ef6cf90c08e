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
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

from cluster.bus import codec
from cluster.bus.messages.crmd import RespawnMemory
from cluster.common.files import write_atomic

__all__ = ["FILE_NAME", "Memory", "MemoryFile", "RespawnMemory"]

log = logging.getLogger(__name__)

FILE_NAME = "crmd.state"


class Memory(Protocol):
    def load(self) -> RespawnMemory: ...

    def save(self, memory: RespawnMemory) -> None: ...


class MemoryFile:
    """:class:`RespawnMemory` in a codec-encoded file, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> RespawnMemory:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return RespawnMemory()
        except OSError as err:
            log.warning("cannot read %s (%s): standby and fail counts start clean",
                        self.path, err.strerror)
            return RespawnMemory()
        try:
            memory = codec.decode(data)
        except codec.CodecError as err:
            log.warning("ignoring %s: %s; standby and fail counts start clean", self.path, err)
            return RespawnMemory()
        if not isinstance(memory, RespawnMemory):
            log.warning("ignoring %s: it holds a %s", self.path, type(memory).__name__)
            return RespawnMemory()
        return memory

    def save(self, memory: RespawnMemory) -> None:
        try:
            write_atomic(self.path, codec.encode(memory))
        except OSError as err:
            log.error("cannot save standby and fail counts in %s: %s (a respawned crmd "
                      "would forget them)", self.path, err.strerror)
