"""Mon's alert decision logic under a fake clock: nobody sleeps."""

from __future__ import annotations

from cluster.mon.alerts import AlertCall, AlertKind, ServiceAlerts, Status, Verdict
from cluster.mon.outcome import MonitorOutcome

from .monkit import BASE, EPOCH, at, one_service

OK = MonitorOutcome(0, "")
DOWN = MonitorOutcome(1, "10.0.0.2", "10.0.0.2 no reply")


def service(period_lines: str, *, period: str = "wd {Sun-Sat}") -> ServiceAlerts:
    text = (
        "hostgroup g 10.0.0.1 10.0.0.2\n\nwatch g\n service ping\n  description pings\n"
        f"  interval 1s\n  monitor icmp\n  period {period}\n{period_lines}"
    )
    return ServiceAlerts(one_service(text))


def kinds(verdict: Verdict) -> list[str]:
    return [f"{call.kind.value}:{call.alert.name}" for call in verdict.calls]


def run(svc: ServiceAlerts, outcomes: list[tuple[float, MonitorOutcome]]) -> list[float]:
    """Feed outcomes at their times; return the times a down alert went out."""
    sent = []
    for t, outcome in outcomes:
        verdict = svc.record(outcome, at(t))
        if any(call.kind is AlertKind.FAILURE for call in verdict.calls):
            sent.append(t)
    return sent


def test_first_failure_alerts_once_and_recovery_sends_the_upalert() -> None:
    svc = service("   alert mail ops@x\n   upalert mail ops@x\n")
    assert svc.record(OK, at(0)) == Verdict(changed=(Status.UNTESTED, Status.OK))
    down = svc.record(DOWN, at(1))
    assert kinds(down) == ["failure:mail"] and down.changed == (Status.OK, Status.FAILED)
    call = down.calls[0]
    assert (call.summary, call.detail, call.service, call.hosts) == (
        "10.0.0.2", "10.0.0.2 no reply", "g/ping", ("10.0.0.1", "10.0.0.2"))  # fmt: skip
    up = svc.record(OK, at(4))
    assert kinds(up) == ["up:mail"] and up.changed == (Status.FAILED, Status.OK)
    assert up.downtime is not None
    assert (up.downtime.downtime, up.downtime.first_failure, up.downtime.noticed) == (
        3.0, EPOCH + 1, EPOCH + 4)  # fmt: skip
    assert up.downtime.summary == "10.0.0.2"
    assert svc.record(OK, at(5)) == Verdict()


def test_without_alertevery_every_failing_run_alerts() -> None:
    svc = service("   alert mail ops@x\n")
    assert run(svc, [(t, DOWN) for t in range(5)]) == [0, 1, 2, 3, 4]


def test_alertevery_suppresses_repeats_until_the_interval_passed() -> None:
    svc = service("   alert mail ops@x\n   alertevery 5s\n")
    assert run(svc, [(t, DOWN) for t in range(0, 12)]) == [0, 5, 10]


def test_alertevery_is_overridden_by_a_new_summary() -> None:
    svc = service("   alert mail ops@x\n   alertevery 1h\n")
    other = MonitorOutcome(1, "10.0.0.1 10.0.0.2")
    assert run(svc, [(0, DOWN), (1, DOWN), (2, other), (3, other), (4, DOWN)]) == [0, 2, 4]


def test_alertevery_observe_detail_also_compares_the_detail() -> None:
    svc = service("   alert mail ops@x\n   alertevery 1h observe_detail\n")
    changed = MonitorOutcome(1, "10.0.0.2", "different detail")
    assert run(svc, [(0, DOWN), (1, DOWN), (2, changed), (3, changed)]) == [0, 2]
    plain = service("   alert mail ops@x\n   alertevery 1h\n")
    assert run(plain, [(0, DOWN), (1, DOWN), (2, changed), (3, changed)]) == [0]


def test_alertevery_timer_resets_on_success_unless_strict() -> None:
    plain = service("   alert mail ops@x\n   alertevery 1h\n")
    assert run(plain, [(0, DOWN), (1, OK), (2, DOWN)]) == [0, 2]
    strict = service("   alert mail ops@x\n   alertevery 1h strict\n")
    other = MonitorOutcome(1, "10.0.0.1")
    assert run(strict, [(0, DOWN), (1, OK), (2, DOWN), (3, other), (3600, DOWN)]) == [0, 3600]


def test_alertafter_n_consecutive_failures() -> None:
    svc = service("   alert mail ops@x\n   alertafter 3\n")
    assert run(svc, [(0, DOWN), (1, DOWN), (2, OK), (3, DOWN), (4, DOWN), (5, DOWN), (6, DOWN)]) \
        == [5, 6]  # fmt: skip


def test_alertafter_n_failures_within_a_time() -> None:
    svc = service("   alert mail ops@x\n   alertafter 3 10s\n")
    assert run(svc, [(t, DOWN) for t in range(5)]) == [2, 3, 4]
    # Mon counts in a window from the first failure; a success ends it, so
    # flapping never reaches 3 (Mon 1.3.6 resets _1stfailtime on success).
    flapping = service("   alert mail ops@x\n   alertafter 3 10s\n")
    assert run(flapping, [(0, DOWN), (1, OK), (2, DOWN), (3, OK), (4, DOWN)]) == []
    # A failure after the window starts a new one, counting from 1 again.
    slow = service("   alert mail ops@x\n   alertafter 3 10s\n")
    assert run(slow, [(0, DOWN), (6, DOWN), (12, DOWN), (13, DOWN), (14, DOWN)]) == [14]


def test_alertafter_a_time_means_failing_for_more_than_that() -> None:
    svc = service("   alert mail ops@x\n   alertafter 5s\n")
    assert run(svc, [(t, DOWN) for t in range(8)]) == [6, 7]


def test_numalerts_caps_alerts_per_failure_and_resets_on_success() -> None:
    svc = service("   alert mail ops@x\n   numalerts 2\n")
    assert run(svc, [(0, DOWN), (1, DOWN), (2, DOWN), (3, OK), (4, DOWN), (5, DOWN), (6, DOWN)]) \
        == [0, 1, 4, 5]  # fmt: skip


def test_upalert_needs_a_down_alert_unless_no_comp_alerts() -> None:
    quiet = service("   alert mail ops@x\n   alertafter 3\n   upalert mail ops@x\n")
    quiet.record(DOWN, at(0))
    assert kinds(quiet.record(OK, at(1))) == []
    loud = service("   alert mail ops@x\n   alertafter 3\n   upalert mail ops@x\n"
                   "   no_comp_alerts\n")  # fmt: skip
    loud.record(DOWN, at(0))
    assert kinds(loud.record(OK, at(1))) == ["up:mail"]
    # Never an upalert without a failure before it.
    assert kinds(loud.record(OK, at(2))) == []


def test_upalertafter_ignores_blips() -> None:
    svc = service("   alert mail ops@x\n   upalert mail ops@x\n   upalertafter 10s\n")
    svc.record(DOWN, at(0))
    assert kinds(svc.record(OK, at(3))) == []
    svc.record(DOWN, at(4))
    assert kinds(svc.record(OK, at(20))) == ["up:mail"]


def test_periods_choose_alerts_by_time_of_day() -> None:
    text = ("   alert mail day@x\n"
            "  period NIGHT: hr {7pm-6am}\n   alert mail night@x\n")  # fmt: skip
    svc = service(text, period="hr {7am-6pm}")
    verdict = svc.record(DOWN, at(0))
    assert [c.alert.args for c in verdict.calls] == [("day@x",)]
    assert verdict.suppressed == ("NIGHT: outside the period",)
    night = svc.record(DOWN, at(0, BASE.replace(hour=23)))
    assert [c.alert.args for c in night.calls] == [("night@x",)]
    assert night.calls[0].period == "NIGHT"


def test_exit_ranges_select_alerts_by_the_monitor_exit_value() -> None:
    svc = service("   alert exit=1 mail warn@x\n   alert exit=2-9 mail page@x\n")
    assert [c.alert.args for c in svc.record(MonitorOutcome(2, "bad"), at(0)).calls] == [
        ("page@x",)]  # fmt: skip
    nothing = svc.record(MonitorOutcome(10, "worse"), at(1))
    assert nothing.calls == () and "no alert for exit value 10" in nothing.suppressed[0]


def test_alert_calls_carry_mons_arguments_stdin_and_environment() -> None:
    svc = service("   alert mail.alert ops@x\n   upalert mail.alert ops@x\n   alertevery 1m\n")
    svc.record(OK, at(0))
    call: AlertCall = svc.record(DOWN, at(2)).calls[0]
    assert call.argv("/a/mail.alert") == [
        "/a/mail.alert", "-s", "ping", "-g", "g", "-h", "10.0.0.1 10.0.0.2",
        "-t", str(int(EPOCH + 2)), "-l", "60", "ops@x"]  # fmt: skip
    assert call.stdin == "10.0.0.2\n10.0.0.2 no reply\n"
    assert call.env["MON_ALERTTYPE"] == "failure" and call.env["MON_RETVAL"] == "1"
    assert call.env["MON_OPSTATUS"] == "0" and call.env["MON_DESCRIPTION"] == "pings"
    assert call.env["MON_LAST_SUCCESS"] == str(int(EPOCH))
    assert call.env["MON_FIRST_FAILURE"] == str(int(EPOCH + 2))
    assert (call.env["MON_GROUP"], call.env["MON_SERVICE"]) == ("g", "ping")
    up = svc.record(OK, at(5)).calls[0]
    assert up.argv("x")[-2:] == ["-u", "ops@x"]
    assert up.env["MON_ALERTTYPE"] == "up" and up.env["MON_LAST_SUMMARY"] == "10.0.0.2"
    assert up.env["MON_FIRST_FAILURE"] == str(int(EPOCH + 2))
    assert up.stdin == "\n"


def test_startup_alerts_of_the_periods_in_effect() -> None:
    svc = service("   startupalert mail ops@x\n  period n: hr {7pm-6am}\n"
                  "   startupalert mail night@x\n", period="hr {7am-6pm}")  # fmt: skip
    verdict = svc.startup(at(0))
    assert [(c.kind, c.alert.args) for c in verdict.calls] == [(AlertKind.STARTUP, ("ops@x",))]


def test_monitor_environment_reports_the_previous_run() -> None:
    svc = service("   alert mail ops@x\n")
    assert svc.monitor_env()["MON_LAST_SUMMARY"] == ""
    svc.record(DOWN, at(0))
    env = svc.monitor_env()
    assert env["MON_LAST_SUMMARY"] == "10.0.0.2"
    assert env["MON_LAST_OUTPUT"] == "10.0.0.2\n10.0.0.2 no reply"
    assert env["MON_LAST_FAILURE"] == env["MON_FIRST_FAILURE"] == str(int(EPOCH))
    assert env["MON_DEPEND_STATUS"] == "1"


def test_a_timed_out_run_is_a_failure() -> None:
    svc = service("   alert mail ops@x\n")
    verdict = svc.record(MonitorOutcome.timeout(2.0, "partial"), at(0))
    assert kinds(verdict) == ["failure:mail"]
    assert verdict.calls[0].summary == "monitor timed out after 2 s and was killed"
    assert verdict.calls[0].detail == "partial"
    assert svc.status is Status.FAILED and svc.consecutive == 1
