"""A live two-node cluster on this machine: ``python3 -m cluster.lab.demo`` (as root).

Builds two nodes and a client in network namespaces, runs the real stack on
both with ``node1 IPaddr::<VIP>/24/eth1 httpd``, shows ``crm_status``, then
powers node1 off while the client asks the VIP for a page every 10 ms, and
prints how long the client went unanswered.  Everything is removed at the
end, or on Ctrl-C.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from cluster.lab.lab import Lab
from cluster.lab.netns import LabUnavailable
from cluster.lab.node import Node
from cluster.lab.services import CLIENT_PROBE, HTTP_PORT, httpd_script
from cluster.lab.waiting import wait_for

HA_CF = """\
# heartbeat LAN + public LAN; lab timings
keepalive {keepalive}ms
deadtime {deadtime}ms
warntime {warntime}ms
initdead {initdead}ms
auto_failback off
bcast eth0
bcast eth1
node node1 node2
"""


def _crm_status(node: Node) -> str:
    done = node.run([sys.executable, "-m", "cluster.cli.crm_status", "--run-dir",
                     str(node.run_dir)], check=False, timeout=10)
    return done.stdout if done.returncode == 0 else done.stderr


def _answers(client: Node, vip: str) -> str:
    probe = client.run([sys.executable, "-c", CLIENT_PROBE, vip, str(HTTP_PORT), "0.05", "0.06"],
                       check=False, timeout=10)
    words = probe.stdout.split()
    return words[1] if len(words) > 1 else "-"


def run(keepalive_ms: int, deadtime_ms: int) -> int:
    with Lab() as lab:
        hb, public = lab.add_lan("hb"), lab.add_lan("public")
        node1, node2 = lab.add_node("node1", [hb, public]), lab.add_node("node2", [hb, public])
        client = lab.add_host("client", [public])
        vip = public.host(200)
        for node in (node1, node2):
            node.write_config(
                ha_cf=HA_CF.format(keepalive=keepalive_ms, deadtime=deadtime_ms,
                                   warntime=deadtime_ms // 2,
                                   initdead=max(deadtime_ms * 2, 2000)),
                haresources=f"node1 IPaddr::{vip}/24/eth1 httpd\n",
                files={"resource.d/httpd": httpd_script(node)})
        print(f"Two nodes in namespaces {node1.netns} and {node2.netns}, a client in "
              f"{client.netns}; service address {vip}, keepalive {keepalive_ms} ms, "
              f"deadtime {deadtime_ms} ms.\nStarting the stack on both nodes...", flush=True)
        for node in (node1, node2):
            node.start_stack()
        wait_for(lambda: _answers(client, vip) == "node1", timeout=60,
                 message="the client never reached the service on node1")
        print("\n$ crm_status   (on node1)\n" + _crm_status(node1), flush=True)
        probe = client.spawn([sys.executable, "-c", CLIENT_PROBE, vip, str(HTTP_PORT),
                              "0.01", "30"], stdout=subprocess.PIPE)
        time.sleep(1.0)
        print("Powering node1 off (every process killed, cables out)...", flush=True)
        off_at = time.monotonic()
        node1.power_off()
        outage = _measure(probe, off_at)
        probe.kill()
        probe.wait()
        if probe.stdout is not None:
            probe.stdout.close()
        if outage is None:
            print("node2 did not take over within 30 s: see the logs under", lab.root)
            return 1
        print(f"The client was answered by node2 {outage * 1000:.0f} ms after node1 lost "
              f"power (deadtime {deadtime_ms} ms).")
        print("\n$ crm_status   (on node2)\n" + _crm_status(node2), flush=True)
    return 0


def _measure(probe: subprocess.Popen[bytes], off_at: float) -> float | None:
    assert probe.stdout is not None
    for raw in probe.stdout:
        stamp, _, who = raw.decode().strip().partition(" ")
        if float(stamp) > off_at and who == "node2":
            return float(stamp) - off_at
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m cluster.lab.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keepalive", type=int, default=100, help="ms (default 100)")
    parser.add_argument("--deadtime", type=int, default=500, help="ms (default 500)")
    args = parser.parse_args(argv)
    try:
        return run(args.keepalive, args.deadtime)
    except LabUnavailable as err:
        print(f"The demo needs root and network namespaces: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted; the lab has been removed.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
