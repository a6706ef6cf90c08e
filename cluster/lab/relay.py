"""The serial relay process: a null-modem cable made of two pty pairs.

`python -m cluster.lab.relay --lab-prefix PREFIX` opens two pseudo-terminals,
prints their slave paths as one JSON line on stdout, then copies every byte
read from one master to the other master. Each node opens its slave (through
the lab's stable symlink), so what one node writes the other reads, like two
machines joined by a null-modem cable.

Control: one command per line on stdin, each answered by `ok <command>` on
stdout once it has taken effect:
  pull      stop relaying; bytes read from either end are dropped
  plug      relay again
  flush N   discard bytes queued for end N (0 or 1) that nobody has read yet
  stats     answer `ok stats RELAYED DROPPED`: bytes carried and bytes lost to
            a pulled cable so far (tests wait on these instead of sleeping)
  hangup    close both pty pairs, as if the adapters were unplugged: each node's
            tty hangs up (reads return EOF, writes fail with EIO) and its
            /dev/pts path disappears once the node lets go of it
  recreate  after a hangup, open two new pty pairs and answer
            `ok recreate PATH0 PATH1`, their slave paths (the adapters are back)
EOF on stdin (the lab closed the pipe or died) ends the relay, so a relay can
never outlive its lab by more than one loop turn.

The relay keeps each slave open itself. Without that, a master whose slave
nobody holds reports POLLHUP forever and loses its termios settings; with it,
the ends stay in raw mode (no echo, no line editing: echo would bounce bytes
back across the cable). When an end's input queue is full because its node is
not reading (powered off, stack stopped), the queue is flushed and the new bytes
written: a UART overruns the same way, and a rebooted node then reads fresh
heartbeats rather than a backlog.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import sys
import termios
import time
import tty

__all__ = ["main"]

_CHUNK = 4096


class _End:
    """One pty pair: the master we relay through, the slave a node opens."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)

    def deliver(self, data: bytes) -> None:
        """Write to the master (towards the node); overrun drops the backlog."""
        for _attempt in range(2):
            try:
                written = os.write(self.master, data)
            except BlockingIOError:
                written = 0
            data = data[written:]
            if not data:
                return
            termios.tcflush(self.slave, termios.TCIFLUSH)

    def flush(self) -> None:
        termios.tcflush(self.slave, termios.TCIFLUSH)

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)


class _Relay:
    """The cable: two ends, a plugged flag and byte counters."""

    def __init__(self, ends: list[_End]) -> None:
        self.ends = ends  # empty while hung up
        self.plugged = True
        self.relayed = 0
        self.dropped = 0
        self._selector = selectors.DefaultSelector()

    def close(self) -> None:
        self._hang_up()
        self._selector.close()

    def carry(self, source: int) -> None:
        try:
            data = os.read(self.ends[source].master, _CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        if not self.plugged:
            self.dropped += len(data)
            return
        self.ends[1 - source].deliver(data)
        self.relayed += len(data)

    def command(self, words: list[str]) -> str:
        """Apply one control command; return the answer line."""
        if words == ["pull"]:
            self.plugged = False
        elif words == ["plug"]:
            self.plugged = True
        elif words == ["hangup"]:
            self._hang_up()
        elif words == ["recreate"]:
            if self.ends:
                return "error recreate: the line is not hung up"
            self.ends = [_End(), _End()]
            self._watch_ends()
            return f"ok recreate {' '.join(end.path for end in self.ends)}"
        elif len(words) == 2 and words[0] == "flush" and words[1] in ("0", "1"):
            if self.ends:  # a hung-up line has nothing queued
                self.ends[int(words[1])].flush()
        elif not self.ends and words[0:1] == ["inject"]:
            return "error inject: the line is hung up"
        elif len(words) == 3 and words[0] == "inject" and words[1] in ("0", "1"):
            # Line noise: bytes arrive at that end as if the other side sent them.
            try:
                self.ends[int(words[1])].deliver(bytes.fromhex(words[2]))
            except ValueError:
                return "error inject takes hex bytes"
        elif words == ["stats"]:
            return f"ok stats {self.relayed} {self.dropped}"
        else:
            return f"error unknown command {' '.join(words)!r}"
        return f"ok {' '.join(words)}"

    def serve(self, max_seconds: float) -> int:
        """Relay until stdin reaches EOF or `max_seconds` pass."""
        stdin_fd = sys.stdin.fileno()
        pending = b""
        deadline = time.monotonic() + max_seconds
        self._selector.register(stdin_fd, selectors.EVENT_READ, None)
        self._watch_ends()
        while (remaining := deadline - time.monotonic()) > 0:
            for key, _mask in self._selector.select(timeout=min(remaining, 5.0)):
                if key.data is not None:
                    # A hangup earlier in this batch closed that end.
                    if self.ends and self.ends[key.data].master == key.fd:
                        self.carry(key.data)
                    continue
                chunk = os.read(stdin_fd, _CHUNK)
                if not chunk:
                    return 0
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    sys.stdout.write(self.command(line.decode().split()) + "\n")
                    sys.stdout.flush()
        return 0

    def _watch_ends(self) -> None:
        for index, end in enumerate(self.ends):
            self._selector.register(end.master, selectors.EVENT_READ, index)

    def _hang_up(self) -> None:
        for end in self.ends:
            self._selector.unregister(end.master)
            end.close()
        self.ends = []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cluster.lab.relay")
    # The prefix is only a label: it lets the stale sweeper find our process.
    parser.add_argument("--lab-prefix", required=True)
    # A relay is a daemon for the length of a lab run; the bound only stops a
    # relay whose lab somehow kept its pipe open forever.
    parser.add_argument("--max-seconds", type=float, default=7 * 24 * 3600.0)
    args = parser.parse_args(argv)
    relay = _Relay([_End(), _End()])
    try:
        sys.stdout.write(json.dumps({"paths": [end.path for end in relay.ends]}) + "\n")
        sys.stdout.flush()
        return relay.serve(args.max_seconds)
    finally:
        relay.close()


if __name__ == "__main__":
    sys.exit(main())
