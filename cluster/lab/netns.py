"""The lab's one seam to the OS: iproute2, nftables, sysctl, /proc and mounts.

Everything the lab does to the kernel goes through the functions here, each a
short subprocess call with a deadline (`ip`, `nft`, `unshare`, `umount`) or a
direct read of /proc. Keeping them together means one place to read when asking
"what can the lab touch?", and the answer is: only namespaces, links, nftables
tables and bind mounts whose names carry the lab's prefix (the callers pass
those names in; nothing here invents a name).

Killing is done by namespace membership: a pid is signalled only through a
pidfd that was checked to belong to the target network namespace, so a pid
recycled between listing and signalling is never hit.

Emits: `LabError` when a command fails, `LabUnavailable` when the host lacks
what the lab needs (not root, no iproute2, no namespaces).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

from cluster.common.procfs import process_start_time, process_state, stat_fields
from cluster.lab.waiting import wait_for

__all__ = [
    "NETNS_DIR",
    "NO_IPV6",
    "LabError",
    "LabUnavailable",
    "add_netns",
    "apply_nft",
    "command",
    "create_uts",
    "delete_netns",
    "exec_argv",
    "ip",
    "ipv4_addresses",
    "kill_all",
    "link_mac",
    "list_netns",
    "mounts_under",
    "netns_id",
    "pids_in",
    "process_start_time",
    "process_state",
    "release_mount",
    "require_tools",
    "signal_all",
    "sysctl",
]

log = logging.getLogger(__name__)

NETNS_DIR = Path("/run/netns")
_TOOLS = ("ip", "nft", "nsenter", "unshare", "umount", "sysctl")
_TICKS = os.sysconf("SC_CLK_TCK")
# Generous: `ip` normally answers in a few ms, but a loaded CI host under a
# cluster's worth of daemons can stall a fork for a second or two.
_COMMAND_TIMEOUT = 20.0
# The lab speaks IPv4 only; without IPv6 no link-local chatter (router and
# neighbour solicitations, MLD) crosses the LANs to confuse captures.
NO_IPV6: Mapping[str, str] = MappingProxyType(
    {"net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1"}
)


class LabError(RuntimeError):
    """A lab operation failed (a command exited non-zero, cleanup left something)."""


class LabUnavailable(LabError):
    """The host cannot run a lab: not root, tools missing, or no namespaces."""


def require_tools() -> None:
    """Raise `LabUnavailable` unless we are root and every tool is on PATH."""
    if os.geteuid() != 0:
        raise LabUnavailable("not running as root")
    missing = [tool for tool in _TOOLS if shutil.which(tool) is None]
    if missing:
        raise LabUnavailable(f"missing tools: {', '.join(missing)}")
    try:
        list_netns()
    except LabError as exc:
        raise LabUnavailable(f"`ip netns` does not work: {exc}") from exc


def command(
    argv: Sequence[str], *, timeout: float = _COMMAND_TIMEOUT, input: str | None = None
) -> str:
    """Run a short host command to completion; return stdout or raise `LabError`."""
    log.debug("exec %s", " ".join(argv))
    try:
        done = subprocess.run(
            list(argv),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{' '.join(argv)}: no answer within {timeout:g}s") from exc
    except OSError as exc:
        raise LabError(f"{' '.join(argv)}: {exc}") from exc
    if done.returncode != 0:
        raise LabError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def ip(*args: str, netns: str | None = None) -> str:
    """`ip [-n NETNS] ARGS...`. Only `ip netns add/delete/list` run without a
    lab namespace: the root namespace's links are never touched."""
    prefix = ["ip", "-n", netns] if netns is not None else ["ip"]
    return command([*prefix, *args])


def list_netns() -> list[str]:
    """Names from `ip netns list` (first word of each line)."""
    return [line.split()[0] for line in ip("netns", "list").splitlines() if line.strip()]


def add_netns(name: str) -> None:
    ip("netns", "add", name)


def delete_netns(name: str) -> None:
    """Delete a named namespace; a missing one is not an error."""
    if (NETNS_DIR / name).exists():
        ip("netns", "delete", name)


def netns_id(name: str) -> tuple[int, int] | None:
    """(device, inode) of a named namespace, or None when it does not exist."""
    try:
        st = os.stat(NETNS_DIR / name)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino)


def _netns_of(pid: int) -> tuple[int, int] | None:
    try:
        st = os.stat(f"/proc/{pid}/ns/net")
    except OSError:  # gone, a zombie, or a kernel thread we may not inspect
        return None
    return (st.st_dev, st.st_ino)


def pids_in(name: str) -> list[int]:
    """Pids whose network namespace is `name`: what `ip netns pids` prints,
    computed the same way (compare /proc/<pid>/ns/net) without an exec."""
    target = netns_id(name)
    if target is None:
        return []
    pids: list[int] = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            pid = int(entry.name)
            if _netns_of(pid) == target:
                pids.append(pid)
    return sorted(pids)


def cpu_seconds(pid: int) -> float | None:
    """CPU time used by `pid` and its reaped children (utime + stime + cutime +
    cstime), or None once it is gone."""
    fields = stat_fields(pid)
    if fields is None:
        return None
    return sum(int(value) for value in fields[11:15]) / _TICKS


def cmdline(pid: int) -> str | None:
    """The process's command line (its title, for our daemons), or None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def signal_all(name: str, sig: signal.Signals) -> int:
    """Send `sig` to every process of namespace `name`; return how many got it.

    Each pid is pinned with a pidfd first and its namespace checked through
    /proc afterwards, so a pid that was recycled in between is left alone."""
    target = netns_id(name)
    sent = 0
    for pid in pids_in(name):
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            if target is not None and _netns_of(pid) == target:
                signal.pidfd_send_signal(fd, sig)
                sent += 1
        except ProcessLookupError:
            pass
        finally:
            os.close(fd)
    return sent


def kill_all(name: str, *, timeout: float = 15.0) -> None:
    """SIGSTOP everything in `name`, then SIGKILL it, until nothing is left.

    Stopping first freezes a supervisor before it can notice a dead child and
    respawn it; the rounds repeat for anything forked in between. Raises
    `LabError` if processes survive `timeout` seconds (they would be stuck in
    uninterruptible sleep, which the lab cannot fix)."""
    deadline = time.monotonic() + timeout
    for _round in range(100):
        if not pids_in(name):
            return
        signal_all(name, signal.SIGSTOP)
        signal_all(name, signal.SIGKILL)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            wait_for(lambda: not pids_in(name), timeout=min(remaining, 1.0), interval=0.005)
        except TimeoutError:
            continue
        return
    left = pids_in(name)
    if left:
        raise LabError(f"processes survive SIGKILL in namespace {name}: {left}")


def exec_argv(netns: str, uts: Path, argv: Sequence[str]) -> list[str]:
    """The argv that runs `argv` inside a node: its network namespace (via
    `ip netns exec`, which also gives it a matching /sys) and its persistent
    UTS namespace (via `nsenter`). Both exec, so the final pid is the command's."""
    return ["ip", "netns", "exec", netns, "nsenter", f"--uts={uts}", "--", *argv]


def create_uts(path: Path, hostname: str) -> None:
    """Create a UTS namespace whose hostname is `hostname`, pinned by a bind
    mount on `path` (no process needed to keep it alive). The root
    namespace's hostname is untouched: `hostname` runs inside the new one."""
    path.touch(mode=0o600, exist_ok=True)
    command(["unshare", f"--uts={path}", "hostname", hostname])


def mounts_under(root: Path) -> list[Path]:
    """Mount points at or below `root` in our mount namespace, deepest first."""
    root_text = str(root).rstrip("/")
    found: list[Path] = []
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) < 5:
                continue
            # mountinfo escapes spaces etc. as octal; lab paths never contain them.
            point = fields[4]
            if point == root_text or point.startswith(root_text + "/"):
                found.append(Path(point))
    return sorted(set(found), key=lambda p: len(p.parts), reverse=True)


def release_mount(path: Path) -> None:
    """Lazily unmount `path` (a pinned UTS namespace); missing is not an error."""
    if path in mounts_under(path):
        command(["umount", "--lazy", str(path)])


def sysctl(netns: str, values: Mapping[str, str]) -> None:
    """Set sysctls inside `netns` (they are per network namespace)."""
    pairs = [f"{key}={value}" for key, value in values.items()]
    command(["ip", "netns", "exec", netns, "sysctl", "-q", "-w", *pairs])


def apply_nft(netns: str, script: str) -> None:
    """Load an nftables script atomically inside `netns` (`nft -f -`)."""
    command(["ip", "netns", "exec", netns, "nft", "-f", "-"], input=script)


def ipv4_addresses(netns: str) -> list[tuple[str, str, int]]:
    """(interface, address, prefix length) for every IPv4 address in `netns`,
    from `ip -n NETNS -o -4 addr show`."""
    result: list[tuple[str, str, int]] = []
    for line in ip("-o", "-4", "addr", "show", netns=netns).splitlines():
        words = line.split()
        if "inet" not in words:
            continue
        at = words.index("inet")
        address, _, length = words[at + 1].partition("/")
        result.append((words[1], address, int(length or "32")))
    return result


def link_mac(netns: str, ifname: str) -> str:
    """The MAC address of `ifname` inside `netns`."""
    words = ip("-o", "link", "show", "dev", ifname, netns=netns).split()
    if "link/ether" not in words:
        raise LabError(f"{netns}/{ifname} has no ethernet address")
    return words[words.index("link/ether") + 1]
