"""mon.cf parsing: the shape Mon users know, and errors that name path:line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.config.errors import ConfigError
from cluster.mon.builtins import IcmpOptions, MailOptions, TcpOptions
from cluster.mon.config import load, parse, resolve_programs
from cluster.mon.specs import AlertAfter

PATH = "/etc/mon/mon.cf"

EXAMPLE = """\
# globals
alertdir   = /usr/lib/mon/alert.d
mondir     = /opt/mon.d:/usr/lib/mon/mon.d
histlength = 20
dtlogging  = yes
dtlogfile  = dtlog
logdir     = /var/log/mon
smtpserver = 10.0.0.25
smtpport   = 2525
mailfrom   = mon@example.org
authfile   = /etc/mon/auth.cf

hostgroup servers 10.0.0.1 10.0.0.2
    10.0.0.3

watch servers
    service ping
        description ping the servers
        interval 30s
        monitor icmp -t 200 -r 1
        period wd {Mon-Fri} hr {7am-6pm}
            alert mail ops@example.org
            alertevery 1h observe_detail
            alertafter 2 30m
            upalert mail ops@example.org
        period NIGHT: wd {Sun-Sat}
            alert exit=2-3 file.alert /tmp/alerts
            numalerts 3
            no_comp_alerts
            upalertafter 5m
    service web
        interval 1m
        failure_interval 10s
        timeout 20s
        exclude_hosts 10.0.0.3
        WEB_PATH=/health
        monitor http.monitor -p 8080 \\
            -u /health
        period
            alert mail.alert -S summary root
            alertafter 5m
watch gateway
    service ping
        interval 1.5m
        monitor fping.monitor -t 4000 ;;
        period
            startupalert mail ops@example.org
"""


def _parse(text: str) -> object:
    return parse(text, PATH)


def test_the_example_in_full() -> None:
    config = parse(EXAMPLE, PATH)
    assert config.alertdir == ("/usr/lib/mon/alert.d",)
    assert config.mondir == ("/opt/mon.d", "/usr/lib/mon/mon.d")
    assert config.histlength == 20
    assert config.downtime_log == "/var/log/mon/dtlog"
    assert (config.smtp.server, config.smtp.port, config.smtp.sender) == (
        "10.0.0.25", 2525, "mon@example.org")  # fmt: skip
    assert config.notes == (f"{PATH}:11: Mon setting 'authfile' has no effect here",)
    assert dict(config.hostgroups)["servers"] == ("10.0.0.1", "10.0.0.2", "10.0.0.3")
    assert [s.key for s in config.services] == ["servers/ping", "servers/web", "gateway/ping"]

    ping = config.services[0]
    assert ping.line == 17 and ping.description == "ping the servers"
    assert ping.interval == 30.0 and ping.timeout == 30.0
    assert ping.monitor.builtin == IcmpOptions(timeout_ms=200, retries=1)
    day, night = ping.periods
    assert day.period.text == "wd {Mon-Fri} hr {7am-6pm}" and day.label == ""
    assert day.alerts[0].builtin == MailOptions(recipients=("ops@example.org",))
    assert (day.alertevery, day.alertevery_mode) == (3600.0, "observe_detail")
    assert day.alertafter == AlertAfter(count=2, within=1800.0)
    assert len(day.upalerts) == 1
    assert night.label == "NIGHT" and night.period.text == "wd {Sun-Sat}"
    assert night.alerts[0].exit_range == (2, 3) and night.alerts[0].args == ("/tmp/alerts",)
    assert not night.alerts[0].wants(1) and night.alerts[0].wants(3)
    assert (night.numalerts, night.no_comp_alerts, night.upalertafter) == (3, True, 300.0)

    web = config.services[1]
    assert web.hosts == ("10.0.0.1", "10.0.0.2")
    assert (web.interval, web.failure_interval, web.timeout) == (60.0, 10.0, 20.0)
    assert web.env == (("WEB_PATH", "/health"),)
    assert web.monitor.name == "http.monitor" and web.monitor.builtin is None
    assert web.monitor.args == ("-p", "8080", "-u", "/health")  # continued line
    assert web.monitor.line == 37
    assert web.periods[0].alertafter == AlertAfter(count=None, within=300.0)

    gateway = config.services[2]
    assert gateway.hosts == ("gateway",)  # a watch on an unknown group watches that host
    assert gateway.interval == 90.0
    assert gateway.monitor.append_hosts is False and gateway.monitor.args == ("-t", "4000")
    assert gateway.timeout == 90.0
    assert len(gateway.periods[0].startupalerts) == 1


def test_default_timeout_is_the_interval_within_30s_and_5min() -> None:
    def timeout(interval: str) -> float:
        text = f"watch h\n service s\n  interval {interval}\n  monitor icmp\n"
        return parse(text, PATH).services[0].timeout

    assert timeout("1s") == 30.0
    assert timeout("2m") == 120.0
    assert timeout("1h") == 300.0


def test_scripts_are_found_in_mondir_and_alertdir_first_hit_wins() -> None:
    present = {"/usr/lib/mon/mon.d/http.monitor", "/opt/mon.d/fping.monitor",
               "/usr/lib/mon/mon.d/fping.monitor", "/usr/lib/mon/alert.d/file.alert",
               "/usr/lib/mon/alert.d/mail.alert"}  # fmt: skip
    config = resolve_programs(parse(EXAMPLE, PATH), present.__contains__)
    assert config.services[1].monitor.path == "/usr/lib/mon/mon.d/http.monitor"
    assert config.services[2].monitor.path == "/opt/mon.d/fping.monitor"
    assert config.services[0].periods[1].alerts[0].path == "/usr/lib/mon/alert.d/file.alert"
    assert config.services[0].monitor.path is None  # built-in


def test_a_missing_script_is_an_error_at_its_line() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_programs(parse(EXAMPLE, PATH), lambda _path: False)
    assert caught.value.line == 27  # alert exit=2-3 file.alert (first script met)
    assert "not found or not executable in /usr/lib/mon/alert.d" in str(caught.value)


def test_relative_mondir_is_under_basedir() -> None:
    text = "basedir = /srv/mon\nmondir = mon.d\n\nwatch h\n service s\n  interval 1m\n" \
           "  monitor x.monitor\n"  # fmt: skip
    config = resolve_programs(parse(text, PATH), {"/srv/mon/mon.d/x.monitor"}.__contains__)
    assert config.services[0].monitor.path == "/srv/mon/mon.d/x.monitor"


BAD = [
    ("frobnicate yes\n", 1, "unknown keyword 'frobnicate'"),
    ("colour = blue\n", 1, "unknown global setting 'colour'"),
    ("histlength = many\n", 1, "bad number"),
    ("dtlogging = perhaps\n", 1, "bad boolean"),
    ("hostgroup\n", 1, "needs a tag"),
    ("hostgroup a b\nhostgroup a c\n", 2, "defined twice"),
    ("hostgroup g h$st\n", 1, "bad host"),
    ("watch a b\n", 1, "exactly one word"),
    ("watch a\n interval 1m\n", 2, "before the first service"),
    ("watch a\n service s\n interval soon\n", 3, "bad time value"),
    ("watch a\n service s\n interval 30\n", 3, "bad time value"),
    ("watch a\n service s\n interval 0s\n", 3, "greater than zero"),
    ("watch a\n service s\n  monitor icmp\n  interval 1m\n  alert mail x@y\n", 5,
     "must follow a period"),
    ("watch a\n service s\n  monitor icmp\n\n  interval 1m\n", 2, "no interval line"),
    ("watch a\n service s\n  interval 1m\n  monitor icmp\n\n service t\n", 6,
     "service outside a watch"),
    ("watch a\n service s\n  interval 1m\n  period wd {Mon}\n", 2, "no monitor line"),
    ("watch a\n service s\n  interval 1m\n  monitor icmp\n  depend a:b\n", 5,
     "'depend' is not supported"),
    ("watch a\n service s\n  interval 1m\n  traptimeout 1m\n", 4, "not supported"),
    ("watch a\n service s\n  interval 1m\n  monitor icmp\n  period wd {Mon-Xyz}\n", 5,
     "bad period"),
    ("watch a\n service s\n  interval 1m\n  monitor icmp\n  period wd {Mon}\n"
     "  period wd {Mon}\n", 6, "appears twice"),
    ("watch a\n service s\n  interval 1m\n  monitor icmp\n service s\n", 5, "defined twice"),
    ("watch a\n service s\n  interval 1m\n  monitor icmp -t fast\n", 4, "bad value 'fast'"),
    ("watch a\n service s\n  interval 1m\n  monitor icmp -x\n", 4, "option -x not recognized"),
    ("watch a\n service s\n  interval 1m\n  monitor icmp host1\n", 4, "unexpected argument"),
    ("watch a\n service s\n  interval 1m\n  monitor tcp\n", 4, "needs -p PORT"),
    ("watch a\n service s\n  interval 1m\n  monitor http -p 99999\n", 4, "between 1 and 65535"),
    ("watch a\n service s\n  interval 1m\n  monitor http -u nopath\n", 4, "bad URL path"),
    ("watch a\n service s\n  interval 1m\n  monitor cluster -N -R\n", 4, "conflict"),
    ("watch a\n service s\n  interval 1m\n  monitor\n", 4, "needs a name"),
    ("watch a\n service s\n  interval 1m\n  monitor icmp\n  monitor icmp\n", 5, "second monitor"),
    ("watch a\n service s\n  interval 1m\n  monitor 'unclosed\n", 4, "cannot split"),
    ("watch a\n service s\n  interval 1m\n  monitor icmp\n  period\n   alert mail\n", 6,
     "at least one recipient"),
    ("watch a\n service s\n  interval 1m\n  monitor icmp\n  period\n   alert mail a<b\n", 6,
     "bad mail address"),
    ("watch a\n service s\n  interval 1m\n  monitor icmp\n  period\n   upalert exit=1 x\n", 6,
     "exit= only applies to alert"),
    ("watch a\n service s\n  interval 1m\n  monitor icmp\n  period\n   alert exit=9-2 x\n", 6,
     "bad exit range"),
    ("watch a\n service s\n  interval 1m\n  monitor icmp\n  period\n   alertevery 1h loud\n", 6,
     "unknown option 'loud'"),
    ("watch a\n service s\n  interval 1m\n  monitor icmp\n  period\n   alertafter 1 2 3\n", 6,
     "alertafter takes"),
    ("watch a\n service s\n  interval 1m\n  monitor icmp\n  period\n   numalerts 0\n", 6,
     "at least 1"),
    ("watch a\n service s\n  interval 1m\n  monitor icmp\n  period\n   no_comp_alerts 1\n", 6,
     "takes no value"),
    ("watch a\n service s\n  interval 1m\n  monitor icmp\n  frobnicate\n", 5,
     "unknown keyword 'frobnicate' in service 's'"),
    ("watch a\n service s\n  interval 1m\n  monitor icmp\n  exclude_hosts a\n", 2,
     "every host of the group is excluded"),
    ("alert mail x@y\n", 1, "alert outside a period"),
    ("interval 1m\n", 1, "interval outside a watch"),
    ("smtpport = 70000\n", 1, "bad port"),
    ("randstart = later\n", 1, "bad time value"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "words"), BAD)
def test_bad_lines_are_refused_with_path_and_line(text: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(text, PATH)
    assert caught.value.path == PATH
    assert caught.value.line == line, str(caught.value)
    assert words in caught.value.message
    assert str(caught.value).startswith(f"{PATH}:{line}: ")


def test_a_comment_does_not_end_a_watch_but_a_blank_line_does() -> None:
    text = "watch a\n# c\n service s\n  interval 1m\n  # c\n  monitor icmp\n"
    assert len(parse(text, PATH).services) == 1


def test_continuation_joins_without_the_backslash_and_blanks() -> None:
    text = "hostgroup g a \\\n     b\\\n  c\nwatch g\n service s\n  interval 1m\n  monitor icmp\n"
    assert dict(parse(text, PATH).hostgroups)["g"] == ("a", "bc")


def test_load_reads_the_file_and_reports_a_missing_one(tmp_path: Path) -> None:
    path = tmp_path / "mon.cf"
    with pytest.raises(ConfigError, match="no such file"):
        load(path)
    path.write_text("watch 127.0.0.1\n service t\n  interval 1s\n  monitor tcp -p 22\n")
    config = load(path)
    assert config.path == str(path)
    assert config.services[0].monitor.builtin == TcpOptions(port=22)
    assert config.services[0].hosts == ("127.0.0.1",)


@pytest.mark.skipif(not os.path.exists("/usr/share/doc/mon/examples/very-simple.cf"),
                    reason="Debian's mon package is not installed")  # fmt: skip
def test_debians_very_simple_example_loads() -> None:
    config = load("/usr/share/doc/mon/examples/very-simple.cf")
    assert [s.key for s in config.services] == ["servers/ping", "servers/telnet"]
    assert config.services[0].monitor.path == "/usr/lib/mon/mon.d/fping.monitor"


@pytest.mark.slow
@settings(max_examples=200)
@given(st.lists(st.sampled_from([
    "watch g", "service s", "interval 1m", "monitor icmp", "period wd {Mon}", "period",
    "alert mail a@b", "upalert mail a@b", "alertevery 1h", "alertafter 2", "hostgroup g h",
    "", "# x", "mondir = /x", "interval", "monitor", "junk", "h2", "alert", "period wd {",
    "  exclude_hosts h", "X=1", "numalerts 2", "no_comp_alerts",
]), max_size=20))  # fmt: skip
def test_any_arrangement_either_parses_or_names_a_line(lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    try:
        parse(text, PATH)
    except ConfigError as err:
        assert err.path == PATH
        assert err.line is not None and 1 <= err.line <= len(lines)


@pytest.mark.parametrize(("words", "mode"), [
    ("1h", ""), ("1h summary", ""), ("1h observe_detail", "observe_detail"),
    ("1h ignore_summary", "ignore_summary"), ("1h strict", "strict"),
])  # fmt: skip
def test_alertevery_options_are_mons(words: str, mode: str) -> None:
    text = f"watch h\n service s\n  interval 1s\n  monitor icmp\n  period\n   alertevery {words}\n"
    spec = parse(text, "mon.cf").services[0].periods[0]
    assert (spec.alertevery, spec.alertevery_mode) == (3600.0, mode)


def test_alertafter_that_can_never_alert_is_refused_like_mon_does() -> None:
    text = ("watch h\n service s\n  interval 10s\n  monitor icmp\n  period\n"
            "   alert mail a@b\n   alertafter 4 30s\n")  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        parse(text, "mon.cf")
    assert str(caught.value).startswith("mon.cf:7: alertafter 4 30s can never alert")
