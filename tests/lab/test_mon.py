"""cluster-mon in the namespace lab: hosts powered off for real, mail over real SMTP.

Layout: one LAN with hosts ``a`` and ``b`` (the watched pair) and ``monitor``,
which runs ``cluster-mon`` and, on its own loopback, a small aiosmtpd server
that stores every mail it accepts as a file with the monotonic time of its
arrival. All traffic stays on the lab LAN or the monitor's loopback.

Acceptance:

* built-in ICMP every 1 s + built-in SMTP mail, ``alertevery 5s``: power off
  ``b``: exactly one down mail within two intervals naming it, one more
  5-7 s later, and one up mail after power on;
* the same with Debian's ``fping.monitor`` and ``mail.alert`` (through
  msmtp, the sendmail of ``msmtp-mta``, pointed at the test's server by a
  private ``~/.msmtprc``; /etc is never touched), also when each failing
  run takes longer than the interval (the second ALERT still ~5 s after
  the first, as Mon sends it);
* a bad ``mon.cf`` line exits 2 naming file:line, and a monitor that hangs
  is killed at its timeout, reported as a failure, and delays nobody else.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest

from cluster.bus.client import NotRunning
from cluster.bus.messages.mon import MonServiceStatus, MonStatusResult, get_mon_status
from cluster.lab import Lab, Lan, Node, wait_for

pytestmark = pytest.mark.lab

INTERVAL = 1.0
ALERTEVERY = 5.0
SMTP_PORT = 2525  # on the monitor's own loopback, in its own namespace
_TIMEOUT = 20.0  # generous bound for every wait on the stack getting somewhere

# Stores each accepted mail as NNNN.eml, after NNNN.at holding time.monotonic()
# of its arrival (one clock for the whole host; namespaces do not change it).
SINK = """\
import signal, sys, threading, time
from pathlib import Path
from aiosmtpd.controller import Controller

directory = Path(sys.argv[2])
lock = threading.Lock()
count = 0

class Sink:
    async def handle_DATA(self, server, session, envelope):
        global count
        arrived = time.monotonic()
        with lock:
            count += 1
            stem = directory / f"{count:04d}"
            (directory / "partial").write_bytes(envelope.original_content or envelope.content)
            stem.with_suffix(".at").write_text(repr(arrived))
            (directory / "partial").rename(stem.with_suffix(".eml"))
        return "250 OK"

controller = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
(directory / "ready").write_text("ok")
signal.sigwait({signal.SIGTERM, signal.SIGINT})
controller.stop()
"""


@dataclass(frozen=True)
class Mail:
    arrived: float
    message: Message

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])


@dataclass
class Site:
    lab: Lab
    lan: Lan
    a: Node
    b: Node
    monitor: Node
    maildir: Path
    workdir: Path

    def mails(self) -> list[Mail]:
        found = []
        for eml in sorted(self.maildir.glob("*.eml")):
            arrived = float(eml.with_suffix(".at").read_text())
            found.append(Mail(arrived, message_from_bytes(eml.read_bytes())))
        return found

    def at_least(self, count: int) -> list[Mail] | None:
        mails = self.mails()
        return mails if len(mails) >= count else None

    def status(self) -> MonStatusResult | None:
        try:
            return get_mon_status(self.monitor.run_dir, history=True, timeout=2.0)
        except NotRunning:
            return None

    def service(self, key: str, *, runs: int = 0, status: str = "") -> MonServiceStatus | None:
        """`key`'s status once it ran at least `runs` times (and is `status`), else None."""
        result = self.status()
        if result is None:
            return None
        found = next((s for s in result.services if f"{s.watch}/{s.service}" == key), None)
        if found is None or found.runs < runs or (status and found.status != status):
            return None
        return found


@pytest.fixture
def site(lab: Lab) -> Iterator[Site]:
    lan = lab.add_lan("lan0")
    a = lab.add_host("a", [lan])
    b = lab.add_host("b", [lan])
    monitor = lab.add_host("monitor", [lan])
    workdir = monitor.dir / "mon"
    maildir = workdir / "mail"
    maildir.mkdir(parents=True)
    (workdir / "smtpsink.py").write_text(SINK)
    sink = [sys.executable, str(workdir / "smtpsink.py"), str(SMTP_PORT), str(maildir)]
    monitor.spawn(sink)
    wait_for(lambda: (maildir / "ready").exists(), _TIMEOUT, message="SMTP sink did not start")
    yield Site(lab, lan, a, b, monitor, maildir, workdir)
    # Shown by pytest only when the test failed: what the daemon saw.
    log = monitor.log_dir / "mon.log"
    if log.exists():
        print("--- cluster-mon log (last 80 lines) ---")
        print("\n".join(log.read_text(errors="replace").splitlines()[-80:]))


def _pair(site: Site) -> str:
    return f"hostgroup pair {site.a.address(site.lan)} {site.b.address(site.lan)}\n"


def _start_mon(site: Site, config: str, *extra: str,
               env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:  # fmt: skip
    path = site.workdir / "mon.cf"
    path.write_text(config)
    argv = [sys.executable, "-m", "cluster.mon", "-f", str(path),
            "--run-dir", str(site.monitor.run_dir), "--log-dir", str(site.monitor.log_dir),
            "-d", *extra]  # fmt: skip
    proc = site.monitor.spawn(argv, env=env)
    wait_for(site.status, _TIMEOUT, message="cluster-mon did not answer GetMonStatus")
    return proc


def _stop_mon(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0


def _power_cycle_b(site: Site, key: str, first_within: float = 2 * INTERVAL) -> None:
    """The acceptance scenario, the same for built-in and Debian programs:
    the first down mail within `first_within`, the second `ALERTEVERY` later."""
    b_ip, a_ip = site.b.address(site.lan), site.a.address(site.lan)
    wait_for(lambda: site.service(key, runs=2, status="ok"), _TIMEOUT,
             message=f"{key} never saw both hosts up")
    assert site.mails() == []

    powered_off = time.monotonic()
    site.b.power_off()
    first = wait_for(site.mails, _TIMEOUT, interval=0.01, message="no down mail")[0]
    delay = first.arrived - powered_off
    assert delay <= first_within, f"down mail {delay:.2f} s after power off"
    assert first.subject.startswith(f"ALERT pair/ping: {b_ip} ("), first.subject
    assert a_ip not in first.subject

    mails = wait_for(lambda: site.at_least(2), ALERTEVERY + 5, interval=0.01,
                     message="no second mail after alertevery")  # fmt: skip
    assert mails is not None
    assert len(mails) == 2, [m.subject for m in mails]
    gap = mails[1].arrived - first.arrived
    # alertevery runs from one alert decision to the next; arrival adds each
    # mail's delivery time: 50 ms, or up to 2 s through msmtp on a loaded box.
    assert ALERTEVERY - 1.5 <= gap <= ALERTEVERY + 2 * INTERVAL, f"second mail after {gap:.2f} s"
    assert mails[1].subject.startswith(f"ALERT pair/ping: {b_ip} (")

    site.b.power_on()
    mails = wait_for(lambda: site.at_least(3), _TIMEOUT, message="no up mail")
    assert mails is not None
    assert mails[2].subject.startswith("UPALERT pair/ping:"), mails[2].subject

    # Nothing more: three further runs, all fine, and still three mails.
    after = site.service(key)
    assert after is not None
    wait_for(lambda: site.service(key, runs=after.runs + 3), _TIMEOUT,
             message="monitor stopped running")
    assert [m.subject.split(":")[0] for m in site.mails()] == [
        "ALERT pair/ping", "ALERT pair/ping", "UPALERT pair/ping"]  # fmt: skip
    final = site.service(key)
    assert final is not None and final.status == "ok"
    assert final.downtimes and final.downtimes[-1].summary == b_ip
    assert final.alerts_lost == 0


def test_builtin_icmp_and_smtp_mail_follow_a_host_power_cycle(site: Site) -> None:
    config = _pair(site) + f"""
watch pair
    service ping
        description ICMP echo to the pair
        interval {INTERVAL:g}s
        monitor icmp -t 200 -r 1
        period wd {{Sun-Sat}}
            alert mail ops@example.org
            upalert mail ops@example.org
            alertevery {ALERTEVERY:g}s
"""
    mon = _start_mon(site, config, "--smtp-server", "127.0.0.1",
                     "--smtp-port", str(SMTP_PORT), "--mail-from", "mon@monitor")  # fmt: skip
    _power_cycle_b(site, "pair/ping")
    assert site.mails()[0].message["From"] == "mon@monitor"
    _stop_mon(mon)


_DEBIAN_MON = pytest.mark.skipif(
    not (os.path.exists("/usr/lib/mon/mon.d/fping.monitor") and shutil.which("fping")
         and os.path.exists("/usr/lib/sendmail")),
    reason="needs Debian's mon, fping and a sendmail (msmtp-mta)")  # fmt: skip


def _start_debian_mon(site: Site, fping_args: str) -> subprocess.Popen[bytes]:
    """cluster-mon running Debian's fping.monitor and mail.alert on the pair."""
    # mail.alert pipes to /usr/lib/sendmail, which is msmtp: a private HOME
    # holds its ~/.msmtprc pointing at our server; /etc/msmtprc is not read
    # for what this file sets and is never written.
    home = site.workdir / "home"
    home.mkdir()
    rc = home / ".msmtprc"
    rc.write_text(f"defaults\nauth off\ntls off\nlogfile {site.workdir}/msmtp.log\n\n"
                  f"account default\nhost 127.0.0.1\nport {SMTP_PORT}\n"
                  "from mon@monitor\n")  # fmt: skip
    rc.chmod(0o600)
    config = _pair(site) + f"""
mondir = /usr/lib/mon/mon.d
alertdir = /usr/lib/mon/alert.d

watch pair
    service ping
        interval {INTERVAL:g}s
        monitor fping.monitor {fping_args}
        period wd {{Sun-Sat}}
            alert mail.alert ops@example.org
            upalert mail.alert ops@example.org
            alertevery {ALERTEVERY:g}s
"""
    return _start_mon(site, config, env={"HOME": str(home), "XDG_CONFIG_HOME": str(home)})


@_DEBIAN_MON
def test_debian_fping_monitor_and_mail_alert_give_the_same_result(site: Site) -> None:
    mon = _start_debian_mon(site, "-t 200 -r 1")
    _power_cycle_b(site, "pair/ping")
    body = site.mails()[0].message.get_payload()
    assert isinstance(body, str) and "unreachable hosts" in body  # fping.monitor's detail
    _stop_mon(mon)


@_DEBIAN_MON
def test_failing_runs_longer_than_the_interval_still_realert_every_alertevery(site: Site) -> None:
    # Issue #13, part 4: a failing fping.monitor run takes about 2.4 s here
    # (0.96 s, one retry after 1.44 s), so the first ALERT comes ~3 s after
    # the power off and failures are decided ~2.45 s apart: the second one
    # after the ALERT is 4.9 s later, which Mon (whole seconds) counts as the
    # 5 s of alertevery and alerts on. Before, it waited for the third (7.4 s).
    mon = _start_debian_mon(site, "-t 960 -r 1")
    _power_cycle_b(site, "pair/ping", first_within=INTERVAL + 2 * 2.4 + 1.0)
    _stop_mon(mon)


def test_bad_lines_are_rejected_with_file_and_line(site: Site) -> None:
    path = site.workdir / "bad.cf"
    path.write_text(_pair(site) + "\nwatch pair\n    service ping\n        interval often\n")
    done = site.monitor.run([sys.executable, "-m", "cluster.mon", "-f", str(path)], check=False)
    assert done.returncode == 2
    assert f"{path}:5: bad time value 'often'" in done.stderr
    path.write_text("hostgroup pair a\nwatch pair\n service x\n  interval 1s\n  monitr icmp\n")
    done = site.monitor.run([sys.executable, "-m", "cluster.mon", "-f", str(path)], check=False)
    assert done.returncode == 2 and f"{path}:5: unknown keyword 'monitr'" in done.stderr


def _hung_monitors(node: Node) -> list[int]:
    return [pid for pid, line in node.processes().items() if "hang.monitor" in line]


def test_a_hung_monitor_is_killed_at_its_timeout_and_delays_nobody(site: Site) -> None:
    mondir = site.workdir / "mon.d"
    mondir.mkdir()
    script = mondir / "hang.monitor"
    script.write_text("#!/bin/sh\necho waiting for $*\nexec sleep 600\n")
    script.chmod(0o755)
    config = _pair(site) + f"""
mondir = {mondir}
smtpserver = 127.0.0.1
smtpport = {SMTP_PORT}

watch pair
    service hang
        interval 1s
        timeout 2s
        monitor hang.monitor
        period
            alert mail ops@example.org
            alertevery 1h
    service ping
        interval 1s
        monitor icmp -t 200 -r 1
        period
            alert mail ops@example.org
"""
    mon = _start_mon(site, config)
    started = time.monotonic()
    mail = wait_for(site.mails, _TIMEOUT, message="no alert for the hung monitor")[0]
    assert mail.subject.startswith("ALERT pair/hang: monitor timed out after 2 s and was killed")
    assert mail.arrived - started < 1 + 2 + 2  # first run after 1 s, killed at 2 s, + delivery
    hang = wait_for(lambda: site.service("pair/hang", runs=2), _TIMEOUT,
                    message="hang service did not fail twice")
    assert hang is not None
    assert hang.status == "failed" and hang.summary.startswith("monitor timed out")
    assert "waiting for" in hang.detail  # what it printed before it was killed
    # Mon's rule holds (never two runs of one service), and the killed ones are gone.
    assert len(_hung_monitors(site.monitor)) <= 1
    ping = site.service("pair/ping")
    assert ping is not None and ping.status == "ok"
    # While hang hung twice for 2 s, ping kept its 1 s rhythm.
    assert ping.runs >= hang.runs * 2 - 1, (ping.runs, hang.runs)
    assert [m.subject.split(":")[0] for m in site.mails()] == ["ALERT pair/hang"]
    _stop_mon(mon)
    wait_for(lambda: not _hung_monitors(site.monitor), 5, message="hung monitor outlived mon")


def test_runs_from_a_respawn_line_and_watches_the_clusters_own_view(lab: Lab) -> None:
    lan = lab.add_lan("hb")
    node = lab.add_node("solo", [lan])
    mon_cf = node.conf_dir / "mon.cf"
    command = (f"{sys.executable} -m cluster.mon -f {mon_cf} --run-dir {node.run_dir} "
               f"--log-dir {node.log_dir}")  # fmt: skip
    ha_cf = ("keepalive 100ms\ndeadtime 500ms\nwarntime 300ms\ninitdead 1\n"
             f"auto_failback off\nbcast eth0\nnode solo\nrespawn root {command}\n")  # fmt: skip
    node.write_config(ha_cf=ha_cf, files={"mon.cf": """\
hostgroup nodes solo

watch nodes
    service cluster
        description the cluster's own view, from crmd
        interval 1s
        monitor cluster -t 2
        period
"""})
    mcp = node.start_stack()

    def watching() -> MonServiceStatus | None:
        try:
            result = get_mon_status(node.run_dir, timeout=2.0)
        except NotRunning:
            return None
        service = result.services[0]
        return service if service.status == "ok" else None

    ok = wait_for(watching, 30, message="cluster-mon under the MCP never saw the node online")
    assert ok is not None
    assert ok.watch == "nodes" and ok.service == "cluster"
    assert "solo" in ok.detail
    mon_pids = [p for p, line in node.processes().items() if line == "cluster: mon"]
    assert len(mon_pids) == 1
    os.kill(mon_pids[0], signal.SIGKILL)  # the MCP brings it back
    wait_for(lambda: [p for p, line in node.processes().items()
                      if line == "cluster: mon" and p != mon_pids[0]], 10,
             message="cluster-mon was not respawned")  # fmt: skip
    wait_for(watching, 30, message="the respawned cluster-mon did not come back to ok")
    mcp.send_signal(signal.SIGTERM)
    assert mcp.wait(timeout=20) == 0
    wait_for(lambda: not node.pids(), 10, message="processes left in the node")
