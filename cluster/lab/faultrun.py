"""The randomized fault run: random faults against a running cluster under client load.

    python3 -m cluster.lab.faultrun [--seconds 300] [--nodes 3] [--seed N] [--no-stonith]

A :class:`~cluster.lab.site.Site` of three nodes (RPS-10 per node, watchdog,
shared disk, VIP and web server preferred on node1, auto_failback on) and a
client asking the VIP every 10 ms.  Until the time is up: pick a fault and a
node at random — power off, pull the heartbeat cable, pause (SIGSTOP the whole
node), or kill -9 one daemon — let it last a random 0.3-3 s, undo it (plug
the cable, resume), boot whatever is off or stopped, and wait until the audit
holds on every node again (everyone a member, the group on node1, nothing left
behind).  The observers watch the address and the mount the whole time.

The report: faults by kind, availability (the share of client requests that
were answered, and the share of time somebody held the address), every
moment with two owners (safety violations: must be 0 with STONITH on), the
longest outage, and recoveries that missed their bound.  The seed is printed
first, so any run can be repeated.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from cluster.lab.lab import Lab
from cluster.lab.netns import LabError
from cluster.lab.probes import stop_probe
from cluster.lab.services import CLIENT_PROBE, HTTP_PORT
from cluster.lab.site import AuditError, Site, SiteOptions

__all__ = ["FaultRun", "Report", "main"]

FAULTS = ("power off", "pull heartbeat cable", "pause", "kill daemon")
DAEMONS = ("hbcomm", "ccm", "crmd", "stonithd")
_RECOVERY_BOUND = 60.0
#: The client asks every 20 ms and gives up on a request after 5 intervals.
_CLIENT_INTERVAL = 0.02


@dataclass
class Report:
    seed: int
    seconds: float = 0.0
    faults: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    answered: int = 0
    held_fraction: float = 0.0
    violations: list[str] = field(default_factory=list)
    unobserved: list[str] = field(default_factory=list)
    longest_outage: float = 0.0
    client_outages: list[tuple[float, float]] = field(default_factory=list)
    missed_recoveries: list[str] = field(default_factory=list)

    @property
    def availability(self) -> float:
        """The share of the run in which the client was being answered."""
        down = sum(end - start for start, end in self.client_outages)
        return max(0.0, 1.0 - down / self.seconds) if self.seconds else 0.0

    def render(self) -> str:
        kinds = ", ".join(f"{kind} {self.faults[kind]}" for kind in FAULTS)
        lines = [
            f"fault run: seed {self.seed}, {self.seconds:.0f} s, "
            f"{sum(self.faults.values())} faults ({kinds})",
            f"availability: the client was answered {self.availability:.2%} of the time "
            f"({self.answered} of {self.requests} requests); somebody held the address "
            f"{self.held_fraction:.2%} of the time",
            f"longest time nobody held the address: {self.longest_outage:.2f} s",
            f"client outages (consecutive unanswered requests): {len(self.client_outages)}, "
            f"longest {max((e - s for s, e in self.client_outages), default=0.0):.2f} s",
            *(f"  t+{s:.1f} s for {e - s:.2f} s" for s, e in self.client_outages if e - s > 1.0),
            f"safety violations (two owners of the address or the disk): "
            f"{len(self.violations)}",
            *(f"  {v}" for v in self.violations),
            f"unobservable moments: {len(self.unobserved)}",
            *(f"  {u}" for u in self.unobserved),
            f"recoveries over {_RECOVERY_BOUND:.0f} s: {len(self.missed_recoveries)}",
            *(f"  {m}" for m in self.missed_recoveries),
        ]
        return "\n".join(lines)


class ClientLoad:
    """The client's probe, counted as it answers (a reader thread); also used by
    tests that must show a client served throughout (``answers``: who answered)."""

    def __init__(self, site: Site, seconds: float, interval: float = _CLIENT_INTERVAL) -> None:
        argv = [sys.executable, "-c", CLIENT_PROBE, site.vip, str(HTTP_PORT),
                str(interval), str(seconds)]
        self.proc = site.client.spawn(argv, stdout=subprocess.PIPE)
        self.requests = 0
        self.answered = 0
        self.answers: set[str] = set()
        self.outages: list[tuple[float, float]] = []   # (first failed, next answered)
        self._failing_since: float | None = None
        self._thread = threading.Thread(target=self._read, name="client-load", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            stamp, _, who = raw.decode(errors="replace").strip().partition(" ")
            self.requests += 1
            if who in ("", "-"):
                if self._failing_since is None:
                    self._failing_since = float(stamp)
                continue
            self.answered += 1
            self.answers.add(who)
            if self._failing_since is not None:
                self.outages.append((self._failing_since, float(stamp)))
                self._failing_since = None

    def close(self) -> None:
        stop_probe(self.proc, self._thread)


class FaultRun:
    """One run: a site, a seed, a deadline."""

    def __init__(self, lab: Lab, seconds: float, seed: int, nodes: int = 3,
                 stonith: bool = True, log: bool = True) -> None:
        self.site = Site(lab, SiteOptions(nodes=nodes, serial=False, ipfail=False,
                                          stonith=stonith, watchdog=stonith))
        self.seconds = seconds
        self.rng = random.Random(seed)
        self.report = Report(seed)
        self._log = log

    def say(self, text: str) -> None:
        if self._log:
            print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)

    def run(self) -> Report:
        site = self.site
        site.start()
        site.audit(up=site.names, holder=site.names[0])
        began = time.monotonic()
        client = ClientLoad(site, self.seconds + 2 * _RECOVERY_BOUND)
        try:
            while time.monotonic() - began < self.seconds:
                self._one_fault()
        finally:
            client.close()
            site.close()
        self.report.seconds = time.monotonic() - began
        self.report.requests, self.report.answered = client.requests, client.answered
        self.report.client_outages = [(s - began, e - began) for s, e in client.outages]
        self._judge(began)
        return self.report

    def _one_fault(self) -> None:
        site, rng = self.site, self.rng
        kind, name = rng.choice(FAULTS), rng.choice(site.names)
        duration = rng.uniform(0.3, 3.0)
        node = site.nodes[name]
        self.report.faults[kind] += 1
        self.say(f"{kind} {name} for {duration:.1f} s")
        if kind == "power off":
            node.power_off()
            time.sleep(duration)                     # the fault's duration
        elif kind == "pull heartbeat cable":
            node.pull_cable(site.hb)
            time.sleep(duration)
            node.plug_cable(site.hb)
        elif kind == "pause":
            node.pause()
            time.sleep(duration)
            node.resume()
        else:
            daemon = rng.choice(DAEMONS)
            self.say(f"  kill -9 {daemon} on {name}")
            try:
                site.kill_daemon(name, f"cluster: {daemon}")
            except LabError as exc:    # not running right now (being respawned)
                self.say(f"  nothing killed: {exc}")
        self._repair()
        time.sleep(rng.uniform(0.2, 1.5))            # calm between faults

    def _repair(self) -> None:
        """Boot every node that is off or stopped, until the audit holds again.

        Booting is repeated: a node that comes back within deadtime of a power-off
        is still fenced for its old life and is powered off once more."""
        site = self.site
        began = time.monotonic()
        while True:
            for name in site.names:
                if not site.nodes[name].powered or not site.running(name):
                    site.start(name)
            left = _RECOVERY_BOUND - (time.monotonic() - began)
            try:
                site.audit(up=site.names, holder=site.names[0], timeout=min(5.0, left))
            except AuditError as exc:
                if time.monotonic() - began < _RECOVERY_BOUND:
                    continue
                first = " | ".join(str(exc).splitlines()[:4])
                self.report.missed_recoveries.append(first)
                self.say("  NOT recovered: " + first)
                return
            self.say(f"  recovered in {time.monotonic() - began:.1f} s")
            return

    def _judge(self, began: float) -> None:
        site = self.site
        observers = [site.vip_observer] + ([site.mount_observer] if site.mount_observer else [])
        for observer in observers:
            self.report.violations += [
                f"{sorted(i.nodes)} held {observer.ip} for {i.duration * 1000:.0f} ms "
                f"at t+{i.start - began:.1f} s" for i in observer.violations() if i.end > began]
            self.report.unobserved += [
                f"{sorted(i.nodes)} unobservable for {i.duration * 1000:.0f} ms "
                f"at t+{i.start - began:.1f} s" for i in observer.failures() if i.end > began]
        spans = [s for s in site.vip_observer.timeline if s.last >= began]
        total = max(spans[-1].last - began, 1e-9) if spans else 1e-9
        gaps = [g for g in site.vip_observer.gaps() if g.end >= began]
        outage = sum(min(g.end, spans[-1].last) - max(g.start, began) for g in gaps)
        self.report.held_fraction = max(0.0, 1.0 - outage / total)
        self.report.longest_outage = max((g.duration for g in gaps), default=0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m cluster.lab.faultrun",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--no-stonith", action="store_true",
                        help="no power switches and no watchdog (safety is then not promised)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    print(f"fault run seed {seed}", flush=True)
    with Lab() as lab:
        report = FaultRun(lab, args.seconds, seed, args.nodes,
                          stonith=not args.no_stonith).run()
    print(report.render(), flush=True)
    return 0 if not report.violations and not report.missed_recoveries else 1


if __name__ == "__main__":
    raise SystemExit(main())
