"""/proc parsing for the host view, on real text shapes and on this machine's /proc."""

from __future__ import annotations

from cluster.web.hostinfo import (
    HostReader,
    parse_cpu,
    parse_meminfo,
    parse_mounts,
    parse_netdev,
    parse_proc_stat,
)


def test_cpu_line() -> None:
    times = parse_cpu("cpu  100 5 50 800 20 1 2 3 0 0\ncpu0 50 2 25 400 10 0 1 1 0 0\n")
    assert times.total == 981 and times.busy == 981 - 820


def test_meminfo_in_bytes() -> None:
    mem = parse_meminfo("MemTotal:       16318412 kB\nMemAvailable:    8000000 kB\n"
                        "HugePages_Total:       0\n")
    assert mem["MemTotal"] == 16318412 * 1024 and mem["HugePages_Total"] == 0


def test_netdev_skips_loopback() -> None:
    text = ("Inter-|   Receive                                                |  Transmit\n"
            " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets\n"
            "    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0\n"
            "  eth0: 5000 50 0 0 0 0 0 0 7000 70 0 0 0 0 0 0\n")
    assert parse_netdev(text) == {"eth0": (5000, 7000)}


def test_process_name_with_spaces_and_parens() -> None:
    stat = "42 (cluster: (x) y) S 1 42 42 0 -1 4194560 1 0 0 0 7 3 0 0 20 0 1 0 9 1000 250 x"
    assert parse_proc_stat(stat) == ("cluster: (x) y", 10, 250)


def test_mounts_once_per_device_real_filesystems_only() -> None:
    text = ("proc /proc proc rw 0 0\n/dev/sda1 / ext4 rw 0 0\n"
            "/dev/sda1 /run/netns ext4 rw 0 0\n/dev/sdb1 /srv/my\\040data xfs rw 0 0\n")
    assert parse_mounts(text) == ["/", "/srv/my data"]


def test_this_machine() -> None:
    reader = HostReader("here")
    reader.sample()
    sample = reader.sample()
    assert sample.node == "here" and sample.cpus >= 1 and 0.0 <= sample.cpu <= 100.0
    assert 0 < sample.mem_used <= sample.mem_total
    assert sample.uptime > 0 and len(sample.top) <= 5 and sample.top
