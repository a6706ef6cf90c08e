"""One reader of /proc/<pid>/stat, for the stack and the lab alike."""

from __future__ import annotations

__all__ = ["process_start_time", "process_state", "stat_fields"]


def stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 (state) on, or None if the process is gone.
    The command name (field 2) may hold spaces and ')': cut after the last ')'."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def process_state(pid: int) -> str:
    """The one-letter state of `pid` (R, S, D, T, Z, ...), "" if it is gone."""
    fields = stat_fields(pid)
    return fields[0] if fields else ""


def process_start_time(pid: int) -> int | None:
    """When `pid` started (clock ticks after boot): with the pid, it names one
    process for good, since a recycled pid has a later start time."""
    fields = stat_fields(pid)
    return int(fields[19]) if fields else None
