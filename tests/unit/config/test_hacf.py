"""ha.cf parsing: a realistic file, every default, every error path with its line."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.config.directives import DIRECTIVES
from cluster.config.errors import ConfigError
from cluster.config.hacf import HaConfig, Medium, PingNode, RespawnSpec, StonithHost, parse_hacf

PATH = "/etc/ha.d/ha.cf"

# A two-node file as an admin would write it; line numbers are asserted below.
REALISTIC = """\
# /etc/ha.d/ha.cf for the web pair
debugfile /var/log/ha-debug
logfile /var/log/ha-log
logfacility local0
keepalive 2
deadtime 30
warntime 10
initdead 120
udpport 694
baud 19200
serial /dev/ttyS0   # null-modem cable
bcast eth0
ucast eth1 10.0.0.2
mcast eth2 239.0.0.1 694 1 0
auto_failback on
node alice
node Bob
ping 10.0.0.254
ping_group uplinks 10.0.1.1 10.0.2.1
respawn hacluster /usr/lib/heartbeat/ipfail
stonith_host * external/ssh alice bob
watchdog /dev/watchdog
"""


def minimal(*lines: str) -> str:
    """A valid file (one node pair, one medium) followed by ``lines`` from line 3 on."""
    return "\n".join(["node alice bob", "bcast eth0", *lines]) + "\n"


def error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_hacf(text, PATH)
    return info.value


def test_realistic_two_node_file_is_understood() -> None:
    ha = parse_hacf(REALISTIC, PATH)
    assert ha.path == PATH
    assert ha.nodes == ("alice", "bob")
    assert (ha.keepalive, ha.deadtime, ha.warntime, ha.initdead, ha.deadping) == (
        2.0, 30.0, 10.0, 120.0, 30.0
    )  # fmt: skip
    assert ha.udpport == 694 and ha.baud == 19200
    assert ha.media == (
        Medium("serial", "/dev/ttyS0", baud=19200, line=11),
        Medium("bcast", "eth0", port=694, line=12),
        Medium("ucast", "eth1", port=694, peer="10.0.0.2", line=13),
        Medium("mcast", "eth2", group="239.0.0.1", port=694, ttl=1, loop=False, line=14),
    )
    assert [m.name for m in ha.media] == ["/dev/ttyS0", "eth0", "eth1", "eth2"]
    assert ha.ping_nodes == (
        PingNode("10.0.0.254", ("10.0.0.254",), 18),
        PingNode("uplinks", ("10.0.1.1", "10.0.2.1"), 19),
    )
    assert ha.auto_failback == "on"
    assert ha.respawns == (RespawnSpec("hacluster", "/usr/lib/heartbeat/ipfail", False, 20),)
    assert ha.respawns[0].argv == ("/usr/lib/heartbeat/ipfail",)
    assert ha.stonith_hosts == (
        StonithHost("*", "external/ssh", ("alice", "bob"), "alice bob", 21),
    )
    assert ha.watchdog == "/dev/watchdog"
    assert (ha.logfile, ha.debugfile, ha.logfacility) == (
        "/var/log/ha-log", "/var/log/ha-debug", "local0"
    )  # fmt: skip
    assert ha.use_logd is False
    assert ha.warnings == ()


def test_defaults_are_heartbeats() -> None:
    ha = parse_hacf(minimal("auto_failback off"), PATH)
    assert (ha.keepalive, ha.deadtime, ha.warntime, ha.initdead, ha.deadping) == (
        1.0, 30.0, 15.0, 30.0, 30.0
    )  # fmt: skip
    assert (ha.udpport, ha.baud, ha.hopfudge, ha.debug) == (694, 19200, 1, 0)
    assert ha.realtime is True and ha.autojoin == "none"
    assert ha.use_logd is True  # implied: no logfile, debugfile or logfacility
    assert (ha.logfile, ha.debugfile, ha.logfacility, ha.watchdog, ha.stonith) == (None,) * 5
    assert ha.raw["keepalive"] == ("1000ms",)
    assert ha.raw["deadtime"] == ("30000ms",)
    assert ha.raw["auto_failback"] == ("off",)
    assert "warntime" not in ha.raw


@pytest.mark.parametrize(
    ("deadtime", "initdead"),
    [("30", 30.0), ("11", 11.0), ("10", 20.0), ("6", 12.0), ("5", 12.0), ("5999ms", 12.0)],
)
def test_initdead_default_follows_heartbeats_rule(deadtime: str, initdead: float) -> None:
    ha = parse_hacf(minimal(f"deadtime {deadtime}", "keepalive 500ms"), PATH)
    assert ha.initdead == initdead


@pytest.mark.parametrize(("value", "seconds"), [
    ("10s", 10.0), ("10", 10.0), ("1500ms", 1.5), ("2min", 120.0), ("0", None)])
def test_failure_timeout_takes_heartbeat_and_pacemaker_times(value: str,
                                                              seconds: float | None) -> None:
    assert parse_hacf(minimal(f"failure_timeout {value}"), PATH).failure_timeout == seconds
    assert parse_hacf(minimal(), PATH).failure_timeout is None, "off by default"


@pytest.mark.parametrize(("value", "says"), [
    ("soon", "bad time value 'soon' for failure_timeout"),
    ("-5s", "times cannot be negative"),
    ("10 s", "failure_timeout takes one value")])
def test_a_bad_failure_timeout_names_the_line(value: str, says: str) -> None:
    err = error(minimal(f"failure_timeout {value}"))
    assert str(err).startswith(f"{PATH}:3: ") and says in str(err)


def test_auto_failback_unset_defaults_to_legacy_with_a_warning() -> None:
    ha = parse_hacf(minimal(), PATH)
    assert ha.auto_failback == "legacy"
    assert ha.warnings == (
        f"{PATH}: auto_failback is not set; using 'legacy' as Heartbeat does "
        "(for active/passive pairs, 'off' avoids moving services twice)",
    )


@pytest.mark.parametrize(("value", "mode"), [("on", "off"), ("off", "legacy")])
def test_nice_failback_maps_like_heartbeat(value: str, mode: str) -> None:
    ha = parse_hacf(minimal(f"nice_failback {value}"), PATH)
    assert ha.auto_failback == mode
    assert ha.raw["auto_failback"] == (mode,)
    assert ha.warnings == (
        f"{PATH}:3: nice_failback is obsolete; write 'auto_failback {mode}' instead",
    )


def test_option_lines_split_on_commas_and_tabs() -> None:
    ha = parse_hacf("node a b,c\tD\nbcast eth0,eth1\nauto_failback on\n", PATH)
    assert ha.nodes == ("a", "b", "c", "d")
    assert [m.device for m in ha.media] == ["eth0", "eth1"]
    assert ha.raw["node"] == ("a", "b", "c", "D")


def test_comments_anywhere_and_blank_lines() -> None:
    ha = parse_hacf("\n  # comment\nnode a b # trailing\n\r\nbcast eth0#x\nauto_failback on", PATH)
    assert ha.nodes == ("a", "b") and ha.media[0].device == "eth0"


def test_udpport_and_baud_apply_to_following_media_only() -> None:
    text = "\n".join([
        "node a b", "auto_failback on", "bcast eth0", "serial /dev/ttyS0",
        "udpport 700", "baud 38400", "ucast eth1 10.0.0.2", "serial /dev/ttyS1",
    ])  # fmt: skip
    ha = parse_hacf(text, PATH)
    assert [(m.name, m.port, m.baud) for m in ha.media] == [
        ("eth0", 694, None), ("/dev/ttyS0", None, 19200),
        ("eth1", 700, None), ("/dev/ttyS1", None, 38400),
    ]  # fmt: skip
    assert (ha.udpport, ha.baud) == (700, 38400)
    assert ha.warnings == (
        f"{PATH}:5: udpport 700 comes after the bcast line at line 3, which keeps port 694 "
        "(Heartbeat reads udpport once, for its first medium: put udpport above all media lines)",
        f"{PATH}:6: baud comes after a serial line, which keeps 19200 baud; move it up",
    )


def test_udp_is_an_alias_of_bcast_with_a_warning() -> None:
    ha = parse_hacf(minimal("udp eth1", "auto_failback on"), PATH)
    assert ha.media[1] == Medium("bcast", "eth1", port=694, line=3)
    assert ha.warnings == (f"{PATH}:3: 'udp' is an old name for 'bcast'; write 'bcast eth1'",)


def test_ipv6_media() -> None:
    ha = parse_hacf(minimal("mcast6 eth0 ff12::1:2 694 1 1", "ucast6 eth1 fe80::2%eth1"), PATH)
    assert ha.media[1:] == (
        Medium("mcast6", "eth0", group="ff12::1:2", port=694, ttl=1, loop=True, line=3),
        Medium("ucast6", "eth1", port=694, peer="fe80::2%eth1", line=4),
    )


def test_mcast_ttl_above_four_is_accepted_with_a_warning() -> None:
    ha = parse_hacf(minimal("mcast eth1 239.1.1.1 695 32 1", "auto_failback on"), PATH)
    assert ha.media[1].ttl == 32
    assert ha.warnings == (
        f"{PATH}:3: mcast ttl 32 is above 4; this stack accepts it, "
        "but Heartbeat 3.0.6 nodes refuse such a line",
    )


def test_two_ucast_lines_on_one_interface_share_a_link_name() -> None:
    ha = parse_hacf(minimal("ucast eth1 10.0.0.1", "ucast eth1 10.0.0.2"), PATH)
    assert [m.name for m in ha.media[1:]] == ["eth1", "eth1"]
    assert [m.peer for m in ha.media[1:]] == ["10.0.0.1", "10.0.0.2"]


def test_whole_line_directives_keep_the_line() -> None:
    ha = parse_hacf(minimal(
        "respawn root /usr/bin/env  A=1 'my prog'  --x,y",
        "failfast hacluster /usr/sbin/thing",
        "stonith_host alice rps10 /dev/ttyS1 alice 0, bob  1",
        "stonith baytech /etc/ha.d/conf/stonith.baytech",
        "apiauth ipfail uid=hacluster,root",
    ), PATH)  # fmt: skip
    first, second = ha.respawns
    assert first.command == "/usr/bin/env  A=1 'my prog'  --x,y"
    assert first.argv == ("/usr/bin/env", "A=1", "my prog", "--x,y")
    assert (second.failfast, second.line, second.directive) == (True, 4, "failfast")
    host = ha.stonith_hosts[0]
    assert host.params == ("/dev/ttyS1", "alice", "0,", "bob", "1")
    assert host.raw_params == "/dev/ttyS1 alice 0, bob  1"
    assert ha.stonith == ("baytech", "/etc/ha.d/conf/stonith.baytech")
    assert ha.raw["respawn"] == ("root /usr/bin/env  A=1 'my prog'  --x,y",)
    assert ha.raw["apiauth"] == ("ipfail uid=hacluster,root",)


def test_stonith_hosts_for_picks_own_and_star_lines() -> None:
    ha = parse_hacf(minimal(
        "stonith_host alice null alice", "stonith_host * meatware alice bob",
        "stonith_host BOB suicide",
    ), PATH)  # fmt: skip
    assert [h.type for h in ha.stonith_hosts_for("alice")] == ["null", "meatware"]
    assert [h.type for h in ha.stonith_hosts_for("Bob")] == ["meatware", "suicide"]
    assert ha.stonith_hosts[2].params == () and ha.stonith_hosts[2].raw_params == ""


def test_unsupported_directives_are_validated_then_warned() -> None:
    ha = parse_hacf(minimal("auto_failback off", "compression bz2", "crm yes", "rtprio 5"), PATH)
    assert ha.warnings == (
        f"{PATH}:4: compression has no effect in this stack (messages are never compressed)",
        f"{PATH}:5: crm yes: Pacemaker mode is not available; "
        "this stack runs the haresources groups itself",
        f"{PATH}:6: rtprio has no effect in this stack (priorities are fixed by this stack)",
    )
    assert ha.raw["compression"] == ("bz2",)
    assert error(minimal("compression lzma")).line == 3
    assert error(minimal("crm perhaps")).line == 3


def test_every_known_directive_is_accepted() -> None:
    """No directive of the table is refused as unknown (values may still be wrong)."""
    for name in DIRECTIVES:
        try:
            parse_hacf(minimal(f"{name} x"), PATH)
        except ConfigError as err:
            assert "unknown directive" not in err.message, name


def test_crm_off_gives_no_warning() -> None:
    assert parse_hacf(minimal("auto_failback on", "crm off"), PATH).warnings == ()


def test_autojoin_any_allows_no_nodes() -> None:
    ha = parse_hacf("autojoin any\nbcast eth0\nauto_failback on\n", PATH)
    assert ha.nodes == () and ha.autojoin == "any"


def test_other_settings() -> None:
    ha = parse_hacf(minimal(
        "debug 3", "realtime off", "hopfudge 2", "use_logd yes", "logfacility none",
        "deadping 40", "auto_failback legacy",
    ), PATH)  # fmt: skip
    assert (ha.debug, ha.realtime, ha.hopfudge, ha.use_logd) == (3, False, 2, True)
    assert ha.logfacility == "none" and ha.deadping == 40.0


def test_result_is_frozen_and_picklable() -> None:
    ha = parse_hacf(REALISTIC, PATH)
    with pytest.raises(AttributeError):
        ha.keepalive = 5.0  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(ha)) == ha
    assert isinstance(hash(ha), int)


# --- errors: exact path and line -------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "line", "message"),
    [
        (["keepalive fast"], 3,
         "bad time value 'fast' for keepalive (use seconds, or a number with ms, e.g. 500ms)"),
        (["keepalive 1500 ms"], 3,
         "keepalive takes one value, got '1500 ms'; write '1500ms' without the space"),
        (["keepalve 2"], 3, "unknown directive 'keepalve' (did you mean 'keepalive'?)"),
        (["frobnicate yes"], 3, "unknown directive 'frobnicate'"),
        (["Node c"], 3, "unknown directive 'Node' (did you mean 'node'?)"),
        (["keepalive 2 3"], 3, "keepalive takes one value, got 2: '2 3'"),
        (["keepalive"], 3, "keepalive needs a value"),
        (["keepalive 0"], 3, "keepalive must be more than 0"),
        (["", "keepalive 2", "deadtime 4"], 5,
         "deadtime 4s must be more than twice keepalive (2s); raise deadtime or lower keepalive"),
        (["keepalive 20"], 3,
         "deadtime 30s must be more than twice keepalive (20s); raise deadtime or lower keepalive"),
        (["deadtime 10", "initdead 5"], 4, "initdead 5s must be at least deadtime (10s)"),
        (["deadping 2"], 3, "deadping 2s must be more than twice keepalive (1s)"),
        (["mcast eth0 10.0.0.1 694 1 0"], 3,
         "bad multicast group '10.0.0.1' for mcast (must be class D, 224.0.0.0 to "
         "239.255.255.255)"),
        (["mcast eth0 239.0.0.1 694 1"], 3,
         "mcast takes 5 values: device group port ttl loop, e.g. mcast eth0 239.0.0.1 694 1 0"),
        (["mcast eth0 239.0.0.1 694 256 0"], 3, "bad ttl '256' for mcast (must be from 0 to 255)"),
        (["mcast eth0 239.0.0.1 694 1 yes"], 3, "bad loop value 'yes' for mcast (use 0 or 1)"),
        (["baud 4800"], 3, "bad baud rate '4800' for baud (use one of 9600, 19200, 38400, "
         "57600, 115200, 230400, 460800)"),
        (["baud 9600", "baud 9600"], 4, "baud may be given only once (already set at line 3)"),
        (["udpport 70000"], 3, "bad port '70000' for udpport (must be from 1 to 65535)"),
        (["ucast eth1"], 3,
         "ucast takes an interface and a peer address, e.g. ucast eth1 10.0.0.2"),
        (["serial ttyS0"], 3,
         "bad serial device 'ttyS0' for serial (must be an absolute path such as /dev/ttyS0)"),
        (["respawn hacluster"], 3,
         "respawn takes a user and a command, e.g. respawn hacluster /usr/lib/heartbeat/ipfail"),
        (["respawn hacluster ipfail"], 3, "respawn command must start with an absolute path, "
         "got 'ipfail' (e.g. /usr/lib/heartbeat/ipfail)"),
        (["failfast root '/bin/x"], 3,
         "cannot split the failfast command line: No closing quotation"),
        (["stonith_host alice"], 3, "stonith_host takes a node (or *), a device type and its "
         "parameters, e.g. stonith_host * external/ssh alice bob"),
        (["stonith_host alice bad;type x"], 3, "bad STONITH device type 'bad;type' for "
         "stonith_host (e.g. rps10, external/ssh, meatware)"),
        (["stonith null"], 3, "stonith takes a device type and its config file, "
         "e.g. stonith baytech /etc/ha.d/conf/stonith.baytech"),
        (["watchdog /dev/watchdog", "watchdog /dev/watchdog1"], 4,
         "watchdog may be given only once (already /dev/watchdog)"),
        (["ping 10.0.0.1", "ping 10.0.0.1"], 4,
         "ping node '10.0.0.1' is already defined at line 3"),
        (["ping_group alice 10.0.0.1"], 3, "ping node 'alice' has a cluster node's name"),
        (["ping_group gw"], 3, "ping_group takes a group name and at least one address"),
        (["auto_failback sometimes"], 3,
         "bad auto_failback value 'sometimes' for auto_failback (use on, off or legacy)"),
        (["logfacility local9"], 3, "bad syslog facility 'local9' for logfacility "
         "(e.g. daemon, local0 ... local7, or none)"),
        (["use_logd no"], 3, "use_logd is off but there is no logfile, debugfile or "
         "logfacility: nothing would be logged"),
        (["node Bad!Name"], 3, "bad node name 'Bad!Name' for node (letters, digits, '.', '_' "
         "and '-', starting with a letter or digit)"),
        (["autojoin some"], 3, "bad autojoin mode 'some' for autojoin (use none, other or any)"),
        (["debug 300"], 3, "bad debug level '300' for debug (must be from 0 to 255)"),
    ],
)
def test_errors_name_path_and_line(lines: list[str], line: int, message: str) -> None:
    err = error(minimal(*lines))
    assert (err.path, err.line, err.message) == (PATH, line, message)
    assert str(err) == f"{PATH}:{line}: {message}"


def test_missing_media_is_a_whole_file_error() -> None:
    err = error("node alice bob\nkeepalive 1\n")
    assert (err.path, err.line) == (PATH, None)
    assert str(err) == (
        f"{PATH}: no heartbeat media defined (add a bcast, mcast, ucast or serial line)"
    )


def test_missing_nodes_is_an_error_unless_autojoin_any() -> None:
    err = error("bcast eth0\n")
    assert str(err) == f"{PATH}: no node lines (list every cluster member, e.g. node alice bob)"


def test_line_numbers_ignore_odd_separators() -> None:
    """A form feed in a comment must not shift later line numbers (no splitlines())."""
    err = error("node a b # page\x0cbreak\nbcast eth0\nkeepalive fast\n")
    assert err.line == 3


def test_warnings_for_odd_but_valid_settings() -> None:
    ha = parse_hacf(minimal(
        "auto_failback on", "deadtime 5", "warntime 6", "initdead 8", "node alice",
        "bcast eth0", "stonith_host carol null carol",
    ), PATH)  # fmt: skip
    assert ha.warnings == (
        f"{PATH}:5: warntime 6s is not less than deadtime 5s, so no late heartbeat is reported",
        f"{PATH}:6: initdead 8s is under 10s: after a reboot slow links can make this node "
        "think its peer is dead",
        f"{PATH}:7: node 'alice' is listed twice",
        f"{PATH}:8: bcast eth0 repeats line 2",
        f"{PATH}:9: stonith_host names 'carol', which is not a node of this cluster; "
        "no node will use this line",
    )


# --- properties ------------------------------------------------------------------------

_WORDS = st.sampled_from(
    [*DIRECTIVES, "#", ",", "eth0", "10.0.0.1", "239.0.0.1", "694", "1", "0", "on", "ms",
     "/dev/ttyS0", "alice", "*", "'", "\\", "-1", "1.5", "\t", "", "ff12::1", "\x00", "é"]
)  # fmt: skip
_LINES = st.lists(st.lists(_WORDS, max_size=7).map(" ".join), max_size=12).map("\n".join)


@pytest.mark.slow
@settings(max_examples=300)
@given(st.one_of(st.text(max_size=200), _LINES))
def test_random_text_raises_only_config_error(text: str) -> None:
    try:
        result = parse_hacf(text, PATH)
    except ConfigError as err:
        assert err.path == PATH
        assert err.line is None or 1 <= err.line <= text.count("\n") + 1
    else:
        assert isinstance(result, HaConfig) and result.media
