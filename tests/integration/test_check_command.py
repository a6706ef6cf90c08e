"""``cluster-mcp --check`` on real configuration directories, as an admin runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

HA_CF = """\
keepalive 500ms
deadtime 5
warntime 2
initdead 30
udpport 694
bcast eth1
ucast eth0 192.168.85.2
baud 19200
serial /dev/ttyS0
auto_failback off
node node1 node2
ping 192.168.85.254
respawn hacluster /usr/lib/heartbeat/ipfail
stonith_host node2 rps10 /dev/ttyS1 node1 0
watchdog /dev/watchdog
"""
HARESOURCES = "node1 IPaddr::192.168.85.3/24/eth0 httpd smb\n"
AUTHKEYS = "auth 1\n1 sha1 a-secret\n"


def _confdir(tmp_path: Path, ha_cf: str = HA_CF, haresources: str = HARESOURCES,
             authkeys: str = AUTHKEYS, mode: int = 0o600) -> Path:
    conf = tmp_path / "ha.d"
    conf.mkdir()
    (conf / "ha.cf").write_text(ha_cf)
    (conf / "haresources").write_text(haresources)
    keys = conf / "authkeys"
    keys.write_text(authkeys)
    keys.chmod(mode)
    return conf


def _check(conf: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cluster.mcp", "--check", "-c", str(conf),
                           "--node", "node1"], capture_output=True, text=True, timeout=60)


def test_accepts_the_classic_pair_and_says_what_it_understood(tmp_path: Path) -> None:
    done = _check(_confdir(tmp_path))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for expected in ("node1, node2", "bcast", "ucast", "serial", "192.168.85.254",
                     "ipfail", "rps10", "/dev/watchdog", "500ms",
                     "IPaddr::192.168.85.3/24/eth0 -> httpd -> smb"):
        assert expected in out, expected


@pytest.mark.parametrize("change, where, words", [
    ({"haresources": "node3 IPaddr::192.168.85.3/24/eth0 httpd\n"}, "haresources:1:",
     "node3"),
    ({"ha_cf": HA_CF.replace("deadtime 5", "deadtime five")}, "ha.cf:2:", "deadtime"),
    ({"authkeys": "auth 2\n1 sha1 a-secret\n"}, "authkeys:1:", "2"),
])
def test_rejects_with_file_line_and_exit_2(tmp_path: Path, change: dict[str, str], where: str,
                                           words: str) -> None:
    done = _check(_confdir(tmp_path, **change))
    assert done.returncode == 2
    assert where in done.stderr and words in done.stderr
    assert "Traceback" not in done.stderr


def test_refuses_an_authkeys_readable_by_others(tmp_path: Path) -> None:
    done = _check(_confdir(tmp_path, mode=0o644))
    assert done.returncode == 2
    assert "authkeys" in done.stderr and "600" in done.stderr
    assert "Traceback" not in done.stderr


def _mcp(conf: Path, run_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cluster.mcp", *args, "-c", str(conf),
                           "--node", "node1", "--run-dir", str(run_dir)],
                          capture_output=True, text=True, timeout=60)


def test_reload_without_a_running_stack_says_so_with_lsb_exit_7(tmp_path: Path) -> None:
    conf = _confdir(tmp_path)
    done = _mcp(conf, tmp_path / "run", "reload")
    assert done.returncode == 7
    assert f"not running for {tmp_path / 'run'}; nothing to reload" in done.stderr
    preview = _mcp(conf, tmp_path / "run", "--check", "--diff")
    assert preview.returncode == 0
    assert "configuration OK; no cluster-mcp is running" in preview.stdout


def test_reload_of_a_wrong_file_names_it_and_exits_1_before_asking_anyone(
        tmp_path: Path) -> None:
    conf = _confdir(tmp_path, ha_cf=HA_CF.replace("deadtime 5", "deadtime five"))
    done = _mcp(conf, tmp_path / "run", "reload")
    assert done.returncode == 1
    assert f"{conf / 'ha.cf'}:2:" in done.stderr and "nothing was reloaded" in done.stderr


def test_diff_goes_with_check(tmp_path: Path) -> None:
    done = _mcp(_confdir(tmp_path), tmp_path / "run", "--diff")
    assert done.returncode == 2 and "--diff goes with --check" in done.stderr
