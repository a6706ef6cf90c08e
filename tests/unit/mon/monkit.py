"""Helpers for the monitor's unit tests: moments on a fake clock, services from text."""

from __future__ import annotations

from datetime import datetime, timedelta

from cluster.mon.alerts import AlertCall, Moment, ServiceAlerts
from cluster.mon.config import parse
from cluster.mon.outcome import MonitorOutcome
from cluster.mon.specs import ServiceSpec

# 2024-01-01 was a Monday; 10:00 is inside "wd {Mon-Fri} hr {7am-6pm}".
BASE = datetime(2024, 1, 1, 10, 0, 0)
EPOCH = 1_704_103_200.0


def at(seconds: float, base: datetime = BASE) -> Moment:
    """The moment `seconds` after the start of a test (monotonic, wall and local)."""
    return Moment(mono=1000.0 + seconds, wall=EPOCH + seconds,
                  local=base + timedelta(seconds=seconds))  # fmt: skip


def one_service(text: str) -> ServiceSpec:
    return parse(text, "mon.cf").services[0]


def alert_calls(count: int) -> list[AlertCall]:
    """`count` down-alert calls of a simple service, summaries "down 0", "down 1"..."""
    text = "watch h\n service s\n  interval 1s\n  monitor icmp\n  period\n   alert mail a@b\n"
    svc = ServiceAlerts(one_service(text))
    return [svc.record(MonitorOutcome(1, f"down {i}"), at(i)).calls[0] for i in range(count)]
