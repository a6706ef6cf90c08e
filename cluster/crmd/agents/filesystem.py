"""Built-in ``Filesystem``: mount a file system for the group, unmount it again.

Role: a procedure agent (see ``protocol.py``): it decides in-process and runs
mount(8), umount(8) and fuser(1) as executor commands, so every program runs
under the operation's deadline and never on the daemon's thread. Inputs: the
haresources arguments ``Filesystem::device::mountpoint[::fstype[::options]]``
(device may be ``-Llabel``/``-Uuuid`` as in Heartbeat, or ``LABEL=``/``UUID=``;
options are mount's comma list). Output: a :class:`Reply`.

Whether something is mounted is read from ``/proc/self/mounts`` of the calling
process (the executor's mount namespace; lab nodes share the host's unless a
process unshares it), comparing the real path of the mount point.

* ``start``: mounted already = ok. Otherwise create the mount point if missing,
  ``mount [-t fstype] [-o options] device mountpoint``, and check it is there.
* ``stop``: not mounted = ok. Otherwise ``umount``; while still mounted and
  busy, ``fuser -km`` (SIGKILL every process using the file system), wait a
  moment and retry, :data:`_STOP_ROUNDS` times; one ``umount`` per stacked mount.
  We do **not** fall back to a lazy unmount (``umount -l``): it only hides the
  mount point while the device stays in use, and another node would then mount
  a device this node still writes to. A stop that cannot unmount fails, and a
  failed stop is the cluster's cue to fence this node (Heartbeat rebooted).
* ``monitor``: mounted = ok, else not running. (No read test: OCF_CHECK_LEVEL
  10/20 of Pacemaker's agent is not implemented.)
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from cluster.crmd.agents.protocol import (
    OpRequest,
    Outcome,
    Procedure,
    Reply,
    run_command,
    sleep,
)

__all__ = ["FilesystemAgent", "FsSpec", "mounted_devices", "parse_fs_spec"]

_STOP_ROUNDS = 5  # umount attempts; between them fuser -km and a growing pause
_SETTLE = 0.1  # seconds x round: killed processes must exit before the fs is free
_OCTAL = re.compile(r"\\([0-7]{3})")


@dataclass(frozen=True, slots=True)
class FsSpec:
    device: str
    mountpoint: str
    fstype: str | None = None
    options: str | None = None

    def mount_argv(self) -> tuple[str, ...]:
        argv = ["mount"]
        if self.fstype:
            argv += ["-t", self.fstype]
        if self.options:
            argv += ["-o", self.options]
        if self.device[:2] in ("-L", "-U") and len(self.device) > 2:
            argv += [self.device[:2], self.device[2:]]
        else:
            argv.append(self.device)
        argv.append(self.mountpoint)
        return tuple(argv)


def parse_fs_spec(args: tuple[str, ...]) -> FsSpec:
    """Parse ``device::mountpoint[::fstype[::options]]``; raises ``ValueError``."""
    if not 2 <= len(args) <= 4:
        raise ValueError(
            "write Filesystem::device::mountpoint[::fstype[::options]] "
            f"(got {len(args)} argument(s))"
        )
    device, mountpoint, *rest = args
    if not mountpoint.startswith("/"):
        raise ValueError(f"mount point {mountpoint!r} must be an absolute path")
    fstype = rest[0] if rest else None
    options = rest[1] if len(rest) > 1 else None
    return FsSpec(device, os.path.normpath(mountpoint), fstype, options)


def mounted_devices(mountpoint: str, mounts: str) -> list[str]:
    """The devices mounted at ``mountpoint`` according to a ``/proc/*/mounts`` text
    (oldest first; a mount point can carry stacked mounts)."""
    found = []
    for line in mounts.splitlines():
        fields = line.split(" ")
        if len(fields) >= 2 and _unescape(fields[1]) == mountpoint:
            found.append(_unescape(fields[0]))
    return found


def _unescape(field: str) -> str:
    """Undo the kernel's octal escapes (``\\040`` is a space)."""
    return _OCTAL.sub(lambda match: chr(int(match.group(1), 8)), field)


def _read_proc_mounts() -> str:
    with open("/proc/self/mounts", encoding="utf-8", errors="surrogateescape") as handle:
        return handle.read()


class FilesystemAgent:
    """The built-in Filesystem agent for one resource."""

    def __init__(
        self, args: tuple[str, ...], read_mounts: Callable[[], str] = _read_proc_mounts
    ) -> None:
        self._read_mounts = read_mounts
        self._spec: FsSpec | None = None
        self._error = ""
        try:
            self._spec = parse_fs_spec(args)
        except ValueError as err:
            self._error = str(err)

    @property
    def busy(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def execute(self, request: OpRequest) -> Reply | Procedure:
        spec = self._spec
        if spec is None:
            if request.action == "stop":
                return Reply(Outcome.OK, detail=f"nothing to stop: {self._error}")
            return Reply(Outcome.CONFIG_ERROR, detail=self._error)
        if request.action == "start":
            return self._start(spec)
        if request.action == "stop":
            return self._stop(spec)
        if self._mounted(spec):
            return Reply(Outcome.OK, detail=f"{spec.mountpoint} is mounted")
        return Reply(Outcome.NOT_RUNNING, detail=f"{spec.mountpoint} is not mounted")

    def _mounted(self, spec: FsSpec) -> bool:
        return bool(mounted_devices(os.path.realpath(spec.mountpoint), self._read_mounts()))

    def _start(self, spec: FsSpec) -> Procedure:
        if self._mounted(spec):
            return Reply(Outcome.OK, detail=f"{spec.mountpoint} already mounted")
        try:
            os.makedirs(spec.mountpoint, exist_ok=True)
        except OSError as err:
            return Reply(Outcome.FAILED, detail=f"cannot create {spec.mountpoint}: {err.strerror}")
        done = yield from run_command(spec.mount_argv())
        if done.rc is None:
            return Reply(Outcome.NOT_INSTALLED, detail=f"cannot run mount: {done.error}")
        if done.rc != 0:
            return Reply(Outcome.FAILED, done.rc, f"mount failed: {done.tail()}")
        if not self._mounted(spec):
            return Reply(Outcome.FAILED, 0, f"mount succeeded but {spec.mountpoint} is not mounted")
        return Reply(Outcome.OK, 0, f"{spec.device} mounted on {spec.mountpoint}")

    def _stop(self, spec: FsSpec) -> Procedure:
        if not self._mounted(spec):
            return Reply(Outcome.OK, detail=f"{spec.mountpoint} was not mounted")
        last = ""
        for attempt in range(1, _STOP_ROUNDS + 1):
            done = yield from run_command(("umount", spec.mountpoint))
            if not self._mounted(spec):
                return Reply(Outcome.OK, done.rc, f"{spec.mountpoint} unmounted")
            if done.rc is None:
                return Reply(Outcome.NOT_INSTALLED, detail=f"cannot run umount: {done.error}")
            if done.rc == 0:
                continue  # a stacked mount: unmount the next one
            last = done.tail()
            if attempt < _STOP_ROUNDS:
                # Busy: kill every process using the file system, then retry.
                yield from run_command(("fuser", "-k", "-m", spec.mountpoint))
                yield from sleep(_SETTLE * attempt)
        return Reply(
            Outcome.FAILED,
            detail=f"{spec.mountpoint} still mounted after {_STOP_ROUNDS} attempts "
            f"(no lazy unmount: the device would stay in use): {last}",
        )
