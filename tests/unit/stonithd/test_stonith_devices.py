"""Which device lines apply to which node, and how parameters map onto names (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cluster.config.hacf import parse_hacf
from cluster.stonithd.devices import (
    DeviceConfig,
    map_positional,
    named_from_text,
    parse_named,
    r1_params,
    select_devices,
    split_delays,
)
from cluster.stonithd.fenceagent import _host_map
from cluster.stonithd.rps10 import parse_targets

BASE = "keepalive 1\ndeadtime 10\nbcast eth0\nnode alice bob carol\n"


def devices_for(extra: str, node: str, r1_text: str | None = None) -> tuple[DeviceConfig, ...]:
    ha = parse_hacf(BASE + extra, "ha.cf")
    return select_devices(ha.stonith_hosts, node, ha.stonith, r1_text)


def test_star_lines_apply_everywhere_and_named_lines_only_to_their_node() -> None:
    extra = ("stonith_host * external/ssh alice bob carol\n"
             "stonith_host bob rps10 /dev/ttyS0 alice 0\n")
    assert [d.name for d in devices_for(extra, "alice")] == ["external/ssh"]
    assert [d.name for d in devices_for(extra, "bob")] == ["external/ssh", "rps10 /dev/ttyS0"]
    assert [d.name for d in devices_for(extra, "BOB")] == ["external/ssh", "rps10 /dev/ttyS0"]


def test_the_last_applicable_line_per_device_wins_in_its_place() -> None:
    extra = ("stonith_host * null alice\n"
             "stonith_host * rps10 /dev/ttyS0 bob 1\n"
             "stonith_host alice null bob carol\n"
             "stonith_host bob null nobody\n"
             "stonith_host alice rps10 /dev/ttyS1 carol 2\n")
    got = devices_for(extra, "alice")
    assert [(d.name, d.params) for d in got] == [
        ("rps10 /dev/ttyS0", "/dev/ttyS0 bob 1"),
        ("null", "bob carol"),
        ("rps10 /dev/ttyS1", "/dev/ttyS1 carol 2"),
    ]
    assert got[1].source == "ha.cf:7"


def test_r1_stonith_file_comes_first_with_its_first_real_line() -> None:
    text = "# the baytech\n\n  10.0.0.9 admin secret word  \nignored line\n"
    assert r1_params(text) == "10.0.0.9 admin secret word"
    got = devices_for("stonith external/ipmi /etc/ha.d/ipmi.cfg\n"
                      "stonith_host * null bob\n", "alice", text)
    assert [(d.name, d.params, d.source) for d in got] == [
        ("external/ipmi", "10.0.0.9 admin secret word", "/etc/ha.d/ipmi.cfg"),
        ("null", "bob", "ha.cf:6"),
    ]


def test_no_line_for_this_node_means_no_device() -> None:
    assert devices_for("stonith_host bob null alice\n", "alice") == ()


def test_pcmk_delays_are_taken_out_of_the_parameters() -> None:
    got = devices_for("stonith_host * external/ssh pcmk_delay_base=5s alice  bob "
                      "pcmk_delay_max=500ms\n", "carol")
    assert got[0].params == "alice  bob"
    assert (got[0].delay_base, got[0].delay_max) == (5.0, 0.5)
    assert split_delays("a  b   c") == ("a  b   c", 0.0, 0.0)
    with pytest.raises(ValueError, match="pcmk_delay_base"):
        split_delays("pcmk_delay_base=soon x")


def test_positional_parameters_last_name_takes_the_rest_of_the_line() -> None:
    names = ("ipaddr", "userid", "passwd")
    assert map_positional(names, " 10.0.0.9 admin my  secret phrase ") == {
        "ipaddr": "10.0.0.9", "userid": "admin", "passwd": "my  secret phrase"}
    assert map_positional(names, "10.0.0.9") == {"ipaddr": "10.0.0.9"}
    assert map_positional(("hostlist",), "alice bob  carol") == {"hostlist": "alice bob  carol"}
    assert map_positional((), "anything") == {}


@pytest.mark.slow
@given(st.lists(st.from_regex(r"[a-z]{1,8}", fullmatch=True), min_size=1, max_size=5, unique=True),
       st.lists(st.from_regex(r"[!-~]{1,6}", fullmatch=True), min_size=0, max_size=8))
def test_positional_mapping_keeps_every_word(names: list[str], words: list[str]) -> None:
    mapped = map_positional(names, " ".join(words))
    assert list(mapped) == names[: len(mapped)]
    assert " ".join(mapped.values()) == " ".join(words)


def test_named_parameters() -> None:
    assert parse_named(["a=1", "b=x=y", "a=2", "c="]) == {"a": "2", "b": "x=y", "c": ""}
    with pytest.raises(ValueError, match="'oops' is not name=value"):
        parse_named(["a=1", "oops"])
    assert named_from_text("ipaddr=10.0.0.9 passwd='two words'") == {
        "ipaddr": "10.0.0.9", "passwd": "two words"}


def test_rps10_targets() -> None:
    assert parse_targets("/dev/ttyS0 Alice 0 bob A") == ("/dev/ttyS0", {"alice": "0", "bob": "*"})
    for bad in ("/dev/ttyS0", "/dev/ttyS0 alice", "/dev/ttyS0 alice 12", "/dev/ttyS0 a 0 b"):
        with pytest.raises(ValueError):
            parse_targets(bad)


def test_fence_agent_host_list_and_map() -> None:
    assert _host_map({"pcmk_host_map": "Alice:3;bob:4,carol"}) == {
        "alice": "3", "bob": "4", "carol": "carol"}
    assert _host_map({"pcmk_host_list": "alice,bob dave"}) == {
        "alice": "alice", "bob": "bob", "dave": "dave"}
    assert _host_map({"ipaddr": "x"}) is None
