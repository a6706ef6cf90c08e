"""Failover time as a client sees it: fault on node1 → the client is served by node2.

    python3 -m bench.failover [--runs 20] [--keepalive 0.1] [--deadtime 0.5]
                              [--graceful | --address-only] [--trace]

Two nodes and a client in namespaces; ``node1 IPaddr::VIP/24/eth1 httpd``
with ``auto_failback on`` so every run starts with node1 serving.  With
``--address-only`` the web server runs on both nodes all the time and the
group is the address alone (``node1 IPaddr::VIP/24/eth1``), the way
keepalived setups run, so the two can be compared.  A client
opens a new request to the VIP every 10 ms without waiting for the earlier
ones (``OVERLAPPING_PROBE``); each run powers node1 off (or, with
``--graceful``, sends its cluster-mcp SIGTERM) and records the time until the
client got node2's first answer; after a power-off also the time until node2's hbcomm declared
node1 dead, so the stack's own share after detection is known.  node1 is
then powered on and restarted, and the group comes home before the next
run.  `python3 -m bench` runs this at every setting.  With ``--trace``
node2's daemons write a step trace (`cluster.common.trace`) and the median
time of each step from the death decision to the client served is printed
(`bench.steps`).
"""

from __future__ import annotations

import enum
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from bench.common import Timing, crm_status, ha_cf, progress, progress_failure, setting_parser
from bench.report import Table, stat_cells
from bench.stats import Stats, ms, summary
from bench.steps import breakdown
from bench.steps import table as steps_table
from cluster.bus.messages.hbcomm import NodeStatusChanged
from cluster.common import trace
from cluster.lab import Lab, Node
from cluster.lab.events import EventLog
from cluster.lab.services import HTTP_PORT, OVERLAPPING_PROBE, httpd_script
from cluster.lab.waiting import wait_for

_PROBE_INTERVAL = 0.01  # the client asks every 10 ms
_SETTLE = 1.0           # pause before each fault, so the last failback is behind us
_START_TIMEOUT = 120.0  # stack start and join on a loaded 2-core host


class Fault(enum.Enum):
    POWER_OFF = "power off node1"
    SIGTERM = "SIGTERM node1's cluster-mcp"


@dataclass(frozen=True, slots=True)
class Sample:
    """Seconds from the fault until node2 served, and until node2 declared node1 dead;
    with a trace, the time per step after the death decision."""

    served: float
    detected: float | None  # None: no power-off, nothing to detect
    steps: list[tuple[str, float]] = field(default_factory=list)

    def __str__(self) -> str:
        dead = "" if self.detected is None else f" (declared dead after {ms(self.detected)})"
        return f"served by node2 after {ms(self.served)}{dead}"


class Client:
    """A probe in the client namespace: a new request every 10 ms, overlapping;
    reads (time answered, who answered) lines."""

    def __init__(self, client: Node, vip: str) -> None:
        self.proc = client.spawn([sys.executable, "-c", OVERLAPPING_PROBE, vip, str(HTTP_PORT),
                                  str(_PROBE_INTERVAL), "86400"], stdout=subprocess.PIPE)

    def served_by(self, name: str, after: float, timeout: float) -> float:
        """When the client first got an answer from `name` after `after`."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        for raw in self.proc.stdout:
            stamp, _, who = raw.decode().strip().partition(" ")
            if float(stamp) > after and who == name:
                return float(stamp)
            if time.monotonic() > deadline:
                break
        raise TimeoutError(f"{name} did not answer within {timeout} s")

    def gap(self, old: str, new: str, after: float, timeout: float) -> tuple[float, float]:
        """(`old`'s last answer, `new`'s first) around a move that began at `after`."""
        assert self.proc.stdout is not None
        last = 0.0
        deadline = time.monotonic() + timeout
        for raw in self.proc.stdout:
            stamp, _, who = raw.decode().strip().partition(" ")
            if who == old:
                last = max(last, float(stamp))
            elif who == new and float(stamp) > after:
                return last, float(stamp)
            if time.monotonic() > deadline:
                break
        raise TimeoutError(f"{new} did not answer within {timeout} s")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class Site:
    """node1 and node2 (LANs hb and public), a client on public, node1's group home."""

    def __init__(self, lab: Lab, timing: Timing, address_only: bool = False,
                 traced: bool = False) -> None:
        self.timing = timing
        self.address_only = address_only
        hb, public = lab.add_lan("hb"), lab.add_lan("public")
        self.n1 = lab.add_node("node1", [hb, public])
        self.n2 = lab.add_node("node2", [hb, public])
        self._client_host = lab.add_host("client", [public])
        self._vip = public.host(200)
        group = f"node1 IPaddr::{self._vip}/24/eth1{'' if address_only else ' httpd'}\n"
        for node in (self.n1, self.n2):
            node.write_config(ha_cf=ha_cf(["node1", "node2"], timing, media=("eth0", "eth1"),
                                          auto_failback=True),
                              haresources=group,
                              files={"resource.d/httpd": httpd_script(node)})
        self._client: Client | None = None
        self._mcp1: subprocess.Popen[bytes] | None = None
        self._trace = self.n2.dir / "trace" if traced else None

    def start(self) -> None:
        """node1 serving, node2 joined."""
        for node in (self.n1, self.n2):
            self._boot_services(node)
        self._mcp1 = self.n1.start_stack()
        self._client = Client(self._client_host, self._vip)
        self._client.served_by("node1", 0.0, _START_TIMEOUT)
        self.n2.start_stack(env={} if self._trace is None else {trace.ENV: str(self._trace)})
        wait_for(lambda: (s := crm_status(self.n2)) is not None
                 and s.members == ("node1", "node2"), _START_TIMEOUT,
                 message="node2 never joined node1")

    def run(self, fault: Fault) -> Sample:
        """One fault, measured; returns once node1 serves again."""
        assert self._client is not None and self._mcp1 is not None
        time.sleep(_SETTLE)
        with EventLog(self.n2.run_dir, "hbcomm", ["node"]) as events:
            start = time.monotonic()
            if fault is Fault.SIGTERM:
                self._mcp1.send_signal(signal.SIGTERM)
            else:
                self.n1.power_off()
            timeout = self.timing.deadtime * 10 + 60
            served = self._client.served_by("node2", start, timeout)
            detected = None if fault is Fault.SIGTERM else events.wait_for(
                lambda e: isinstance(e.msg, NodeStatusChanged) and e.msg.node == "node1"
                and e.msg.status == "dead", timeout, "node1 declared dead", since=start).at
        if fault is Fault.SIGTERM:
            self._mcp1.wait(timeout=_START_TIMEOUT)
        else:
            self.n1.power_on()
            self._boot_services(self.n1)
        self._mcp1 = self.n1.start_stack()
        self._client.served_by("node1", time.monotonic(), _START_TIMEOUT)
        steps = [] if self._trace is None else breakdown(
            (r for r in trace.read(self._trace) if start <= r.at <= served), served)
        return Sample(served - start, None if detected is None else detected - start, steps)

    def _boot_services(self, node: Node) -> None:
        """With the address alone in the group, the web server starts at boot."""
        if self.address_only:
            node.run([str(node.conf_dir / "resource.d" / "httpd"), "start"])

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


_Kind = TypeVar("_Kind", bound=enum.Enum)
_Result = TypeVar("_Result")
_Site = TypeVar("_Site", bound="Site")


def runs_on_site(site_type: type[_Site], timing: Timing, runs: int, kinds: Iterable[_Kind],
                 one: Callable[[_Site, _Kind], _Result], address_only: bool = False,
                 traced: bool = False) -> dict[_Kind, list[_Result]]:
    """`runs` results of `one(site, kind)` for every kind, all on one freshly built site."""
    results: dict[_Kind, list[_Result]] = {}
    with Lab() as lab:
        site = site_type(lab, timing, address_only, traced)
        try:
            site.start()
            for kind in kinds:
                results[kind] = []
                for run in range(runs):
                    results[kind].append(one(site, kind))
                    progress(f"{kind.value}, {timing.label}: run {run + 1}/{runs} "
                             f"{results[kind][-1]}")
        finally:
            site.close()
    return results


def measure(timing: Timing, runs: int, faults: Iterable[Fault],
            address_only: bool = False, traced: bool = False) -> dict[Fault, list[Sample]]:
    """`runs` samples of every fault in `faults`, all on one freshly built site."""
    return runs_on_site(Site, timing, runs, faults, Site.run, address_only, traced)


_CLIENT = ("a client opens a new request to the VIP every 10 ms without waiting for the "
           "earlier ones (each may take up to 1 s)")
_SETUP = ("Two nodes and a client in namespaces; `node1 IPaddr::VIP/24/eth1 httpd` (httpd: a "
          f"real web server started by an LSB script), `auto_failback on`; {_CLIENT}. Time "
          "from the fault until the client got node2's first answer, service start included.")
_TITLES = {
    Fault.POWER_OFF: "Failover: power off node1 → client served by node2",
    Fault.SIGTERM: "Graceful handover: SIGTERM node1's cluster-mcp → client served by node2",
}
_NOTES = {
    Fault.POWER_OFF: f"{_SETUP} Beyond deadtime: the median minus deadtime (negative when "
                     "the last heartbeat left up to one keepalive before the power-off). "
                     "After detection: the median of the time from node2's hbcomm declaring "
                     "node1 dead to node2 serving, the stack's own share.",
    Fault.SIGTERM: f"{_SETUP} node1 stops its group and says so; no deadtime is waited for.",
}
_ADDRESS_TITLE = "Failover of the address alone: power off node1 → client served by node2"
_ADDRESS_NOTE = (
    "As keepalived setups run: the web server runs on both nodes all the time and the group "
    f"is `node1 IPaddr::VIP/24/eth1` alone (`auto_failback on`); {_CLIENT}. Time from the "
    "power-off until the client got node2's first answer. Beyond deadtime and after "
    "detection as above.")
_HEADER = ("keepalive / deadtime", "median", "p90", "max", "n")
_DETECTION = ("beyond deadtime", "after detection")


def tables(settings: Sequence[Timing], runs: int, faults: Sequence[Fault],
           address_only: bool = False) -> list[Table]:
    """One table per fault, one row per setting; each setting on its own site.  The
    address alone is traced: its failover share comes with a table per step."""
    made = {fault: Table(_ADDRESS_TITLE if address_only else _TITLES[fault],
                         _ADDRESS_NOTE if address_only else _NOTES[fault],
                         _HEADER + (_DETECTION if fault is Fault.POWER_OFF else ()))
            for fault in faults}
    steps: dict[str, list[list[tuple[str, float]]]] = {}
    for timing in settings:
        try:
            samples = measure(timing, runs, faults, address_only, traced=address_only)
        except Exception as exc:
            progress_failure(f"failover at {timing.label}")
            for table in made.values():
                table.add_failure(timing.label, exc)
            continue
        for fault, runs_of in samples.items():
            served = [sample.served for sample in runs_of]
            cells = [timing.label, *stat_cells(served)]
            if fault is Fault.POWER_OFF:
                reaction = [s.served - s.detected for s in runs_of if s.detected is not None]
                cells += [ms(Stats.of(served).median - timing.deadtime),
                          ms(Stats.of(reaction).median)]
                if address_only:
                    steps[timing.label] = [sample.steps for sample in runs_of]
            made[fault].add(*cells)
    return list(made.values()) + ([steps_table(steps)] if steps else [])


def main() -> int:
    parser = setting_parser(__doc__)
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--graceful", action="store_true",
                     help="SIGTERM node1's cluster-mcp instead of powering it off")
    how.add_argument("--address-only", action="store_true",
                     help="the group is the address alone; the web server runs on both nodes")
    parser.add_argument("--trace", action="store_true",
                        help="trace node2's daemons and print the time per step after "
                             "the death decision (power-off only)")
    args = parser.parse_args()
    timing = Timing(args.keepalive, args.deadtime)
    fault = Fault.SIGTERM if args.graceful else Fault.POWER_OFF
    runs = measure(timing, args.runs, [fault], args.address_only, args.trace)[fault]
    print(f"{fault.value}, keepalive / deadtime {timing.label}: "
          f"{summary([sample.served for sample in runs])}")
    reaction = [s.served - s.detected for s in runs if s.detected is not None]
    if reaction:
        print(f"after detection: {summary(reaction)}")
    if args.trace:
        print(steps_table({timing.label: [sample.steps for sample in runs]}).markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
