"""diff_configs: what a reload would change, from two parsed configurations."""

from __future__ import annotations

from pathlib import Path

from cluster.config.authkeys import parse_authkeys
from cluster.config.confdir import ClusterConfig
from cluster.config.diff import diff_configs
from cluster.config.hacf import parse_hacf
from cluster.config.haresources import parse_haresources

HA_CF = """\
keepalive 100ms
deadtime 1
bcast eth0
serial /dev/ttyS0
node alice bob
ping 10.0.0.254
respawn root /bin/true
stonith_host * external/ssh alice bob
logfile /var/log/ha-log
"""
HARESOURCES = """\
alice IPaddr::10.0.0.10/24/eth0 httpd
bob IPaddr::10.0.0.11/24/eth0 smb
"""
AUTHKEYS = "auth 1\n1 sha256 OldSecret\n"


def config(ha_cf: str = HA_CF, haresources: str = HARESOURCES,
           authkeys: str = AUTHKEYS) -> ClusterConfig:
    ha = parse_hacf(ha_cf, "ha.cf")
    return ClusterConfig(Path("/etc/ha.d"), ha, parse_haresources(haresources, "haresources",
                                                                  ha.nodes),
                         parse_authkeys(authkeys, "authkeys", 0o600), "alice")


def test_identical_files_change_nothing() -> None:
    diff = diff_configs(config(), config())
    assert diff.empty
    assert diff.lines() == []
    assert diff.groups_unchanged == ("IPaddr::10.0.0.10/24/eth0", "IPaddr::10.0.0.11/24/eth0")


def test_moving_lines_around_changes_nothing() -> None:
    moved = "\n".join(reversed(HA_CF.splitlines())) + "\n"
    moved_groups = "\n\n# comment\n" + HARESOURCES
    assert diff_configs(config(), config(moved, moved_groups)).empty


def test_timings() -> None:
    diff = diff_configs(config(), config(HA_CF.replace("keepalive 100ms", "keepalive 200ms")))
    assert diff.timings == (("keepalive", 0.1, 0.2),)
    assert diff.lines() == ["keepalive 100ms -> 200ms"]
    derived = diff_configs(config(), config(HA_CF.replace("deadtime 1", "deadtime 2")))
    assert [name for name, _old, _new in derived.timings] == [
        "deadtime", "warntime", "deadping"]


def test_media_nodes_ping_nodes() -> None:
    new = (HA_CF.replace("serial /dev/ttyS0", "mcast eth1 239.0.0.1 694 1 0")
           .replace("node alice bob", "node alice bob carol")
           .replace("ping 10.0.0.254", "ping 10.0.0.253"))
    diff = diff_configs(config(), config(new))
    assert [(m.kind, m.name) for m in diff.media_added] == [("mcast", "eth1")]
    assert [(m.kind, m.name) for m in diff.media_removed] == [("serial", "/dev/ttyS0")]
    assert diff.nodes_added == ("carol",) and diff.nodes_removed == ()
    assert [p.name for p in diff.ping_added] == ["10.0.0.253"]
    assert [p.name for p in diff.ping_removed] == ["10.0.0.254"]
    assert "heartbeat medium removed: serial /dev/ttyS0" in diff.lines()


def test_a_changed_medium_is_removed_and_added() -> None:
    diff = diff_configs(config(), config(HA_CF.replace("bcast eth0", "udpport 695\nbcast eth0")))
    assert [m.port for m in diff.media_removed] == [694]
    assert [m.port for m in diff.media_added] == [695]
    assert diff.restart == ()


def test_respawn_stonith_and_restart_only_directives() -> None:
    new = (HA_CF.replace("respawn root /bin/true", "respawn root /bin/false")
           .replace("external/ssh alice bob", "external/ssh alice")
           .replace("/var/log/ha-log", "/var/log/other"))
    diff = diff_configs(config(), config(new))
    assert [s.command for s in diff.respawns_added] == ["/bin/false"]
    assert [s.command for s in diff.respawns_removed] == ["/bin/true"]
    assert diff.stonith_changed
    assert diff.restart == ("logfile",)
    assert "logfile changed: applies when the stack restarts" in diff.lines()


def test_three_step_key_rotation() -> None:
    step1 = "auth 1\n1 sha256 OldSecret\n2 sha256 NewSecret\n"
    step2 = "auth 2\n1 sha256 OldSecret\n2 sha256 NewSecret\n"
    step3 = "auth 2\n2 sha256 NewSecret\n"
    first = diff_configs(config(), config(authkeys=step1))
    assert first.keys_added == (2,) and first.signing is None
    second = diff_configs(config(authkeys=step1), config(authkeys=step2))
    assert second.signing == (1, 2) and not second.keys_added
    assert second.lines() == ["signing key 1 -> 2"]
    third = diff_configs(config(authkeys=step2), config(authkeys=step3))
    assert third.keys_removed == (1,) and third.keys_differ
    changed = diff_configs(config(), config(authkeys="auth 1\n1 sha256 Other\n"))
    assert changed.keys_changed == (1,)


def test_groups_added_removed_changed_unchanged() -> None:
    new = """\
alice IPaddr::10.0.0.10/24/eth0 httpd
bob IPaddr::10.0.0.11/24/eth0 smb nfs
alice IPaddr::10.0.0.12/24/eth0
"""
    diff = diff_configs(config(), config(haresources=new))
    assert diff.groups_unchanged == ("IPaddr::10.0.0.10/24/eth0",)
    assert [(old.key, [r.token for r in g.resources]) for old, g in diff.groups_changed] == [
        ("IPaddr::10.0.0.11/24/eth0", ["IPaddr::10.0.0.11/24/eth0", "smb", "nfs"])]
    assert [g.key for g in diff.groups_added] == ["IPaddr::10.0.0.12/24/eth0"]
    removed = diff_configs(config(haresources=new), config())
    assert [g.key for g in removed.groups_removed] == ["IPaddr::10.0.0.12/24/eth0"]
    assert "group IPaddr::10.0.0.12/24/eth0 removed: it stops" in removed.lines()
    moved_home = diff_configs(config(), config(haresources=HARESOURCES.replace("bob IP",
                                                                                "alice IP")))
    assert [g.node for _old, g in moved_home.groups_changed] == ["alice"]


def test_failure_timeout() -> None:
    diff = diff_configs(config(), config(HA_CF + "failure_timeout 10min\n"))
    assert diff.failure_timeout == (None, 600.0) and diff.restart == ()
    assert diff.lines("crmd") == ["failure_timeout off -> 600s"]
