"""The process template: one preloaded interpreter that forks the built-in daemons.

Theory of operation
-------------------
Each daemon used to be a fresh ``python3 -m cluster.X``: four interpreters
on a node, each holding its own 13-15 MiB of imported code and objects.  The
template imports what the daemons share once (the bus, zmq, msgpack, each
daemon's service module), freezes those objects out of the collector's reach
(``gc.freeze``: a collection then writes to none of their pages) and forks a
daemon per request, so the daemons share those pages copy-on-write with the
template and with cluster-mcp, which forked the template before it made any
thread or zmq context.

cluster-mcp talks to it over a SOCK_SEQPACKET socketpair, one request and
one reply at a time (cluster-mcp waits for the reply, so it never reaps a
daemon whose pid it does not know yet):

* once, when its imports are done: ``ready``;
* request: JSON ``{"argv": [...], "env": {...} | null}`` plus one descriptor
  (SCM_RIGHTS), the daemon's console log, which becomes its stdout/stderr;
* reply: ``{"pid": N}``, ``{"error": "why"}``, or ``{"stale": "why"}`` when a
  module the template loaded has changed on disk (a package upgrade): the
  template exits and cluster-mcp starts a new one, so a daemon restarted after
  an upgrade runs the new code.

The template double-forks: the daemon's parent exits at once, so the daemon
is reparented to cluster-mcp, a child subreaper, which reaps it as it
reaps a Popen child.  The daemon waits for the go-ahead until its pid has
been sent: it never runs unknown to cluster-mcp, and its parent is already
cluster-mcp when it starts (the watchdog keeper trusts its parent's pid).
The daemon sets itself up as the ``python3 -m`` it
replaces would be: own process group, default signal dispositions and an
empty mask, stdin on /dev/null, no other descriptor, the requested
environment and ``sys.argv``, the same command line in ``ps``, then runs the
module as ``__main__``.  The template exits when cluster-mcp's end closes,
which it does once every daemon has started (see :mod:`cluster.mcp.spawner`).
"""

from __future__ import annotations

import array
import atexit
import gc
import importlib
import importlib.util
import json
import os
import runpy
import signal
import socket
import sys
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from setproctitle import setproctitle

__all__ = ["MAX_MESSAGE", "READY", "TITLE", "ProtocolError", "Request", "Sources", "decode_reply",
           "decode_request", "encode_reply", "encode_request", "preload_modules", "serve"]

TITLE = "cluster: process template"
MAX_MESSAGE = 256 * 1024
READY = b"ready"  # sent once, when the imports are done
_MAXFD = 1 << 20
# What every daemon imports, whatever its service module pulls in besides.
_COMMON = ("zmq", "msgpack", "cluster.bus.loop", "cluster.bus.server", "cluster.bus.client",
           "cluster.runtime.daemon")


class ProtocolError(ValueError):
    """A message on the template's socket that is not what the protocol says."""


@dataclass(frozen=True, slots=True)
class Request:
    argv: tuple[str, ...]
    env: Mapping[str, str] | None


def encode_request(argv: Sequence[str], env: Mapping[str, str] | None) -> bytes:
    return json.dumps({"argv": list(argv), "env": None if env is None else dict(env)}).encode()


def decode_request(data: bytes) -> Request:
    """The request in `data`; ProtocolError names what is wrong with it."""
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, ValueError) as err:
        raise ProtocolError(f"request is not JSON: {err}") from None
    if not isinstance(body, dict):
        raise ProtocolError("request is not a JSON object")
    argv, env = body.get("argv"), body.get("env")
    if not isinstance(argv, list) or len(argv) < 3 or argv[1] != "-m" \
            or not all(isinstance(arg, str) for arg in argv):
        raise ProtocolError(f"argv must be [python, '-m', module, args...], not {argv!r}")
    if env is not None and not (isinstance(env, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items())):
        raise ProtocolError("env must be an object of strings or null")
    return Request(tuple(argv), env)


def encode_reply(*, pid: int | None = None, error: str | None = None,
                 stale: str | None = None) -> bytes:
    if pid is not None:
        return json.dumps({"pid": pid}).encode()
    if stale is not None:
        return json.dumps({"stale": stale}).encode()
    return json.dumps({"error": error or "unknown error"}).encode()


def decode_reply(data: bytes) -> tuple[str, int | str]:
    """("pid", N), ("error", why) or ("stale", why); ProtocolError otherwise."""
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, ValueError) as err:
        raise ProtocolError(f"reply is not JSON: {err}") from None
    if isinstance(body, dict) and len(body) == 1:
        ((kind, value),) = body.items()
        if kind == "pid" and isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return kind, value
        if kind in ("error", "stale") and isinstance(value, str):
            return kind, value
    raise ProtocolError(f"unexpected reply {body!r}")


# -- the template process ------------------------------------------------------

def preload_modules(daemons: Iterable[str]) -> tuple[str, ...]:
    """The modules worth importing before the fork for these daemons."""
    return (*_COMMON, *(f"cluster.{name}.service" for name in daemons))


def _preload(modules: Iterable[str]) -> None:
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as err:  # the daemon itself will report it when it imports it
            print(f"process template: cannot preload {module}: {err}", file=sys.stderr)
    gc.collect()
    gc.freeze()


class Sources:
    """The files under `root` (our package) that are loaded, as they were then."""

    def __init__(self, root: Path) -> None:
        root = root.resolve()
        self._seen: dict[str, tuple[int, int]] = {}
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None)
            if path and Path(path).resolve().is_relative_to(root):
                self._seen[path] = self._stamp(path)

    @staticmethod
    def _stamp(path: str) -> tuple[int, int]:
        try:
            st = os.stat(path)
        except OSError:
            return (-1, -1)
        return (st.st_mtime_ns, st.st_size)

    def changed(self) -> str | None:
        return next((path for path, stamp in self._seen.items() if self._stamp(path) != stamp),
                    None)


def _reset_signals() -> None:
    """As a fresh interpreter starts: default dispositions, Python's SIGINT
    handler, SIGPIPE and SIGXFSZ ignored, nothing blocked."""
    for signum in signal.valid_signals():
        if signum in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(signum, signal.SIG_DFL)
        except (OSError, ValueError):
            continue
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _become_daemon(request: Request, console: int) -> int:
    """In the forked daemon: set up as `python3 -m module args` would be, run it."""
    os.setpgid(0, 0)
    _reset_signals()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(console, 1)
    os.dup2(console, 2)
    os.closerange(3, _MAXFD)
    if request.env is not None:
        os.environ.clear()
        os.environ.update(request.env)
    module = request.argv[2]
    setproctitle(" ".join(request.argv))
    spec = importlib.util.find_spec(f"{module}.__main__")
    sys.argv = [spec.origin if spec is not None and spec.origin else module,
                *request.argv[3:]]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as done:
        code = done.code
        if code is None:
            status = 0
        elif isinstance(code, int):
            status = code
        else:
            print(code, file=sys.stderr)
            status = 1
    except BaseException:
        traceback.print_exc()
        status = 1
    else:
        status = 0
    atexit._run_exitfuncs()  # as an interpreter's exit would (logging flushes its handlers)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            continue
    return status


def _fork_daemon(sock: socket.socket, request: Request, console: int) -> bool:
    """Double-fork the daemon, tell cluster-mcp its pid, then let it run; False
    when cluster-mcp can no longer be told.

    The daemon waits for the go-ahead until its pid has been sent: when
    cluster-mcp has given up waiting and closed its end, the daemon exits unseen
    instead of running beside the one cluster-mcp then starts by exec."""
    pid_r, pid_w = os.pipe()
    go_r, go_w = os.pipe()
    try:
        middle = os.fork()
    except OSError as err:
        for fd in (pid_r, pid_w, go_r, go_w):
            os.close(fd)
        return _send(sock, encode_reply(error=f"fork failed: {err}"))
    if middle == 0:
        os.close(pid_r)
        os.close(go_w)
        try:
            pid = os.fork()
        except OSError as err:
            os.write(pid_w, f"fork failed: {err}".encode())
            os._exit(1)
        if pid == 0:
            sock.close()
            os.close(pid_w)
            go = os.read(go_r, 1)
            os.close(go_r)
            os._exit(_become_daemon(request, console) if go else 1)
        os.write(pid_w, str(pid).encode())
        os._exit(0)
    os.close(pid_w)
    os.close(go_r)
    with os.fdopen(pid_r, "rb") as answer:
        said = answer.read().decode(errors="replace")
    os.waitpid(middle, 0)
    with os.fdopen(go_w, "wb") as go_ahead:
        if not said.isdigit():
            return _send(sock, encode_reply(error=said or "the intermediate process died"))
        if not _send(sock, encode_reply(pid=int(said))):
            return False
        go_ahead.write(b"1")
    return True


def _send(sock: socket.socket, reply: bytes) -> bool:
    try:
        sock.send(reply)
    except OSError:
        return False
    return True


def _receive(sock: socket.socket) -> tuple[bytes, list[int]]:
    fds = array.array("i")
    data, ancillary, _flags, _addr = sock.recvmsg(MAX_MESSAGE, socket.CMSG_SPACE(fds.itemsize))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    return data, list(fds)


def serve(sock: socket.socket, modules: Iterable[str]) -> int:
    """The template's life: preload, then answer spawn requests until EOF."""
    os.setpgid(0, 0)  # out of cluster-mcp's group: a terminal's ^C is not for us
    setproctitle(TITLE)
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    _preload(modules)
    sources = Sources(Path(__file__).resolve().parents[1])
    if not _send(sock, READY):
        return 0
    while True:
        try:
            data, fds = _receive(sock)
        except OSError as err:
            print(f"process template: cannot read a request: {err}", file=sys.stderr)
            return 1
        if not data:
            return 0
        try:
            request = decode_request(data)
            if len(fds) != 1:
                raise ProtocolError(f"expected one descriptor, got {len(fds)}")
        except ProtocolError as err:
            connected = _send(sock, encode_reply(error=str(err)))
        else:
            changed = sources.changed()
            if changed is not None:
                _send(sock, encode_reply(stale=f"{changed} changed since the template loaded it"))
                return 0
            connected = _fork_daemon(sock, request, fds[0])
        for fd in fds:
            os.close(fd)
        if not connected:
            return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python3 -m cluster.mcp.template FD MODULE...``: a template started by exec
    (a respawn, or after an upgrade), on the socket cluster-mcp passed as FD."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or not args[0].isdigit():
        print("usage: python3 -m cluster.mcp.template FD [MODULE...]", file=sys.stderr)
        return 2
    sock = socket.socket(fileno=int(args[0]))
    return serve(sock, args[1:])


if __name__ == "__main__":
    sys.exit(main())
