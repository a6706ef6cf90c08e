"""How cluster-mcp starts a child and learns of its death.

Built-in daemons are forked by the process template
(:mod:`cluster.mcp.template`) while the stack starts; ``respawn`` lines of
ha.cf, and every daemon started later or when the template cannot be used,
are exec'd with Popen as before.  Either way cluster-mcp is the parent that
reaps: it is a child subreaper, so a daemon whose template parent exited is
reparented to it, and :meth:`Spawner.reap` collects every exited child with
``waitpid(-1)``, orphans of the daemons (a resource's own daemon after its
agent exited) included.

The template is forked from cluster-mcp at start, before any thread or zmq
context exists, and supervised here until every built-in daemon has started:
when it dies, stops answering, or reports that our package changed on disk
(an upgrade), the spawn at hand is exec'd and a new template is exec'd
(``python3 -m cluster.mcp.template``) for the next ones (cluster-mcp never
waits for its imports: until it is ready, daemons are exec'd); after
:data:`_TEMPLATE_FAILURES` failures in a row every daemon is exec'd, which
is logged once.  Once the stack is up the template exits
(:meth:`Spawner.retire_template`): idle, it would hold its own copy of every
page the daemons have all written to, about 6 MiB, for the rare respawn.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import logging
import os
import pwd
import signal
import socket
import subprocess
import sys
import traceback
from collections.abc import Iterator, Mapping, Sequence

from cluster.mcp.child import describe_status
from cluster.mcp.children import ChildSpec
from cluster.mcp.template import (
    MAX_MESSAGE,
    READY,
    ProtocolError,
    decode_reply,
    encode_request,
    serve,
)

__all__ = ["Spawner", "Template", "TemplateUnusable", "become_subreaper"]

log = logging.getLogger(__name__)

_PR_SET_CHILD_SUBREAPER = 36
# The forked template's first spawn waits for its imports (seconds on a loaded box);
# no daemon runs yet, so nothing misses cluster-mcp meanwhile.  A fork is
# milliseconds: a ready template that does not answer within _REPLY_TIMEOUT is
# abandoned, and cluster-mcp's loop (the watchdog keeper pings it) stalls no longer.
_READY_TIMEOUT = 30.0
_REPLY_TIMEOUT = 2.0
_TEMPLATE_FAILURES = 3


class TemplateUnusable(Exception):
    """The template did not start this daemon; exec it instead."""

    def __init__(self, why: str, *, failure: bool = True) -> None:
        super().__init__(why)
        self.failure = failure  # False: an upgrade, or a new template still importing


def become_subreaper() -> bool:
    """Make orphaned descendants our children (prctl PR_SET_CHILD_SUBREAPER)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (AttributeError, OSError):
        return False


class Template:
    """cluster-mcp's end of one template process."""

    def __init__(self, sock: socket.socket, pid: int,
                 proc: subprocess.Popen[bytes] | None = None, wait_ready: float = 0.0) -> None:
        self._sock = sock
        self.pid = pid
        self._proc = proc
        self._wait_ready = wait_ready  # 0: never wait for its imports (exec it meanwhile)
        self.ready = False
        self.alive = True    # not reaped yet
        self.usable = True   # its socket is open and it has answered as it should

    @classmethod
    def fork(cls, modules: Sequence[str]) -> Template:
        """Fork a template from this process (call before any thread exists)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the template's own life
            ours.close()
            status = 1
            try:
                status = serve(theirs, modules)
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(status)
        theirs.close()
        return cls(ours, pid, wait_ready=_READY_TIMEOUT)

    @classmethod
    def exec(cls, modules: Sequence[str], wait_ready: float = 0.0) -> Template:
        """Start a template as a new interpreter: the code on disk now.  Until
        its imports are done, spawns are exec'd unless `wait_ready` > 0."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            proc = subprocess.Popen(
                [sys.executable, "-m", "cluster.mcp.template", str(theirs.fileno()), *modules],
                stdin=subprocess.DEVNULL, pass_fds=(theirs.fileno(),), close_fds=True)
        return cls(ours, proc.pid, proc, wait_ready)

    def spawn(self, argv: Sequence[str], env: Mapping[str, str], console: int) -> int:
        """Ask for a daemon: its pid, or TemplateUnusable."""
        try:
            if not self.ready:
                self._await_ready()
            self._sock.settimeout(_REPLY_TIMEOUT)
            self._sock.sendmsg([encode_request(argv, env)], [
                (socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [console]))])
            kind, value = decode_reply(self._receive())
        except TimeoutError:
            self.close()
            raise TemplateUnusable("it did not answer in time") from None
        except (OSError, ProtocolError) as err:
            self.close()
            raise TemplateUnusable(str(err)) from None
        if kind == "pid":
            assert isinstance(value, int)
            return value
        if kind == "stale":
            self.close()
            raise TemplateUnusable(f"it runs older code: {value}", failure=False)
        raise TemplateUnusable(str(value))  # this fork failed; the template itself is fine

    def _await_ready(self) -> None:
        if self._wait_ready > 0:
            self._sock.settimeout(self._wait_ready)
            said = self._receive()
        else:
            self._sock.settimeout(0.0)
            try:
                said = self._receive()
            except BlockingIOError:
                raise TemplateUnusable("it is still importing", failure=False) from None
        if said != READY:
            raise ProtocolError(f"expected {READY!r}, got {said[:80]!r}")
        self.ready = True

    def _receive(self) -> bytes:
        data = self._sock.recv(MAX_MESSAGE)
        if not data:
            raise ProtocolError("it closed its socket")
        return data

    def reaped(self, pid: int, code: int) -> bool:
        """Is `pid` this template (which has now been reaped)?"""
        if pid != self.pid or not self.alive:
            return False
        if self._proc is not None:
            self._proc.returncode = code
        self.alive = False
        self.close()
        return True

    def close(self) -> None:
        """Stop the template (cluster-mcp's reaping collects it)."""
        self.usable = False
        self._sock.close()
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


def _user_kwargs(user: str) -> dict[str, object]:
    if user == "root" or os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam(user)
    groups = os.getgrouplist(user, entry.pw_gid)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": groups}


class Spawner:
    """Starts children (template or exec) and reaps every child of cluster-mcp."""

    def __init__(self, template: Template | None = None, modules: Sequence[str] = ()) -> None:
        self._template = template
        self._modules = tuple(modules)
        self._failures = 0
        self._popen: dict[int, subprocess.Popen[bytes]] = {}
        self._old: list[Template] = []  # closed templates not reaped yet
        self._closing = False

    @property
    def template_pid(self) -> int | None:
        template = self._template
        return template.pid if template is not None and template.alive else None

    def spawn(self, spec: ChildSpec, console: int) -> int:
        """Start `spec` with `console` as its stdout/stderr; its pid.  Raises
        OSError, KeyError or SubprocessError when it cannot be started."""
        if spec.builtin:
            pid = self._from_template(spec, console)
            if pid is not None:
                return pid
        proc = subprocess.Popen(
            spec.argv, stdin=subprocess.DEVNULL, stdout=console, stderr=console,
            process_group=0, close_fds=True,
            **_user_kwargs(spec.user))  # type: ignore[call-overload]
        self._popen[proc.pid] = proc
        return int(proc.pid)

    def _from_template(self, spec: ChildSpec, console: int) -> int | None:
        template = self._template
        if template is None:
            return None
        if not template.usable:
            template = self._replace_template()
            if template is None:
                return None
        try:
            pid = template.spawn(spec.argv, os.environ, console)
        except TemplateUnusable as why:
            if why.failure:
                self._failures += 1
            log.log(logging.WARNING if why.failure else logging.INFO,
                    "process template (pid %d) did not start %s (%s); exec'ing it",
                    template.pid, spec.name, why)
            if not template.usable:
                self._replace_template()
            return None
        self._failures = 0
        return pid

    def _replace_template(self) -> Template | None:
        """A new template by exec, or None (and exec from now on) after too many failures."""
        old = self._template
        self._template = None
        if old is not None:
            old.close()
            if old.alive:
                self._old.append(old)
        if self._failures >= _TEMPLATE_FAILURES:
            log.error("the process template failed %d times in a row; starting every daemon "
                      "by exec from now on (each then holds its own interpreter)",
                      self._failures)
            return None
        try:
            self._template = Template.exec(self._modules)
        except (OSError, subprocess.SubprocessError) as err:
            log.error("cannot start a process template (%s); starting every daemon by exec",
                      err)
            return None
        log.info("process template started (pid %d)", self._template.pid)
        return self._template

    def retire_template(self) -> None:
        """The stack is up: stop the template and exec whatever starts later.

        A template idle beside the daemons holds its own copy of every page
        they all have written to (~6 MiB); a daemon respawned later by exec
        costs what it did before the template existed."""
        template, self._template = self._template, None
        if template is None:
            return
        log.info("every daemon has started; process template (pid %d) exits, later "
                 "starts are exec'd", template.pid)
        template.close()
        if template.alive:
            self._old.append(template)

    def wait(self, pid: int) -> None:
        """Block until child `pid` (killed by the caller) has been reaped."""
        with contextlib.suppress(ChildProcessError):
            _pid, status = os.waitpid(pid, 0)
            proc = self._popen.pop(pid, None)
            if proc is not None:
                proc.returncode = os.waitstatus_to_exitcode(status)

    def reap(self) -> Iterator[tuple[int, int]]:
        """Every exited child that is not a template: (pid, Popen-style return code)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            code = os.waitstatus_to_exitcode(status)
            proc = self._popen.pop(pid, None)
            if proc is not None:
                proc.returncode = code
            if not self._reaped_template(pid, code):
                yield pid, code

    def _reaped_template(self, pid: int, code: int) -> bool:
        for old in self._old:
            if old.reaped(pid, code):
                self._old.remove(old)
                return True
        template = self._template
        if template is None or not template.reaped(pid, code):
            return False
        if not self._closing:
            self._failures += 1
            log.warning("process template (pid %d) %s; a new one starts with the next daemon",
                        pid, describe_status(code))
        return True

    def close(self) -> None:
        """On exit: no template may outlive cluster-mcp."""
        self._closing = True
        for template in (*self._old, *([self._template] if self._template else [])):
            template.close()
            with contextlib.suppress(ChildProcessError):
                _pid, status = os.waitpid(template.pid, 0)
                template.reaped(template.pid, os.waitstatus_to_exitcode(status))
        self._old.clear()
