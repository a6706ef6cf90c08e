"""One reader of /proc/<pid>/stat and smaps_rollup, for the stack, the lab and bench alike."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MemoryUse", "memory_use", "parse_smaps_rollup", "process_start_time",
           "process_state", "stat_fields"]


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


@dataclass(frozen=True, slots=True)
class MemoryUse:
    """A process's memory in KiB.  PSS splits each shared page among the
    processes mapping it, so PSS sums over processes never count a page twice;
    USS is what the process alone maps (and what its exit would free)."""

    rss: int
    pss: int
    uss: int
    locked: int


def parse_smaps_rollup(text: str) -> MemoryUse:
    """The totals of a /proc/<pid>/smaps_rollup text; a missing line counts 0."""
    kib: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        value = rest.split()
        if value and value[0].isdigit():
            kib[name] = int(value[0])
    return MemoryUse(rss=kib.get("Rss", 0), pss=kib.get("Pss", 0),
                     uss=kib.get("Private_Clean", 0) + kib.get("Private_Dirty", 0),
                     locked=kib.get("Locked", 0))


def memory_use(pid: int) -> MemoryUse | None:
    """`pid`'s memory, or None once it is gone (or a kernel thread, which maps none)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return None
    return parse_smaps_rollup(text) if text else None
