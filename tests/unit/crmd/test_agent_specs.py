"""Argument parsing of the agent families, findif, ARP frames and the registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.bus.loop import Loop
from cluster.config.haresources import parse_resource
from cluster.crmd.agents.arp import garp_frames
from cluster.crmd.agents.filesystem import FilesystemAgent, FsSpec, mounted_devices, parse_fs_spec
from cluster.crmd.agents.ipaddr import IpAddressAgent, IpSpec, find_interface, parse_ip_spec
from cluster.crmd.agents.netlink import Address, Link
from cluster.crmd.agents.ocf import OcfAgent, parse_params_file
from cluster.crmd.agents.protocol import AgentPaths
from cluster.crmd.agents.registry import announces, make_agent
from cluster.crmd.agents.script import ScriptAgent

from .agentkit import FakeNetlink, RecordingArp


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("10.0.0.5", IpSpec("10.0.0.5")),
        ("10.0.0.5/24", IpSpec("10.0.0.5", 24)),
        ("10.0.0.5/24/eth0", IpSpec("10.0.0.5", 24, "eth0")),
        ("10.0.0.5/24/eth0/10.0.0.255", IpSpec("10.0.0.5", 24, "eth0", None, "10.0.0.255")),
        ("10.0.0.5/24/10.0.0.127", IpSpec("10.0.0.5", 24, None, None, "10.0.0.127")),
        ("10.0.0.5/eth1", IpSpec("10.0.0.5", None, "eth1")),
        ("10.0.0.5//eth1", IpSpec("10.0.0.5", None, "eth1")),
        ("10.0.0.5/255.255.255.0/eth0", IpSpec("10.0.0.5", 24, "eth0")),
        ("10.0.0.5/24/eth0:web", IpSpec("10.0.0.5", 24, "eth0", "web")),
        ("10.0.0.5/24/eth0:web/10.0.0.255", IpSpec("10.0.0.5", 24, "eth0", "web", "10.0.0.255")),
    ],
)
def test_ip_spec_formats(arg: str, expected: IpSpec) -> None:
    assert parse_ip_spec((arg,)) == expected


def test_ip_spec_arp_options() -> None:
    spec = parse_ip_spec(("10.0.0.5/24/eth0", "arp_count=3", "arp_interval=50"))
    assert (spec.arp_count, spec.arp_interval) == (3, 0.05)
    assert (parse_ip_spec(("10.0.0.5",)).arp_count, parse_ip_spec(("10.0.0.5",)).arp_interval) == (
        5,
        0.2,
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((), "no address"),
        (("10.0.0.300",), "bad address"),
        (("10.0.0.5/33",), "netmask bits"),
        (("10.0.0.5/24/eth0/10.0.0.255/x",), "too many"),
        (("10.0.0.5/24/eth0/nonsense",), "bad broadcast"),
        (("10.0.0.5/24/averyverylongname:label",), "bad interface"),
        (("10.0.0.5", "arp_count=many"), "arp_count"),
        (("10.0.0.5", "colour=blue"), "unknown option"),
        (("10.0.0.5", "arp_count"), "name=value"),
    ],
)
def test_ip_spec_errors(args: tuple[str, ...], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_ip_spec(args)


def _links() -> tuple[list[Link], list[Address]]:
    links = [
        Link(1, "lo", "00:00:00:00:00:00", True, True),
        Link(2, "eth0", "02:00:00:00:00:02", True, True),
        Link(3, "eth1", "02:00:00:00:00:03", True, True),
    ]
    addresses = [
        Address(1, "127.0.0.1", 8, "lo"),
        Address(2, "10.1.0.1", 16, "eth0"),
        Address(3, "10.1.2.1", 24, "eth1"),
    ]
    return links, addresses


def test_findif_prefers_the_longest_prefix_and_honours_a_named_interface() -> None:
    links, addresses = _links()
    found = find_interface("10.1.2.9", links, addresses, None)
    assert found is not None and (found[0].name, found[1]) == ("eth1", 24)
    found = find_interface("10.1.2.9", links, addresses, "eth0")
    assert found is not None and (found[0].name, found[1]) == ("eth0", 16)
    assert find_interface("192.168.1.1", links, addresses, None) is None
    assert find_interface("127.0.0.2", links, addresses, None) is None  # lo only when named
    found = find_interface("127.0.0.2", links, addresses, "lo")
    assert found is not None and found[0].name == "lo"


def test_fs_spec_and_mount_argv() -> None:
    spec = parse_fs_spec(("/dev/sdb1", "/srv/data/", "ext4", "noatime,ro"))
    assert spec == FsSpec("/dev/sdb1", "/srv/data", "ext4", "noatime,ro")
    argv = ("mount", "-t", "ext4", "-o", "noatime,ro", "/dev/sdb1", "/srv/data")
    assert spec.mount_argv() == argv
    assert parse_fs_spec(("-Ldata", "/srv")).mount_argv() == ("mount", "-L", "data", "/srv")
    assert parse_fs_spec(("LABEL=x", "/srv")).mount_argv() == ("mount", "LABEL=x", "/srv")
    for bad in (("/dev/sdb1",), ("/dev/sdb1", "srv"), ("a", "/b", "c", "d", "e")):
        with pytest.raises(ValueError):
            parse_fs_spec(bad)


def test_mounted_devices_reads_proc_mounts_with_escapes() -> None:
    mounts = (
        "proc /proc proc rw 0 0\n"
        "/dev/sdb1 /srv/my\\040data ext4 rw 0 0\n"
        "tmpfs /srv/my\\040data tmpfs rw 0 0\n"
    )
    assert mounted_devices("/srv/my data", mounts) == ["/dev/sdb1", "tmpfs"]
    assert mounted_devices("/srv", mounts) == []


def test_legacy_ocf_params_file() -> None:
    text = (
        "# web address\n"
        "ip=10.0.0.5\n"
        "export cidr_netmask='24'\n"
        'nic="eth0" iflabel=web  # trailing comment\n'
        "\n"
    )
    assert parse_params_file(text) == {
        "ip": "10.0.0.5",
        "cidr_netmask": "24",
        "nic": "eth0",
        "iflabel": "web",
    }
    for bad in ("ip", "ip='unterminated", "1x=2"):
        with pytest.raises(ValueError, match="line 1"):
            parse_params_file(bad)


def test_garp_frames_layout() -> None:
    request, reply = garp_frames("02:00:00:00:00:2a", "10.0.0.5")
    mac, ip = bytes.fromhex("02000000002a"), bytes([10, 0, 0, 5])
    for frame, op, target_mac in ((request, 1, b"\0" * 6), (reply, 2, mac)):
        assert len(frame) == 60
        assert frame[0:6] == b"\xff" * 6 and frame[6:12] == mac and frame[12:14] == b"\x08\x06"
        assert frame[14:22] == bytes([0, 1, 8, 0, 6, 4, 0, op])
        assert frame[22:28] == mac and frame[28:32] == ip  # sender
        assert frame[32:38] == target_mac and frame[38:42] == ip  # target = sender: gratuitous
    with pytest.raises(ValueError):
        garp_frames("02:00", "10.0.0.5")


def test_registry_picks_the_family(tmp_path: Path) -> None:
    loop = Loop()
    paths = AgentPaths(conf_dir=tmp_path)
    netlink, arp = FakeNetlink(), RecordingArp()

    def family(token: str) -> type:
        return type(make_agent(parse_resource(token), paths, loop, netlink, arp))

    try:
        assert family("10.0.0.5") is IpAddressAgent
        assert family("IPaddr2::10.0.0.5/24/eth0:web") is IpAddressAgent
        assert family("Filesystem::/dev/sdb1::/srv") is FilesystemAgent
        assert family("ocf:heartbeat:IPaddr2::ip=10.0.0.5") is OcfAgent
        assert family("OCF::IPaddr2::web") is OcfAgent
        assert family("httpd") is ScriptAgent
        agent = make_agent(parse_resource("OCF::IPaddr2::web"), paths, loop, netlink, arp)
        assert isinstance(agent, OcfAgent)
        assert agent.program == Path("/usr/lib/ocf/resource.d/heartbeat/IPaddr2")
    finally:
        loop.close()


def test_registry_says_which_agents_announce_an_address() -> None:
    yes = ("10.0.0.5", "IPaddr::10.0.0.5/24/eth0", "IPaddr2::10.0.0.5/24/eth0:web",
           "ocf:heartbeat:IPaddr2::ip=10.0.0.5", "OCF::IPaddr2::web")
    no = ("httpd", "Filesystem::/dev/sdb1::/srv", "ocf:heartbeat:apache", "OCF::apache::web",
          "ocf:acme:IPaddr2::ip=10.0.0.5")
    assert [announces(parse_resource(t)) for t in yes] == [True] * len(yes)
    assert [announces(parse_resource(t)) for t in no] == [False] * len(no)
