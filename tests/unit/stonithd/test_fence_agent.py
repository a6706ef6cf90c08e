"""The fence-agents standard-input protocol, against a tiny fence_test script."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.stonithd.outcome import Code, Deadline
from cluster.stonithd.registry import config_names, list_types
from cluster.stonithd.runner import run_operation

pytestmark = pytest.mark.slow  # every test runs shell scripts

AGENT = """\
#!/bin/sh
dir="$(dirname "$0")"
cat > "$dir/stdin.$$"
action=$(sed -n 's/^action=//p' "$dir/stdin.$$" | tail -n 1)
port=$(sed -n 's/^port=//p' "$dir/stdin.$$" | tail -n 1)
cat "$dir/stdin.$$" >> "$dir/received"; echo --- >> "$dir/received"; rm "$dir/stdin.$$"
case $action in
reboot|off|on) [ "$port" = 13 ] && { echo "Failed: Timed out waiting to power OFF" >&2; exit 1; }
               echo "Success: Rebooted"; exit 0 ;;
monitor) exit 0 ;;
list) echo "alice,Alice VM"; echo "bob,"; exit 0 ;;
metadata) cat <<XML
<?xml version="1.0" ?>
<resource-agent name="fence_test" shortdesc="test">
<parameters>
<parameter name="action"/><parameter name="ipaddr"/><parameter name="port"/>
<parameter name="passwd"/>
</parameters>
</resource-agent>
XML
exit 0 ;;
esac
exit 1
"""


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    (tmp_path / "stonith").mkdir()
    agent = tmp_path / "stonith" / "fence_test"
    agent.write_text(AGENT)
    agent.chmod(0o755)
    return tmp_path


def received(conf: Path) -> list[list[str]]:
    text = (conf / "stonith" / "received").read_text()
    return [block.strip().splitlines() for block in text.split("---") if block.strip()]


def test_reboot_writes_the_standard_input_protocol(conf: Path) -> None:
    outcome = run_operation("fence_test", "reset", 10, conf_dir=conf, host="alice",
                            positional="ipaddr=10.0.0.9 passwd='a b' pcmk_host_map=alice:7")
    assert outcome.code is Code.OK, outcome
    assert "action=reboot port=7: Success: Rebooted" in outcome.detail
    assert received(conf) == [["action=reboot", "nodename=alice", "port=7",
                               "ipaddr=10.0.0.9", "passwd=a b"]]


def test_off_and_on_and_a_configured_port_wins(conf: Path) -> None:
    params = {"ipaddr": "x", "port": "3", "pcmk_host_list": "bob"}
    assert run_operation("fence_test", "off", 10, conf_dir=conf, host="bob",
                         named=params).code is Code.OK
    assert run_operation("fence_test", "on", 10, conf_dir=conf, host="bob",
                         named=params).code is Code.OK
    first, second = received(conf)
    assert first[:3] == ["action=off", "nodename=bob", "port=bob"]
    assert "port=3" in first and "action=on" in second
    assert not any(line.startswith("pcmk_") for line in first + second)


def test_failure_exit_1_with_the_agents_message(conf: Path) -> None:
    outcome = run_operation("fence_test", "reset", 10, conf_dir=conf, host="alice",
                            named={"pcmk_host_map": "alice:13"})
    assert outcome.code is Code.RESETFAIL
    assert "Timed out waiting to power OFF" in outcome.detail


def test_host_not_in_the_static_list_is_badhost(conf: Path) -> None:
    outcome = run_operation("fence_test", "reset", 10, conf_dir=conf, host="carol",
                            named={"pcmk_host_list": "alice,bob"})
    assert outcome.code is Code.BADHOST
    assert not (conf / "stonith" / "received").exists()


def test_status_is_monitor_and_hosts_come_from_list(conf: Path) -> None:
    outcome = run_operation("fence_test", "check", 10, conf_dir=conf, named={"ipaddr": "x"})
    assert outcome.code is Code.OK
    assert outcome.hosts == ("alice", "bob")
    assert [block[0] for block in received(conf)] == ["action=monitor", "action=list"]


def test_parameter_names_from_metadata(conf: Path) -> None:
    assert config_names("fence_test", conf, Deadline(10)) == ("ipaddr", "port", "passwd")
    assert "fence_test" in list_types(conf)


def test_bad_parameter_words(conf: Path) -> None:
    outcome = run_operation("fence_test", "reset", 10, conf_dir=conf, host="alice",
                            positional="ipaddr=1 oops")
    assert outcome.code is Code.BADCONFIG and "'oops' is not name=value" in outcome.detail
