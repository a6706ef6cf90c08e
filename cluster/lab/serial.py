"""Serial links between lab nodes: the lab side of the null-modem relay.

`Lab.serial_link(a, b)` starts one relay process (`cluster.lab.relay`, in the
root namespace: a cable needs no network) and gives each node a stable path,
`<root>/<node>/ttyS<n>`, a symlink to its pty slave. The node's ha.cf names that
path (`serial /tmp/cluster-lab/cl1a2b/n1/ttyS0`). Open it with O_NOCTTY (pyserial
does): our daemons run as session leaders and must not acquire the pty as their
controlling terminal.

`hang_up()` takes the ptys away, as an unplugged USB-serial adapter does: each
node's tty hangs up and its path disappears. `recreate()` brings new ones under
the same paths, as replugging the adapter does (udev gives it the same name).

`pull()` and `plug()` are acknowledged by the relay before they return, so a
test may rely on the cut being in place the moment `pull()` returns.

Inputs: two nodes and the lab's prefix/resources. Talks to: its relay, over
the relay's stdin/stdout pipes.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from cluster.lab.cleanup import RELAY_MODULE, Resources
from cluster.lab.netns import LabError

if TYPE_CHECKING:
    from cluster.lab.node import Node

__all__ = ["SerialLink"]

_ANSWER_TIMEOUT = 15.0  # a relay answers in microseconds; this covers a starved host


class SerialLink:
    """A null-modem cable between two nodes (create it with `Lab.serial_link`)."""

    def __init__(
        self,
        a: Node,
        b: Node,
        *,
        prefix: str,
        resources: Resources,
        log_path: Path,
        links: tuple[Path, Path],
    ) -> None:
        if a is b:
            raise LabError(f"a serial link needs two different nodes, got {a.name} twice")
        self.nodes = (a, b)
        self._links = links
        self._buffer = b""
        self._plugged = True
        with open(log_path, "ab") as log_file:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", RELAY_MODULE, "--lab-prefix", prefix],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                bufsize=0,
                start_new_session=True,
            )
        resources.track(self._proc)
        hello = json.loads(self._read_line())
        for link, target in zip(links, hello["paths"], strict=True):
            link.symlink_to(target)

    @property
    def pid(self) -> int:
        """The relay process (in the root namespace, its own session)."""
        return self._proc.pid

    @property
    def plugged(self) -> bool:
        return self._plugged

    def path(self, node: Node) -> str:
        """The tty path `node` uses for this cable (a symlink under its dir)."""
        return str(self._links[self._end(node)])

    def pull(self) -> None:
        """Stop relaying: from now on bytes written at either end are lost."""
        self._command("pull")
        self._plugged = False

    def plug(self) -> None:
        """Relay again."""
        self._command("plug")
        self._plugged = True

    def hang_up(self) -> None:
        """Close both ptys: the nodes' ttys hang up and their paths disappear."""
        self._command("hangup")
        for link in self._links:
            link.unlink(missing_ok=True)

    def recreate(self) -> None:
        """New ptys after `hang_up`, under the same paths."""
        paths = self._command("recreate").split()
        for link, target in zip(self._links, paths, strict=True):
            link.symlink_to(target)

    def flush(self, node: Node) -> None:
        """Drop bytes waiting unread at `node`'s end (used when a node boots)."""
        self._command(f"flush {self._end(node)}")

    def inject(self, node: Node, data: bytes) -> None:
        """Line noise: `data` arrives at `node`'s tty as if the far end had sent it."""
        self._command(f"inject {self._end(node)} {data.hex()}")

    def counters(self) -> tuple[int, int]:
        """(bytes relayed, bytes dropped by a pulled cable) since creation."""
        words = self._command("stats").split()
        return int(words[0]), int(words[1])

    def close(self) -> None:
        """Stop the relay (EOF on its stdin) and remove the symlinks."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=_ANSWER_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=_ANSWER_TIMEOUT)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        for link in self._links:
            link.unlink(missing_ok=True)

    def _end(self, node: Node) -> int:
        for index, member in enumerate(self.nodes):
            if member is node:
                return index
        raise LabError(f"node {node.name} is not on this serial link")

    def _command(self, text: str) -> str:
        """Send one command; return what follows `ok <command>` in the answer."""
        stdin = self._proc.stdin
        if stdin is None or stdin.closed or self._proc.poll() is not None:
            raise LabError(f"serial relay pid {self._proc.pid} is not running")
        stdin.write(f"{text}\n".encode())
        answer = self._read_line()
        if not (answer == f"ok {text}" or answer.startswith(f"ok {text} ")):
            raise LabError(f"serial relay answered {answer!r} to {text!r}")
        return answer[len(f"ok {text}") :].strip()

    def _read_line(self) -> str:
        """One line from the relay's stdout, waiting at most _ANSWER_TIMEOUT."""
        stdout = self._proc.stdout
        if stdout is None:
            raise LabError("serial relay has no stdout pipe")
        deadline = time.monotonic() + _ANSWER_TIMEOUT
        with selectors.DefaultSelector() as selector:
            selector.register(stdout.fileno(), selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LabError(f"serial relay pid {self._proc.pid} did not answer")
                if not selector.select(timeout=remaining):
                    continue
                chunk = os.read(stdout.fileno(), 4096)
                if not chunk:
                    raise LabError(f"serial relay pid {self._proc.pid} exited")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()
