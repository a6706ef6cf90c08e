"""Failover time as a client sees it: power off → the client is served again.

    python3 -m bench.failover [--runs 20] [--keepalive 0.1] [--deadtime 0.5] [--graceful]

Two nodes and a client in namespaces; ``node1 IPaddr::VIP/24/eth1 httpd``
with ``auto_failback on`` so every run starts with node1 serving.  A client
asks the VIP for a page every 10 ms; each run powers node1 off (or, with
``--graceful``, sends its cluster-mcp SIGTERM) and records the time until
node2 answers.  node1 is then powered on and restarted, and the group comes
home before the next run.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time

from bench.common import summary
from cluster.bus.client import BusError, request
from cluster.bus.messages.crmd import GetStatus, StatusResult
from cluster.lab import Lab, Node
from cluster.lab.services import CLIENT_PROBE, HTTP_PORT, httpd_script
from cluster.lab.waiting import wait_for

HA_CF = """\
keepalive {keepalive}ms
deadtime {deadtime}ms
warntime {warntime}ms
initdead {initdead}ms
auto_failback on
bcast eth0
bcast eth1
node node1 node2
"""


def _members(node: Node) -> tuple[str, ...]:
    try:
        status = request(node.run_dir, "crmd", GetStatus(), timeout=1.0)
    except BusError:
        return ()
    return tuple(status.members) if isinstance(status, StatusResult) else ()


class Client:
    """A probe in the client namespace; yields (time, who answered) lines."""

    def __init__(self, client: Node, vip: str) -> None:
        self.proc = client.spawn([sys.executable, "-c", CLIENT_PROBE, vip, str(HTTP_PORT),
                                  "0.01", "3600"], stdout=subprocess.PIPE)

    def served_by(self, name: str, after: float, timeout: float) -> float:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        for raw in self.proc.stdout:
            stamp, _, who = raw.decode().strip().partition(" ")
            if float(stamp) > after and who == name:
                return float(stamp)
            if time.monotonic() > deadline:
                break
        raise TimeoutError(f"{name} did not answer within {timeout} s")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keepalive", type=float, default=0.1)
    parser.add_argument("--deadtime", type=float, default=0.5)
    parser.add_argument("--graceful", action="store_true",
                        help="SIGTERM node1's cluster-mcp instead of powering it off")
    args = parser.parse_args()
    ka, dt = round(args.keepalive * 1000), round(args.deadtime * 1000)
    samples: list[float] = []
    with Lab() as lab:
        hb, public = lab.add_lan("hb"), lab.add_lan("public")
        n1, n2 = lab.add_node("node1", [hb, public]), lab.add_node("node2", [hb, public])
        client_node = lab.add_host("client", [public])
        vip = public.host(200)
        for node in (n1, n2):
            node.write_config(ha_cf=HA_CF.format(keepalive=ka, deadtime=dt, warntime=dt // 2,
                                                 initdead=max(2 * dt, 2000)),
                              haresources=f"node1 IPaddr::{vip}/24/eth1 httpd\n",
                              files={"resource.d/httpd": httpd_script(node)})
        mcp1 = n1.start_stack()
        client = Client(client_node, vip)
        try:
            client.served_by("node1", 0.0, 60)
            n2.start_stack()
            wait_for(lambda: _members(n2) == ("node1", "node2"), 60,
                     message="node2 never joined node1")
            for _ in range(args.runs):
                time.sleep(1.0)  # let the pair settle before the next fault
                start = time.monotonic()
                if args.graceful:
                    mcp1.send_signal(signal.SIGTERM)
                else:
                    n1.power_off()
                samples.append(client.served_by("node2", start, 60) - start)
                if args.graceful:
                    mcp1.wait(timeout=60)
                else:
                    n1.power_on()
                mcp1 = n1.start_stack()
                client.served_by("node1", time.monotonic(), 120)
        finally:
            client.close()
    what = "graceful handover (SIGTERM)" if args.graceful else "failover (power off)"
    print(f"{what}, keepalive {ka} ms, deadtime {dt} ms: {summary(samples)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
