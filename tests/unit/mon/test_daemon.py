"""cluster-mon as a real process on loopback: a script monitor, SMTP mail, status, SIGTERM.

The lab tests (tests/lab/test_mon.py) prove the daemon against real hosts
powered off in namespaces; this one runs on one host in a few seconds.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import TypeVar

import pytest

from cluster.bus.client import NotRunning, RemoteError
from cluster.bus.messages.mon import MonStatusResult, get_mon_status

from .smtpsink import free_port, smtp_sink

pytestmark = [pytest.mark.integration, pytest.mark.slow]

T = TypeVar("T")

MONITOR = """\
#!/bin/sh
# fails until the flag file exists
if [ -e "$FLAG" ]; then echo; echo "all fine"; exit 0; fi
echo "$@"
echo "no flag for $@"
exit 1
"""

HANG = "#!/bin/sh\necho started\nexec sleep 600\n"


def wait(predicate: Callable[[], T], timeout: float = 15.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@dataclass
class Daemon:
    proc: subprocess.Popen[bytes]
    run_dir: Path
    messages: list[Message]


@pytest.fixture
def daemon(tmp_path: Path, run_dir: Path) -> Iterator[Daemon]:
    mondir = tmp_path / "mon.d"
    mondir.mkdir()
    for name, text in (("flag.monitor", MONITOR), ("hang.monitor", HANG)):
        (mondir / name).write_text(text)
        (mondir / name).chmod(0o755)
    with smtp_sink() as (port, messages):
        (tmp_path / "mon.cf").write_text(f"""\
mondir = {mondir}
dtlogging = yes
dtlogfile = dtlog
histlength = 5
smtpserver = 127.0.0.1
smtpport = {port}

hostgroup local 127.0.0.1

watch local
    service flag
        interval 1s
        FLAG={tmp_path}/flag
        monitor flag.monitor
        period
            alert mail ops@example.org
            upalert mail ops@example.org
            alertevery 1h
    service hang
        interval 1s
        timeout 1s
        monitor hang.monitor
        period
            alert mail ops@example.org
            alertevery 1h
""")
        proc = subprocess.Popen(
            [sys.executable, "-m", "cluster.mon", "-f", str(tmp_path / "mon.cf"),
             "--run-dir", str(run_dir), "--log-dir", str(tmp_path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        try:
            yield Daemon(proc, run_dir, messages)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def status(run_dir: Path) -> MonStatusResult | None:
    try:
        return get_mon_status(run_dir, history=True, timeout=2.0)
    except NotRunning:
        return None


def test_alerts_status_downtime_and_clean_stop(daemon: Daemon, tmp_path: Path) -> None:
    proc, run_dir, messages = daemon.proc, daemon.run_dir, daemon.messages
    wait(lambda: len(messages) >= 2)
    subjects = sorted(m["Subject"] for m in messages)
    assert subjects[0].startswith("ALERT local/flag: 127.0.0.1 (")
    assert subjects[1].startswith("ALERT local/hang: monitor timed out after 1 s and was killed")

    def both_sent() -> MonStatusResult | None:
        # The mail is in; the alert program's exit may not be reaped yet.
        result = status(run_dir)
        sent = result is not None and all(s.alerts_sent for s in result.services)
        return result if sent else None

    result = wait(both_sent)
    assert result is not None
    by_name = {s.service: s for s in result.services}
    assert by_name["flag"].status == "failed" and by_name["flag"].summary == "127.0.0.1"
    assert by_name["hang"].status == "failed" and by_name["hang"].alerts_sent >= 1
    assert any(e.kind == "failure" for e in by_name["flag"].history)
    with pytest.raises(RemoteError, match="no service"):
        get_mon_status(run_dir, service="local/nope", timeout=2.0)

    (tmp_path / "flag").write_text("up")
    up = wait(lambda: [m for m in messages if m["Subject"].startswith("UPALERT local/flag")])
    assert "127.0.0.1 back" in up[0]["Subject"]
    dtlog = wait(lambda: (tmp_path / "dtlog").exists() and (tmp_path / "dtlog").read_text())
    assert isinstance(dtlog, str)
    record = dtlog.splitlines()[-1].split()
    assert record[1:3] == ["local", "flag"] and record[5] == "1" and record[6] == "127.0.0.1"
    assert len([m for m in messages if "local/flag" in m["Subject"]]) == 2  # alertevery 1h

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert not any(run_dir.iterdir()), "mon.ctl / mon.pub left behind"
    log = (tmp_path / "mon.log").read_text()
    assert "service local/flag: failed -> ok" in log


def _down_service(tmp_path: Path) -> str:
    """A mon.cf with one service whose monitor always fails; alertevery 1h."""
    mondir = tmp_path / "mon.d"
    mondir.mkdir()
    (mondir / "down.monitor").write_text("#!/bin/sh\necho $@\nexit 1\n")
    (mondir / "down.monitor").chmod(0o755)
    return f"""\
mondir = {mondir}

watch 127.0.0.1
    service down
        interval 1s
        monitor down.monitor
        period
            alert mail ops@example.org
            alertevery 1h
"""


def _spawn(path: Path, run_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """cluster-mon on `path`, logging next to it, mailing to 127.0.0.1:`port`."""
    argv = [sys.executable, "-m", "cluster.mon", "-f", str(path), "--run-dir", str(run_dir),
            "--log-dir", str(path.parent), "--smtp-server", "127.0.0.1",
            "--smtp-port", str(port)]  # fmt: skip
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip


def test_a_mail_that_cannot_be_sent_is_retried_until_it_is(tmp_path: Path, run_dir: Path) -> None:
    port = free_port()
    (tmp_path / "mon.cf").write_text(_down_service(tmp_path))
    proc = _spawn(tmp_path / "mon.cf", run_dir, port)
    try:
        def retrying() -> bool:
            result = status(run_dir)
            return result is not None and any(
                e.kind == "alert-retry" for e in result.services[0].history)

        wait(retrying)  # the server is down: logged, kept, retried
        first = status(run_dir)
        assert first is not None and first.services[0].alerts_pending == 1
        with smtp_sink(port=port) as (_port, messages):
            wait(lambda: messages)
            assert messages[0]["Subject"].startswith("ALERT 127.0.0.1/down: 127.0.0.1 (")

            def delivered() -> bool:
                result = status(run_dir)
                return result is not None and result.services[0].alerts_sent == 1

            wait(delivered)
        final = status(run_dir)
        assert final is not None
        assert final.services[0].alerts_pending == 0 and final.services[0].alerts_lost == 0
        assert "retrying in 5 s" in (tmp_path / "mon.log").read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def _has(result: MonStatusResult | None, name: str, runs: int = 0) -> bool:
    return result is not None and any(s.service == name and s.runs >= runs
                                      for s in result.services)  # fmt: skip


def test_sighup_checks_mon_cf_first_and_applies_only_a_good_one(tmp_path: Path,
                                                               run_dir: Path) -> None:
    path = tmp_path / "mon.cf"
    down = _down_service(tmp_path)
    log = tmp_path / "mon.log"
    with smtp_sink() as (port, messages):
        path.write_text(down)
        proc = _spawn(path, run_dir, port)
        try:
            wait(lambda: messages)
            # A bad file: logged with file:line, nothing changes.
            path.write_text(down + "    service more\n        interval often\n")
            proc.send_signal(signal.SIGHUP)
            wait(lambda: "keeping the running configuration" in log.read_text())
            assert f"{path}:11: bad time value 'often'" in log.read_text()
            before = status(run_dir)
            assert before is not None and [s.service for s in before.services] == ["down"]
            runs = before.services[0].runs
            wait(lambda: _has(status(run_dir), "down", runs + 2))
            # A good one: the unchanged service keeps its state (no new alert
            # within alertevery 1h), the new one starts.
            path.write_text(down + "    service up\n        interval 1s\n"
                                   "        monitor tcp -p 1\n")  # fmt: skip
            proc.send_signal(signal.SIGHUP)
            wait(lambda: _has(status(run_dir), "up", 1))
            after = status(run_dir)
            assert after is not None
            kept = next(s for s in after.services if s.service == "down")
            assert kept.status == "failed" and kept.alerts_sent == 1 and kept.runs >= runs
            wait(lambda: _has(status(run_dir), "down", kept.runs + 2))
            assert len(messages) == 1, [m["Subject"] for m in messages]
            assert f"SIGHUP: reloaded {path}: 2 services" in log.read_text()
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
