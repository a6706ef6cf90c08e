"""Host figures from /proc (what linux-dash shows), without running any command.

:class:`HostReader` keeps the previous counters so that CPU, per-process CPU
and network figures are rates over the interval between two samples.  The
parsing functions are pure (text in, numbers out) and unit-tested on real
/proc text.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from cluster.bus.messages.web import DiskUsage, HostSample, NetRate, TopProcess

_REAL_FILESYSTEMS = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", "zfs", "f2fs",
                               "jfs", "reiserfs", "nfs", "nfs4", "ocfs2", "gfs2"})
_TOP = 5
_MAX_DISKS = 8
_MAX_INTERFACES = 8


@dataclass(frozen=True, slots=True)
class CpuTimes:
    busy: int
    total: int


def parse_cpu(stat_text: str) -> CpuTimes:
    """The aggregate ``cpu`` line of /proc/stat: busy and total jiffies."""
    for line in stat_text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            numbers = [int(x) for x in fields[1:]]
            idle = numbers[3] + (numbers[4] if len(numbers) > 4 else 0)
            # guest time is already counted in user/nice
            total = sum(numbers[:8])
            return CpuTimes(total - idle, total)
    raise ValueError("/proc/stat has no cpu line")


def parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo -> bytes per field."""
    found: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            found[name] = int(parts[0]) * (1024 if len(parts) > 1 else 1)
    return found


def parse_netdev(text: str) -> dict[str, tuple[int, int]]:
    """/proc/net/dev -> {interface: (rx bytes, tx bytes)}, loopback left out."""
    found: dict[str, tuple[int, int]] = {}
    for line in text.splitlines()[2:]:
        name, _, rest = line.partition(":")
        fields = rest.split()
        name = name.strip()
        if len(fields) >= 9 and name != "lo":
            found[name] = (int(fields[0]), int(fields[8]))
    return found


def parse_proc_stat(text: str) -> tuple[str, int, int]:
    """/proc/PID/stat -> (command name, utime+stime jiffies, rss pages)."""
    open_paren = text.index("(")
    close_paren = text.rindex(")")
    name = text[open_paren + 1:close_paren]
    fields = text[close_paren + 2:].split()
    # fields[0] is the state (field 3); utime and stime are fields 14 and 15.
    return name, int(fields[11]) + int(fields[12]), int(fields[21])


def parse_mounts(text: str) -> list[str]:
    """Mount points of real file systems in /proc/self/mounts, the first one per device."""
    devices: set[str] = set()
    points: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] in _REAL_FILESYSTEMS and fields[0] not in devices:
            devices.add(fields[0])
            points.append(fields[1].replace("\\040", " "))
    return points


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


class HostReader:
    """Samples this host; the first sample's rates are zero."""

    def __init__(self, node: str, proc: Path = Path("/proc")) -> None:
        self._node = node
        self._proc = proc
        self._hz = os.sysconf("SC_CLK_TCK")
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._cpus = os.cpu_count() or 1
        self._last_when: float | None = None
        self._last_cpu: CpuTimes | None = None
        self._last_net: dict[str, tuple[int, int]] = {}
        self._last_procs: dict[int, int] = {}

    def sample(self) -> HostSample:
        now = time.monotonic()
        interval = now - self._last_when if self._last_when is not None else 0.0
        self._last_when = now
        cpu = parse_cpu(_read(self._proc / "stat"))
        busy = 0.0
        if self._last_cpu is not None and cpu.total > self._last_cpu.total:
            busy = 100.0 * (cpu.busy - self._last_cpu.busy) / (cpu.total - self._last_cpu.total)
        self._last_cpu = cpu
        mem = parse_meminfo(_read(self._proc / "meminfo"))
        mem_total = mem.get("MemTotal", 0)
        swap_total = mem.get("SwapTotal", 0)
        load = _read(self._proc / "loadavg").split()
        return HostSample(
            node=self._node, when=time.time(),
            uptime=float(_read(self._proc / "uptime").split()[0]), cpus=self._cpus,
            cpu=round(max(0.0, min(100.0, busy)), 1),
            load=(float(load[0]), float(load[1]), float(load[2])),
            mem_total=mem_total, mem_used=mem_total - mem.get("MemAvailable", mem_total),
            swap_total=swap_total, swap_used=swap_total - mem.get("SwapFree", swap_total),
            disks=self._disks(), net=self._net(interval), top=self._top(interval))

    def _disks(self) -> tuple[DiskUsage, ...]:
        disks: list[DiskUsage] = []
        for point in parse_mounts(_read(self._proc / "self" / "mounts"))[:_MAX_DISKS]:
            try:
                st = os.statvfs(point)
            except OSError:
                continue
            total = st.f_blocks * st.f_frsize
            disks.append(DiskUsage(point, total, total - st.f_bfree * st.f_frsize))
        return tuple(disks)

    def _net(self, interval: float) -> tuple[NetRate, ...]:
        counters = parse_netdev(_read(self._proc / "net" / "dev"))
        rates: list[NetRate] = []
        for name, (rx, tx) in sorted(counters.items())[:_MAX_INTERFACES]:
            old = self._last_net.get(name)
            if old is None or interval <= 0:
                rates.append(NetRate(name, 0.0, 0.0))
            else:
                rates.append(NetRate(name, round(max(0, rx - old[0]) / interval, 1),
                                     round(max(0, tx - old[1]) / interval, 1)))
        self._last_net = counters
        return tuple(rates)

    def _top(self, interval: float) -> tuple[TopProcess, ...]:
        procs: dict[int, int] = {}
        rows: list[TopProcess] = []
        for entry in os.scandir(self._proc):
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            try:
                name, ticks, rss = parse_proc_stat(_read(Path(entry.path) / "stat"))
            except (OSError, ValueError, IndexError):
                continue    # the process ended while we looked
            procs[pid] = ticks
            old = self._last_procs.get(pid)
            cpu = 0.0 if old is None or interval <= 0 else (
                100.0 * (ticks - old) / self._hz / interval)
            rows.append(TopProcess(pid, name, round(cpu, 1), rss * self._page))
        self._last_procs = procs
        rows.sort(key=lambda p: (p.cpu, p.rss), reverse=True)
        return tuple(rows[:_TOP])
