"""load_config against real files in tmp_path; legacy_daemon; describe."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from cluster.config.confdir import ClusterConfig, describe, legacy_daemon, load_config
from cluster.config.errors import ConfigError

HA_CF = """\
logfile /var/log/ha-log
logfacility local0
keepalive 2
deadtime 30
initdead 120
udpport 694
bcast eth0
ucast eth1 10.0.0.2
serial /dev/ttyS0
auto_failback on
node alice bob
ping 10.0.0.254
respawn hacluster /usr/lib/heartbeat/ipfail
stonith_host * external/ssh alice bob
watchdog /dev/watchdog
"""
HARESOURCES = """\
alice IPaddr::192.168.85.3/24/eth0 httpd smb
bob 192.168.85.4 \\
    Filesystem::/dev/sdb1::/srv::ext4
"""
AUTHKEYS = "auth 1\n1 sha1 TopSecretValue\n2 crc\n"
ME = pwd.getpwuid(os.getuid()).pw_name


def write(directory: Path, name: str, text: str, mode: int = 0o644) -> Path:
    path = directory / name
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def confdir(tmp_path: Path) -> Path:
    write(tmp_path, "ha.cf", HA_CF)
    write(tmp_path, "haresources", HARESOURCES)
    write(tmp_path, "authkeys", AUTHKEYS, 0o600)
    return tmp_path


def load_error(directory: Path, node: str | None = "alice") -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(directory, node)
    return info.value


def test_loads_a_complete_directory(confdir: Path) -> None:
    config = load_config(str(confdir), "Alice")
    assert isinstance(config, ClusterConfig)
    assert config.directory == confdir
    assert config.local_node == "alice" and config.peers == ("bob",)
    assert config.ha.path == str(confdir / "ha.cf")
    keys = [group.key for group in config.groups]
    assert keys == ["IPaddr::192.168.85.3/24/eth0", "IPaddr::192.168.85.4"]
    assert config.groups[1].line == 2
    assert config.authkeys.path == str(confdir / "authkeys")
    assert config.authkeys.active_key.secret == b"TopSecretValue"
    assert config.warnings == ()


def test_warnings_of_all_files_are_combined(confdir: Path) -> None:
    write(confdir, "ha.cf", HA_CF.replace("auto_failback on\n", "compression bz2\n"))
    write(confdir, "authkeys", "auth 2\n2 crc\n", 0o600)
    warnings = load_config(confdir, "alice").warnings
    assert [w.split(": ", 1)[0] for w in warnings] == [
        f"{confdir}/ha.cf:10", f"{confdir}/ha.cf", f"{confdir}/authkeys:1"
    ]  # fmt: skip


def test_haresources_is_optional(confdir: Path) -> None:
    (confdir / "haresources").unlink()
    assert load_config(confdir, "bob").groups == ()


def test_nodeinfo_overrides_uname(confdir: Path) -> None:
    write(confdir, "nodeinfo", "Bob\nanything else\n")
    assert load_config(confdir).local_node == "bob"
    assert load_config(confdir, "alice").local_node == "alice"  # --node wins


def test_uname_is_the_default(confdir: Path) -> None:
    me = os.uname().nodename.lower()
    write(confdir, "ha.cf", HA_CF.replace("node alice bob", f"node alice bob {me}"))
    assert load_config(confdir).local_node == me


def test_local_node_must_be_listed(confdir: Path) -> None:
    err = load_error(confdir, "carol")
    assert (err.path, err.line) == (str(confdir / "ha.cf"), None)
    assert err.message == (
        "this node 'carol' is not in ha.cf's node list (alice, bob); set --node or fix ha.cf"
    )


def test_autojoin_any_accepts_an_unlisted_node_without_haresources(confdir: Path) -> None:
    (confdir / "haresources").unlink()
    write(confdir, "ha.cf", HA_CF + "autojoin any\n")
    assert load_config(confdir, "carol").local_node == "carol"


def test_autojoin_is_refused_with_resource_groups(confdir: Path) -> None:
    write(confdir, "ha.cf", HA_CF + "autojoin other\n")
    assert load_error(confdir).message == (
        "autojoin other cannot be used with haresources (resource groups need a fixed node "
        "list); set autojoin none"
    )


def test_bad_nodeinfo_names_the_file(confdir: Path) -> None:
    write(confdir, "nodeinfo", "bad name\n")
    err = load_error(confdir, None)
    assert (err.path, err.line) == (str(confdir / "nodeinfo"), 1)


@pytest.mark.parametrize("name", ["ha.cf", "authkeys"])
def test_missing_required_files_are_named(confdir: Path, name: str) -> None:
    (confdir / name).unlink()
    err = load_error(confdir)
    assert (err.path, err.line) == (str(confdir / name), None)
    assert err.message.startswith("file not found; every node needs")


def test_unreadable_file(confdir: Path) -> None:
    (confdir / "haresources").unlink()
    (confdir / "haresources").mkdir()
    err = load_error(confdir)
    assert str(err) == f"{confdir}/haresources: cannot read: Is a directory"


def test_authkeys_mode_comes_from_the_file(confdir: Path) -> None:
    (confdir / "authkeys").chmod(0o644)
    err = load_error(confdir)
    assert str(err) == (
        f"{confdir}/authkeys: mode 0644 is too open; authkeys holds the cluster's secret and "
        f"must be mode 600 (chmod 600 {confdir}/authkeys)"
    )
    (confdir / "authkeys").chmod(0o400)
    assert load_config(confdir, "alice").authkeys.active == 1


def test_parse_errors_keep_their_file_and_line(confdir: Path) -> None:
    write(confdir, "haresources", "# groups\nalice httpd\ncarol smb\n")
    err = load_error(confdir)
    assert str(err) == (
        f"{confdir}/haresources:3: unknown node 'carol' in haresources (ha.cf lists: alice, bob)"
    )
    write(confdir, "authkeys", "auth 2\n1 sha1 s\n", 0o600)
    assert load_error(confdir).line == 1


def respawn_error(confdir: Path, line: str) -> ConfigError:
    write(confdir, "ha.cf", HA_CF + line + "\n")
    err = load_error(confdir)
    assert (err.path, err.line) == (str(confdir / "ha.cf"), 16)
    return err


def test_respawn_user_must_exist(confdir: Path) -> None:
    err = respawn_error(confdir, "respawn no-such-user-zz9 /bin/true")
    assert err.message == (
        "respawn user 'no-such-user-zz9' does not exist "
        "(create it, or run the program as an existing user)"
    )


def test_respawn_program_must_exist_and_be_executable(confdir: Path) -> None:
    err = respawn_error(confdir, f"respawn {ME} {confdir}/missing --flag")
    assert err.message == f"respawn program '{confdir}/missing' does not exist"
    write(confdir, "plain", "#!/bin/sh\n", 0o644)
    err = respawn_error(confdir, f"failfast {ME} {confdir}/plain")
    assert err.message == f"failfast program '{confdir}/plain' is not an executable file"
    err = respawn_error(confdir, f"respawn {ME} {confdir}")
    assert err.message == f"respawn program '{confdir}' is not an executable file"


def test_respawn_with_a_real_program(confdir: Path) -> None:
    write(confdir, "agent", "#!/bin/sh\nexit 0\n", 0o755)
    write(confdir, "ha.cf", HA_CF + f"respawn {ME} '{confdir}/agent' -v\n")
    (spec, *_) = reversed(load_config(confdir, "alice").ha.respawns)
    assert spec.argv == (f"{confdir}/agent", "-v")


def test_legacy_daemons_are_not_checked_on_disk(confdir: Path) -> None:
    write(confdir, "ha.cf", HA_CF + "respawn nobody-zz9 /usr/libexec/heartbeat/ccm\n")
    assert len(load_config(confdir, "alice").ha.respawns) == 2


@pytest.mark.parametrize(
    ("command", "daemon"),
    [
        ("/usr/lib/heartbeat/ipfail", "ipfail"),
        ("/usr/lib64/heartbeat/ccm", "ccm"),
        ("/usr/libexec/heartbeat/ipfail -d", "ipfail"),
        ("/usr/lib/pacemaker/stonithd", "stonithd"),
        ("/usr/lib/heartbeat/crmd", "crmd"),
        ("/usr/lib/x86_64-linux-gnu/heartbeat/ipfail", "ipfail"),
        ("/usr/lib/heartbeat/../heartbeat/ccm", "ccm"),
        ("/usr/lib/heartbeat/dopd", None),
        ("/usr/local/lib/heartbeat/ipfail", None),
        ("/usr/lib/other/ipfail", None),
        ("ipfail", None),
        ("", None),
    ],
)
def test_legacy_daemon(command: str, daemon: str | None) -> None:
    assert legacy_daemon(command) == daemon


def test_describe_summarises_without_secrets(confdir: Path) -> None:
    write(confdir, "ha.cf", HA_CF + "compression bz2\n")
    text = describe(load_config(confdir, "alice"))
    assert "TopSecretValue" not in text
    lines = text.splitlines()
    assert lines[0] == f"Cluster configuration in {confdir}"
    assert "  this node       alice" in lines
    assert "  authentication  sha1, key 1 (keys: 1, 2)" in lines
    assert "  ucast   eth1        to 10.0.0.2 port 694" in lines
    assert "  serial  /dev/ttyS0  19200 baud" in lines
    assert "  keepalive  2s" in lines and "  initdead   120s" in lines
    assert "  hacluster  /usr/lib/heartbeat/ipfail  (built-in daemon: ipfail)" in lines
    assert "  stonith_host *  external/ssh  alice bob  (used by this node)" in lines
    assert "  alice  IPaddr::192.168.85.3/24/eth0 -> httpd -> smb" in lines
    assert "  bob    IPaddr::192.168.85.4 -> Filesystem::/dev/sdb1::/srv::ext4" in lines
    assert lines[-2:] == [
        "Warnings (1)",
        f"  {confdir}/ha.cf:16: compression has no effect in this stack "
        "(messages are never compressed)",
    ]
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert all(line == line.rstrip() for line in lines)
