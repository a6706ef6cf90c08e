"""The shape of a fencing device driver, and how drivers run programs.

Role: every device type (``external/*``, ``fence_*``, ``rps10``, ``null``,
``ssh``, ``meatware``) is a :class:`Driver`: a configured device that can
report its status, list the hosts it controls and power a host off, on or
reset it.  Drivers block, but only until the :class:`Deadline` they are
given; the ``stonith`` CLI calls them directly and stonithd calls them in a
child process (``cluster.stonithd.runner``), so the daemon's loop never
waits on a device.

:func:`run_program` runs a plugin or agent in its own session and kills the
whole session at the deadline, so a hung script (and anything it started)
is gone when the operation reports TIMEOUT.  :func:`unsafe_program` is the
cluster-glue rule for plugin files: a regular executable not writable by
group or others, or it is refused.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cluster.stonithd.outcome import Code, Deadline, Outcome

__all__ = ["Driver", "ProgramResult", "run_program", "unsafe_program"]

# After SIGKILL of a timed-out program, how long we still read its pipes.
_DRAIN_AFTER_KILL = 2.0
# Keep a plugin's chatter bounded in results and logs.
_MAX_TEXT = 2000


class Driver(Protocol):
    """One configured fencing device."""

    type: str

    def device_id(self) -> str:
        """How logs name the device: ``rps10 /dev/ttyS0``, ``external/ipmi``."""
        ...

    def hosts(self, deadline: Deadline) -> Outcome:
        """The hosts this device can fence, in ``Outcome.hosts`` (lower case)."""
        ...

    def status(self, deadline: Deadline) -> Outcome:
        """Is the device reachable and working?"""
        ...

    def act(self, action: str, host: str, deadline: Deadline) -> Outcome:
        """Power `host` ``reset``/``off``/``on``; OK only when the device confirmed it."""
        ...


@dataclass(frozen=True, slots=True)
class ProgramResult:
    returncode: int | None      # None: killed at the deadline
    stdout: str
    stderr: str

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    def said(self) -> str:
        """What the program printed, shortened to one line for a detail field."""
        text = " ".join((self.stderr.strip() or self.stdout.strip()).split())
        return text[:_MAX_TEXT]

    def failure(self, code: Code, what: str, fallback: str = "") -> Outcome | None:
        """None when the program exited 0; else ``<what> failed (exit N): <its words>``.

        `fallback` stands in for the program's words when it printed nothing.
        """
        if self.returncode == 0:
            return None
        said = self.said() or fallback
        return Outcome(code, f"{what} failed (exit {self.returncode})"
                             f"{': ' + said if said else ''}")


def find_program(name: str, dirs: Sequence[Path]) -> Path | None:
    """The first `dirs/name` that exists, searched in order."""
    for directory in dirs:
        candidate = directory / name
        if candidate.exists():
            return candidate
    return None


def program_names(dirs: Sequence[Path], pattern: str = "*") -> set[str]:
    """Executable, non-hidden files matching `pattern` in any of `dirs` (missing dirs skipped)."""
    names: set[str] = set()
    for directory in dirs:
        try:
            entries = list(directory.glob(pattern))
        except OSError:
            continue
        names.update(e.name for e in entries
                     if e.is_file() and not e.name.startswith(".") and os.access(e, os.X_OK))
    return names


def run_program(argv: Sequence[str], deadline: Deadline, *, env: Mapping[str, str] | None = None,
                stdin: bytes | None = None) -> ProgramResult:
    """Run `argv` to completion or until `deadline`; never raises for the program's sake.

    Raises OSError only when the program cannot be started at all.
    """
    with subprocess.Popen(
        list(argv), stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(env) if env is not None else None,
        start_new_session=True, close_fds=True,
    ) as proc:
        try:
            out, err = proc.communicate(stdin, timeout=deadline.remaining())
        except subprocess.TimeoutExpired:
            _kill_session(proc)
            try:
                out, err = proc.communicate(timeout=_DRAIN_AFTER_KILL)
            except subprocess.TimeoutExpired:  # a grandchild escaped the session and holds a pipe
                out, err = b"", b""
            proc.wait()
            return ProgramResult(None, _text(out), _text(err))
        except BaseException:
            _kill_session(proc)
            raise
    return ProgramResult(proc.returncode, _text(out), _text(err))


def _kill_session(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _text(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", errors="replace")[: _MAX_TEXT * 4]


def unsafe_program(path: Path) -> str | None:
    """Why `path` must not be run as a fencing plugin, or None when it may.

    cluster-glue refuses plugins that are not regular files, not executable,
    or writable by group or others: whoever can change such a file can make
    the cluster believe a node was fenced.
    """
    try:
        info = path.stat()
    except OSError as err:
        return f"{path}: {err.strerror or err}"
    if not stat.S_ISREG(info.st_mode):
        return f"{path} is not a regular file"
    if not os.access(path, os.X_OK):
        return f"{path} is not executable"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return (f"{path} is writable by group or others (mode {stat.S_IMODE(info.st_mode):04o}); "
                "refusing to run it (chmod go-w)")
    return None
