"""hbcomm's per-heartbeat cost: CPU microseconds per packet on its send and receive paths.

The real :class:`~cluster.hbcomm.service.HbcommService` runs in this process,
in a private network namespace (``unshare --net``, loopback only, so port 694
is ours), with one ``ucast lo`` medium and the lab's sha256 authkeys.  A
plain socket plays the peer: it sends the heartbeats node2's own hbcomm would
send (built by the same channel and encoder).  Each path is timed with the
thread's CPU clock, so the figures stay meaningful on a loaded machine:

* receive, one per wake-up: one datagram queued, then the medium's readable
  callback (recv, verify, decode, sequencing, liveness, timer) — the routine
  case, a heartbeat arriving alone;
* receive, 16 per wake-up: the same with 16 queued (the cost a burst amortises);
* send: the heartbeat timer's callback (liveness and channel ticks, build,
  sign, sendto on every medium, re-arming the timer).

Each path runs twice: back to back (caches warm: the code's own cost) and one
packet per 10 ms with hbcomm asleep in between, as at keepalive 10 ms.  On a
busy machine the second is several times the first: other processes evict
hbcomm's code and data between heartbeats, so each wake-up pays for cache and
TLB misses in proportion to how much code and data it touches.

The event loop's own poll is not included (it is the same per wake-up
whatever hbcomm does).  ``--profile`` prints where the receive path's time
goes (cProfile, by own time) to stderr.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq

from bench.common import progress
from bench.report import Table
from cluster.bus import endpoints
from cluster.bus.loop import Loop
from cluster.common.logs import setup_logging
from cluster.config.confdir import load_config
from cluster.hbcomm.channel import Channel, ChannelConfig
from cluster.hbcomm.media import Transport
from cluster.hbcomm.packet import encode
from cluster.hbcomm.service import HbcommService
from cluster.runtime.daemon import DaemonContext
from cluster.runtime.paths import NodePaths

_HA_CF = """keepalive 1
deadtime 10
warntime 5
initdead 10
realtime off
ucast lo 127.0.0.1
node node1 node2
"""
_AUTHKEYS = "auth 1\n1 sha256 labsecret\n"
_PORT = 694
_BURST = 16
_PACE = 0.010  # keepalive 10 ms: the gap between two heartbeats on one node
_TIMEOUT = 300.0
PATHS = ("receive, one per wake-up, back to back", f"receive, {_BURST} per wake-up",
         "send, back to back", "receive, one per 10 ms", "send, one per 10 ms")


def _service(root: Path) -> HbcommService:
    conf = root / "conf"
    conf.mkdir()
    (conf / "ha.cf").write_text(_HA_CF)
    keys = conf / "authkeys"
    keys.write_text(_AUTHKEYS)
    keys.chmod(0o600)
    paths = NodePaths(conf, root / "run", root / "state", root / "log")
    for directory in (paths.state_dir, paths.log_dir):
        directory.mkdir()
    config = load_config(conf, "node1")
    setup_logging("hbcomm", "node1", paths.log_dir)  # as the daemon: INFO to its log file
    endpoints.prepare_run_dir(paths.run_dir)
    loop = Loop()
    ctx = DaemonContext(name="hbcomm", node="node1", paths=paths, config=config, loop=loop,
                        zmq=zmq.Context(), started=loop.clock())
    return HbcommService(ctx)


class _Peer:
    """node2's heartbeats, signed as its hbcomm would sign them, sent from a plain socket."""

    def __init__(self, service: HbcommService) -> None:
        self._keys = service._config.authkeys
        self._channel = Channel(ChannelConfig(), "node2", service.generation + 1000,
                                ("node1", "node2"), random.Random(1))
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._started = time.monotonic()

    def heartbeats(self, count: int) -> list[bytes]:
        now = time.monotonic()
        return [encode(self._channel.status("active", 10.0, 1.0, now - self._started,
                                            now + i * 1e-6), self._keys)
                for i in range(count)]

    def send(self, raw: bytes) -> None:
        self._sock.sendto(raw, ("127.0.0.1", _PORT))

    def close(self) -> None:
        self._sock.close()


def _settle(service: HbcommService, medium: Transport, pace: float) -> None:
    """Run what is due (our own heartbeat) and drop our own packets, off the clock;
    then idle ``pace`` seconds, as hbcomm does between heartbeats."""
    service._ctx.loop.run_once(0)
    medium.receive()
    if pace:
        time.sleep(pace)


def _timed(call: Callable[[], None]) -> int:
    start = time.thread_time_ns()
    call()
    return time.thread_time_ns() - start


def _receive(service: HbcommService, medium: Transport, peer: _Peer, packets: int,
             burst: int, pace: float = 0.0) -> float:
    spent = 0
    raws = peer.heartbeats(packets)
    for first in range(0, packets, burst):
        _settle(service, medium, pace)
        before_batch = service.counters["received"]
        for raw in raws[first:first + burst]:
            peer.send(raw)
        spent += _timed(lambda: service._on_readable(medium))
        if service.counters["received"] - before_batch != len(raws[first:first + burst]):
            raise RuntimeError("a datagram sent on loopback was not read in the same wake-up")
    return spent / packets / 1000.0


def _send(service: HbcommService, medium: Transport, packets: int, pace: float = 0.0
          ) -> float:
    spent = 0
    for i in range(packets):
        if pace or i % _BURST == 0:
            _settle(service, medium, pace)
        service._next_status = 0.0  # due now: the timer callback sends a heartbeat
        spent += _timed(service._on_timer)
    return spent / packets / 1000.0


def measure(packets: int, paced: int, profile: bool = False) -> dict[str, float]:
    """µs of CPU per packet on each of :data:`PATHS` (run inside a private netns)."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    with tempfile.TemporaryDirectory(prefix="hbcomm-cost-") as tmp:
        service = _service(Path(tmp))
        medium = service.media.live[0]
        peer = _Peer(service)
        try:
            _receive(service, medium, peer, 200, 1)  # warm up: node2 up, caches filled
            _send(service, medium, 200)
            if profile:
                profiler = cProfile.Profile()
                profiler.enable()
                _receive(service, medium, peer, packets, 1)
                profiler.disable()
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
            return {PATHS[0]: _receive(service, medium, peer, packets, 1),
                    PATHS[1]: _receive(service, medium, peer, packets, _BURST),
                    PATHS[2]: _send(service, medium, packets),
                    PATHS[3]: _receive(service, medium, peer, paced, 1, _PACE),
                    PATHS[4]: _send(service, medium, paced, _PACE)}
        finally:
            peer.close()
            service.close()
            service._ctx.close_bus()
            service._ctx.zmq.term()
            service._ctx.loop.close()


def _isolated(packets: int, paced: int, *extra: str) -> list[str]:
    """The command that measures in a fresh network namespace of its own (needs root)."""
    return ["unshare", "--net", sys.executable, "-m", "bench.hbcomm_cost", "--packets",
            str(packets), "--paced", str(paced), "--here", *extra]


def run_isolated(packets: int, paced: int) -> dict[str, float]:
    done = subprocess.run(_isolated(packets, paced), capture_output=True, text=True,
                          timeout=_TIMEOUT, env=os.environ.copy())
    if done.returncode != 0:
        raise RuntimeError(f"hbcomm_cost exited {done.returncode}: {done.stderr.strip()[-300:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return {key: float(value) for key, value in result.items()}


def table(packets: int = 5000, paced: int = 300) -> Table:
    progress(f"hbcomm cost: {packets} packets back to back, {paced} paced, per path")
    result = run_isolated(packets, paced)
    out = Table("hbcomm CPU per heartbeat packet",
                f"Thread CPU time of the real hbcomm service per packet: {packets} packets "
                f"back to back (caches warm) and {paced} one per 10 ms (hbcomm sleeps "
                "between them, as at keepalive 10 ms, so caches are cold as in service); "
                "sha256 authkeys, one ucast medium on loopback; the event loop's own poll "
                "is not included.  `python3 -m bench.hbcomm_cost --profile` shows where "
                "the time goes.", ("path", "CPU per packet"))
    for name in PATHS:
        out.add(name, f"{result[name]:.1f} µs")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m bench.hbcomm_cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packets", type=int, default=5000,
                        help="packets per back-to-back path (default 5000)")
    parser.add_argument("--paced", type=int, default=300,
                        help="packets per paced path, one per 10 ms (default 300)")
    parser.add_argument("--here", action="store_true",
                        help="measure in this process (already in a private netns); print JSON")
    parser.add_argument("--profile", action="store_true",
                        help="also profile the receive path back to back (to stderr)")
    args = parser.parse_args(argv)
    if args.packets < _BURST or args.paced < 1:
        parser.error(f"--packets must be at least {_BURST}, --paced at least 1")
    if args.here:
        print(json.dumps(measure(args.packets, args.paced, args.profile)))
        return 0
    if args.profile:
        return subprocess.run(_isolated(args.packets, args.paced, "--profile"),
                              check=False).returncode
    print(table(args.packets, args.paced).markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
