"""Undoing a lab: tracked processes, teardown by prefix, and the stale sweeper.

Every lab run owns one prefix (`cl` + 4 hex digits by default). All it creates
carries that prefix: namespaces `<prefix>-<node>` and `<prefix>_sw` (the
switch), links inside them, nftables tables `<prefix>_lab`, the relay
processes' argv (`--lab-prefix <prefix>`), and the state directory
`/tmp/cluster-lab/<prefix>/` whose `owner` file records the owning pid and that
pid's start time (so a recycled pid does not look like a live owner).

Three paths lead to `teardown()`:
  * `Lab.close()` (context manager exit, pytest fixture finalizer),
  * `atexit`, for an interpreter that exits without closing,
  * `sweep_stale()`, run whenever a new lab starts (and by
    `python -m cluster.lab sweep`), for owners that died without either
    (SIGKILL, os._exit, a pytest-timeout in thread mode). It touches a prefix
    only when its owner file exists and its owner is gone.

Ordering keeps the sweeper honest: the owner file is written before anything
else is created and removed only after everything else is gone, so no lab
object ever exists without a record of who owns it.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import logging
import os
import shutil
import signal
import stat
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from cluster.lab import netns
from cluster.lab.netns import LabUnavailable

__all__ = [
    "BASE",
    "Owner",
    "Resources",
    "lab_namespaces",
    "owner_alive",
    "read_owner",
    "sweep_stale",
    "teardown",
    "write_owner",
]

log = logging.getLogger(__name__)

BASE = Path("/tmp/cluster-lab")
OWNER_FILE = "owner"
RELAY_MODULE = "cluster.lab.relay"
_REAP_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Owner:
    """Who owns a prefix: pid + its start time (clock ticks since boot)."""

    pid: int
    start_time: int
    prefix: str
    root: str


def owner_alive(owner: Owner) -> bool:
    return netns.process_start_time(owner.pid) == owner.start_time


def write_owner(state_dir: Path, owner: Owner) -> None:
    tmp = state_dir / f".{OWNER_FILE}.tmp"
    tmp.write_text(json.dumps(asdict(owner)) + "\n", encoding="utf-8")
    tmp.replace(state_dir / OWNER_FILE)


def read_owner(state_dir: Path) -> Owner | None:
    try:
        data = json.loads((state_dir / OWNER_FILE).read_text(encoding="utf-8"))
        return Owner(int(data["pid"]), int(data["start_time"]), str(data["prefix"]), data["root"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def ensure_base(base: Path) -> None:
    """Create the base directory; refuse one we did not make (symlink, not root's)."""
    base.mkdir(mode=0o755, parents=True, exist_ok=True)
    st = os.lstat(base)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise LabUnavailable(f"{base} is not a directory owned by us; refusing to use it")


@contextlib.contextmanager
def base_lock(base: Path) -> Iterator[None]:
    """Serialise sweepers and prefix allocation between concurrent lab runs."""
    ensure_base(base)
    fd = os.open(base / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def lab_namespaces(prefix: str) -> list[str]:
    """This prefix's namespaces, nodes first and the switch last."""
    names = netns.list_netns()
    nodes = sorted(name for name in names if name.startswith(f"{prefix}-"))
    switch = [name for name in names if name == f"{prefix}_sw"]
    return nodes + switch


def _relay_pids(prefix: str) -> list[int]:
    """Serial relays started for `prefix` (matched on their argv)."""
    wanted = ["-m", RELAY_MODULE, "--lab-prefix", prefix]
    pids: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry.name}/cmdline").read_bytes().decode().split("\0")
        except (OSError, UnicodeDecodeError):
            continue
        if any(argv[i : i + len(wanted)] == wanted for i in range(len(argv))):
            pids.append(int(entry.name))
    return pids


def _kill_relays(prefix: str) -> None:
    for pid in _relay_pids(prefix):
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            if pid in _relay_pids(prefix):  # still that relay now that it is pinned
                signal.pidfd_send_signal(fd, signal.SIGKILL)
        except ProcessLookupError:
            pass
        finally:
            os.close(fd)


def teardown(prefix: str, root: Path, state_dir: Path, *, keep_files: bool = False) -> list[str]:
    """Remove everything a lab with `prefix` created; return what could not be."""
    errors: list[str] = []

    def attempt(what: str, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception as exc:  # keep going: leave as little behind as we can
            errors.append(f"{what}: {exc}")

    attempt("kill relays", lambda: _kill_relays(prefix))
    names = lab_namespaces(prefix)
    for name in names:
        attempt(f"kill processes in {name}", functools.partial(netns.kill_all, name))
    for name in names:
        attempt(f"delete namespace {name}", functools.partial(netns.delete_netns, name))
    for directory in {root, state_dir}:
        if directory.exists():
            for point in netns.mounts_under(directory):
                attempt(f"unmount {point}", functools.partial(netns.release_mount, point))
    if keep_files:
        attempt("release owner file", lambda: (state_dir / OWNER_FILE).unlink(missing_ok=True))
        if state_dir != root:
            attempt(f"remove {state_dir}", functools.partial(shutil.rmtree, state_dir))
        log.warning("lab %s: files kept in %s (CLUSTER_LAB_KEEP=1)", prefix, root)
    else:
        for directory in (root, state_dir):
            if directory.exists():
                attempt(f"remove {directory}", functools.partial(shutil.rmtree, directory))
    leftovers = lab_namespaces(prefix)
    if leftovers:
        errors.append(f"namespaces left: {leftovers}")
    return errors


def sweep_stale(base: Path = BASE) -> list[str]:
    """Tear down every prefix under `base` whose owner is gone; return them."""
    swept: list[str] = []
    if not base.is_dir():
        return swept
    with base_lock(base):
        for state_dir in sorted(base.iterdir()):
            owner = read_owner(state_dir)
            if owner is None or owner.prefix != state_dir.name or owner_alive(owner):
                continue
            log.warning("sweeping stale lab %s (owner pid %d is gone)", owner.prefix, owner.pid)
            errors = teardown(owner.prefix, Path(owner.root), state_dir)
            if errors:
                log.error("sweeping %s left: %s", owner.prefix, "; ".join(errors))
            swept.append(owner.prefix)
    return swept


class Resources:
    """The processes and closers one lab must undo, in reverse order of creation."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen[bytes]] = []
        self._closers: list[Callable[[], None]] = []

    def track(self, proc: subprocess.Popen[bytes]) -> None:
        self._procs.append(proc)

    def add_closer(self, closer: Callable[[], None]) -> None:
        self._closers.append(closer)

    def remove_closer(self, closer: Callable[[], None]) -> None:
        with contextlib.suppress(ValueError):
            self._closers.remove(closer)

    def run_closers(self) -> list[str]:
        errors: list[str] = []
        while self._closers:
            closer = self._closers.pop()
            try:
                closer()
            except Exception as exc:
                errors.append(f"closer {closer!r}: {exc}")
        return errors

    def poll(self) -> None:
        """Reap tracked children that have exited (a killed node leaves zombies)."""
        for proc in self._procs:
            proc.poll()

    def running_pids(self) -> list[int]:
        return [proc.pid for proc in self._procs if proc.poll() is None]

    def kill_groups(self) -> None:
        """SIGKILL the process group of every tracked child still running.

        Only unreaped children are signalled: while our child is unreaped its
        pid (the group id) cannot be reused, so the group is still ours."""
        for proc in self._procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)

    def reap(self) -> list[str]:
        """Wait for every tracked child and close its pipes."""
        errors: list[str] = []
        for proc in self._procs:
            try:
                proc.wait(timeout=_REAP_TIMEOUT)
            except subprocess.TimeoutExpired:
                errors.append(f"pid {proc.pid} ({proc.args!r}) did not exit")
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()
        self._procs = [proc for proc in self._procs if proc.returncode is None]
        return errors


def main(argv: list[str] | None = None) -> int:
    """`python -m cluster.lab sweep`: remove leftovers of dead lab runs."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m cluster.lab")
    parser.add_argument("action", choices=["sweep"])
    parser.add_argument("--base", type=Path, default=BASE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    netns.require_tools()
    swept = sweep_stale(args.base)
    print(f"swept {len(swept)} stale lab(s): {' '.join(swept) or '-'}")
    return 0
