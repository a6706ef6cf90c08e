"""The built-in mail alert: the message it composes, and real SMTP exchanges."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator

import pytest

from cluster.bus.loop import Loop
from cluster.mon import mail
from cluster.mon.alerts import ServiceAlerts
from cluster.mon.mailer import Mailer, SendResult
from cluster.mon.outcome import MonitorOutcome
from cluster.mon.specs import SmtpSettings

from .monkit import at, one_service
from .smtpsink import free_port, smtp_sink

ARGS = ["-s", "ping", "-g", "servers", "-h", "10.0.0.1 10.0.0.2", "-t", "1704103200",
        "-l", "300", "ops@example.org", "dev@example.org"]  # fmt: skip

ALERT = mail.MailAlert(kind="failure", group="servers", service="ping",
                       hosts="10.0.0.1 10.0.0.2", when=1704103200, alertevery=300,
                       recipients=("ops@example.org", "dev@example.org"), sender="mon@node1",
                       summary="10.0.0.2", detail="detail one\ndetail two\n",
                       description="ping the servers")  # fmt: skip


def test_a_down_alert_names_group_service_and_summary() -> None:
    message = mail.compose(ALERT)
    assert message["Subject"].startswith("ALERT servers/ping: 10.0.0.2 (")
    assert message["From"] == "mon@node1"
    assert message["To"] == "ops@example.org, dev@example.org"
    body = message.get_content()
    assert "Members               : 10.0.0.1 10.0.0.2" in body
    assert "Secs until next alert : 300" in body
    assert "Description           : ping the servers" in body
    assert body.rstrip().endswith("detail one\ndetail two")


def test_an_upalert_names_the_failure_it_ends() -> None:
    up = dataclasses.replace(ALERT, kind="up", summary="", last_summary="h2")
    assert mail.compose(up)["Subject"].startswith("UPALERT servers/ping: h2 back (")
    startup = dataclasses.replace(ALERT, kind="startup", summary="mon started")
    assert mail.compose(startup)["Subject"].startswith("STARTUPALERT servers/ping: mon started")


@pytest.mark.integration
def test_the_program_delivers_over_smtp_and_reports_a_dead_server(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with smtp_sink() as (port, messages):
        argv = ["--server", "127.0.0.1", "--port", str(port), "--from", "mon@t", *ARGS]
        assert mail.main(argv, stdin="10.0.0.2\nno reply\n") == 0
    assert len(messages) == 1
    assert messages[0]["Subject"].startswith("ALERT servers/ping: 10.0.0.2")
    assert messages[0]["To"] == "ops@example.org, dev@example.org"
    dead = free_port()
    assert mail.main(["--server", "127.0.0.1", "--port", str(dead), *ARGS], stdin="x\n") == 1
    assert "cannot send via 127.0.0.1" in capsys.readouterr().err
    assert mail.main(["-s", "x"], stdin="") == 2  # no recipient


@pytest.fixture
def loop() -> Iterator[Loop]:
    loop = Loop()
    yield loop
    loop.close()


def _drive(loop: Loop, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not done():
        assert time.monotonic() < deadline
        loop.run_once(max_wait=0.05)


@pytest.mark.integration
def test_the_mailer_sends_from_a_thread_and_reports_on_the_loop(loop: Loop) -> None:
    text = "watch h\n service s\n  interval 1s\n  monitor icmp\n  period\n   alert mail a@b.c\n"
    call = ServiceAlerts(one_service(text)).record(MonitorOutcome(1, "h"), at(0)).calls[0]
    results: list[SendResult] = []
    with smtp_sink() as (port, messages):
        mailer = Mailer(loop, SmtpSettings(server="127.0.0.1", port=port, sender="m@n"), 10.0)
        try:
            mailer.send(call, results.append)
            _drive(loop, lambda: bool(results))
            assert results == [SendResult(None)]
            assert messages[0]["Subject"].startswith("ALERT h/s: h (")
            assert messages[0]["From"] == "m@n"
        finally:
            mailer.close()
    dead = Mailer(loop, SmtpSettings(server="127.0.0.1", port=free_port()), 10.0)
    try:
        dead.send(call, results.append)
        _drive(loop, lambda: len(results) == 2)
        assert results[1].error is not None and "SMTP 127.0.0.1" in results[1].error
    finally:
        dead.close()
