"""Value converters: times, flags, numbers, names, addresses, FrozenDict."""

from __future__ import annotations

import copy
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cluster.config import values
from cluster.config.values import BadValue, FrozenDict


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2", 2.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (".5", 0.5),
        ("1.", 1.0),
        ("500ms", 0.5),
        ("500msec", 0.5),
        ("1500MS", 1.5),
        ("2500us", 0.003),  # 2.5 ms rounds half up
        ("2499usec", 0.002),
        ("1.2345", 1.235),
        ("0.0004", 0.0),
        ("0.0005", 0.001),
        ("30000ms", 30.0),
        (" 2 ", 2.0),
    ],
)
def test_duration_accepts_cl_get_msec_syntax(text: str, seconds: float) -> None:
    assert values.duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["fast", "", "ms", "1e3", "1,5", "1.2.3", "2 ms", "5m", "5h", "0x10", "+1", "\u0661"]
)
def test_duration_rejects_other_text(text: str) -> None:
    with pytest.raises(BadValue) as info:
        values.duration(text)
    assert str(info.value).startswith(f"bad time value {text!r}")


def test_duration_error_text_names_the_directive() -> None:
    with pytest.raises(BadValue) as info:
        values.duration("fast")
    assert info.value.describe("keepalive") == (
        "bad time value 'fast' for keepalive (use seconds, or a number with ms, e.g. 500ms)"
    )


def test_duration_negative_and_seconds_unit_have_their_own_hints() -> None:
    with pytest.raises(BadValue, match="cannot be negative"):
        values.duration("-1")
    with pytest.raises(BadValue, match="take no 's': write 2 for seconds"):
        values.duration("2s")


def test_duration_upper_limit() -> None:
    assert values.duration_ms(f"{values.MAX_DURATION_MS}ms") == values.MAX_DURATION_MS
    with pytest.raises(BadValue, match="24 days"):
        values.duration(f"{values.MAX_DURATION_MS + 1}ms")
    with pytest.raises(BadValue, match="too long"):
        values.duration("9" * 40)


@given(st.integers(min_value=0, max_value=values.MAX_DURATION_MS))
def test_duration_round_trips_whole_milliseconds(millis: int) -> None:
    assert values.duration_ms(f"{millis}ms") == millis
    assert values.duration(f"{millis}ms") == millis / 1000
    assert values.duration(f"{millis / 1000:.3f}") == millis / 1000
    assert values.duration(f"{millis * 1000}us") == millis / 1000


@given(st.integers(min_value=0, max_value=10**9))
def test_format_duration_round_trips_through_duration(millis: int) -> None:
    text = values.format_duration(millis / 1000)
    unit_free = text[:-1] if text.endswith("s") and not text.endswith("ms") else text
    assert values.duration(unit_free) == millis / 1000


@given(st.text(max_size=30))
def test_duration_raises_only_bad_value(text: str) -> None:
    try:
        result = values.duration(text)
    except BadValue:
        return
    assert 0 <= result <= values.MAX_DURATION_MS / 1000


@pytest.mark.parametrize(
    ("seconds", "text"), [(30.0, "30s"), (0.5, "500ms"), (1.5, "1.5s"), (0.0, "0s")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert values.format_duration(seconds) == text


@pytest.mark.parametrize("text", ["true", "on", "yes", "y", "1", "YES", "On"])
def test_boolean_true(text: str) -> None:
    assert values.boolean(text) is True


@pytest.mark.parametrize("text", ["false", "off", "no", "n", "0", "OFF"])
def test_boolean_false(text: str) -> None:
    assert values.boolean(text) is False


def test_boolean_rejects_others() -> None:
    with pytest.raises(BadValue, match="use on or off"):
        values.boolean("maybe")


def test_integers_and_ports() -> None:
    assert values.port("694") == 694
    assert values.integer("7", 0, 9) == 7
    for bad in ["0", "65536", "-1", "6_94", "+694", "", " 694", "\u0666\u0669\u0664"]:
        with pytest.raises(BadValue):
            values.port(bad)
    with pytest.raises(BadValue, match="from 0 to 255"):
        values.debug_level("256")
    assert values.hopfudge("1") == 1


def test_baud() -> None:
    assert values.baud("19200") == 19200
    assert values.baud("460800") == 460800
    with pytest.raises(BadValue, match="use one of 9600, 19200"):
        values.baud("4800")


def test_failback_mode_and_autojoin() -> None:
    assert [values.failback_mode(t) for t in ("on", "yes", "OFF", "0", "Legacy")] == [
        "on", "on", "off", "off", "legacy"
    ]  # fmt: skip
    with pytest.raises(BadValue, match="use on, off or legacy"):
        values.failback_mode("sometimes")
    assert values.autojoin("ANY") == "any"
    with pytest.raises(BadValue):
        values.autojoin("all")


def test_node_name_lower_cases_and_validates() -> None:
    assert values.node_name("Alice.Example.COM") == "alice.example.com"
    assert values.node_name("node_1-a") == "node_1-a"
    for bad in ["", "-x", "a b", "*", "a/b", "ä", "x" * 254]:
        with pytest.raises(BadValue):
            values.node_name(bad)


def test_addresses() -> None:
    assert values.ipv4("10.0.0.1") == "10.0.0.1"
    assert values.ipv4_multicast("239.0.0.1") == "239.0.0.1"
    with pytest.raises(BadValue, match="class D"):
        values.ipv4_multicast("10.0.0.1")
    for bad in ["10.0.0", "10.0.0.256", "010.0.0.1", "host"]:
        with pytest.raises(BadValue):
            values.ipv4(bad)
    assert values.ipv6("FE80::1%eth0") == "fe80::1%eth0"
    assert values.ipv6_multicast("ff12::1") == "ff12::1"
    with pytest.raises(BadValue):
        values.ipv6_multicast("fe80::1")
    assert values.host("Peer.Example.com") == "peer.example.com"
    assert values.host("10.0.0.2") == "10.0.0.2"
    for bad in ["10.0.0.300", "a..b", "-a", "a_b c"]:
        with pytest.raises(BadValue):
            values.host(bad)


def test_interface_paths_facilities() -> None:
    assert values.interface_name("eth0.100") == "eth0.100"
    for bad in ["", "a/b", "x" * 16, "..", "eth 0"]:
        with pytest.raises(BadValue):
            values.interface_name(bad)
    assert values.absolute_path("/dev/ttyS0") == "/dev/ttyS0"
    with pytest.raises(BadValue, match="absolute path"):
        values.log_path("var/log/ha-log")
    assert values.syslog_facility("LOCAL7") == "local7"
    assert values.syslog_facility("none") == "none"
    with pytest.raises(BadValue):
        values.syslog_facility("local8")


def test_frozen_dict_is_a_read_only_hashable_picklable_mapping() -> None:
    frozen = FrozenDict({"b": (1,), "a": (2,)})
    assert list(frozen) == ["b", "a"]
    assert frozen == {"a": (2,), "b": (1,)}
    assert hash(frozen) == hash(FrozenDict([("a", (2,)), ("b", (1,))]))
    assert pickle.loads(pickle.dumps(frozen)) == frozen
    assert copy.deepcopy(frozen) == frozen
    assert repr(FrozenDict({1: 2})) == "FrozenDict({1: 2})"
    with pytest.raises(TypeError):
        frozen["c"] = (3,)  # type: ignore[index]
