"""Follow the daemons' log files in the log directory (``<daemon>.log``), cheaply.

:meth:`LogTail.poll` stats each file and reads only what was appended since
the last poll (a shrunk file was rotated or truncated: start again at 0).  At
start, only the last few kilobytes of each file are read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

_START_BYTES = 8 * 1024
_MAX_READ = 64 * 1024


@dataclass
class LogTail:
    directory: Path
    _offsets: dict[str, int] = field(default_factory=dict)

    def poll(self) -> dict[str, list[str]]:
        """New complete lines per daemon since the last poll."""
        found: dict[str, list[str]] = {}
        try:
            paths = sorted(self.directory.glob("*.log"))
        except OSError:
            return found
        for path in paths:
            daemon = path.stem
            try:
                size = path.stat().st_size
                offset = self._offsets.get(daemon)
                partial = offset is None and size > _START_BYTES
                if offset is None:
                    offset = max(0, size - _START_BYTES)
                elif size < offset:
                    offset = 0
                if size == offset:
                    self._offsets[daemon] = offset
                    continue
                with open(path, "rb") as handle:
                    handle.seek(offset)
                    data = handle.read(min(size - offset, _MAX_READ))
            except OSError:
                continue
            end = data.rfind(b"\n")
            if end < 0:
                self._offsets[daemon] = offset if len(data) < _MAX_READ else offset + len(data)
                continue
            self._offsets[daemon] = offset + end + 1
            lines = data[:end].decode("utf-8", errors="replace").split("\n")
            if partial:
                lines = lines[1:]      # the first one was cut by where we started
            found[daemon] = [line for line in lines if line]
        return found


def newest_within(found: dict[str, list[str]], budget: int) -> dict[str, list[str]]:
    """The newest lines of each daemon, in order, taken round-robin from the end so every
    daemon gets a share, until `budget` bytes are used (what crosses a slow link)."""
    kept: dict[str, list[str]] = {daemon: [] for daemon in found}
    left = budget
    depth = 1
    while left > 0 and any(len(lines) >= depth for lines in found.values()):
        for daemon, lines in found.items():
            if len(lines) >= depth:
                line = lines[-depth][:1000]
                if len(line) + 1 > left:
                    left = 0
                    break
                kept[daemon].append(line)
                left -= len(line) + 1
        depth += 1
    return {daemon: lines[::-1] for daemon, lines in kept.items() if lines}
