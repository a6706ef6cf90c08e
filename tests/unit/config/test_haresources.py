"""haresources parsing: groups, continuation lines, rewrites, OCF forms, errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.config.errors import ConfigError
from cluster.config.haresources import (
    ResourceGroup,
    ResourceSpec,
    parse_haresources,
    parse_resource,
)

PATH = "/etc/ha.d/haresources"
NODES = ("node1", "node2")


def error(text: str, nodes: tuple[str, ...] = NODES) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_haresources(text, PATH, nodes)
    return info.value


def test_classic_line() -> None:
    (group,) = parse_haresources("node1 IPaddr::192.168.85.3/24/eth0 httpd smb\n", PATH, NODES)
    assert group == ResourceGroup(
        "node1",
        (
            ResourceSpec("IPaddr::192.168.85.3/24/eth0", "IPaddr", ("192.168.85.3/24/eth0",)),
            ResourceSpec("httpd", "httpd", ()),
            ResourceSpec("smb", "smb", ()),
        ),
        1,
    )
    assert group.key == "IPaddr::192.168.85.3/24/eth0"
    assert [r.id for r in group.resources] == ["IPaddr::192.168.85.3_24_eth0", "httpd", "smb"]


def test_continuation_comments_and_line_numbers() -> None:
    text = (
        "# web and file service\n"
        "\n"
        "NODE1 192.168.85.3 \\\n"
        "      Filesystem::/dev/sdb1::/srv::ext4 \\   \n"
        "\thttpd   # the web server\n"
        "node2 IPaddr2::10.0.0.9/24/eth0:web/10.0.0.255 \\\n"
        "  ocf:heartbeat:apache::configfile=/etc/apache2/apache2.conf::port=80\n"
    )
    first, second = parse_haresources(text, PATH, NODES)
    assert (first.node, first.line, second.line) == ("node1", 3, 6)
    assert [r.token for r in first.resources] == [
        "IPaddr::192.168.85.3", "Filesystem::/dev/sdb1::/srv::ext4", "httpd"
    ]  # fmt: skip
    assert first.resources[1].args == ("/dev/sdb1", "/srv", "ext4")
    ocf = second.resources[1]
    assert (ocf.agent, ocf.is_ocf) == ("ocf:heartbeat:apache", True)
    assert ocf.args == ("configfile=/etc/apache2/apache2.conf", "port=80")
    assert ocf.ocf_params == (("configfile", "/etc/apache2/apache2.conf"), ("port", "80"))
    assert second.resources[0].ocf_params == ()


def test_continuation_at_end_of_file_still_counts() -> None:
    (group,) = parse_haresources("node2 httpd \\", PATH, NODES)
    assert group.key == "httpd"


def test_legacy_ocf_wrapper_and_bare_ip_glob() -> None:
    assert parse_resource("OCF::apache::web1") == ResourceSpec(
        "OCF::apache::web1", "OCF", ("apache", "web1")
    )
    assert parse_resource("10.1.2.3/8/eth1/10.255.255.255").agent == "IPaddr"
    with pytest.raises(ValueError, match=r"'IPaddr::1\.2\.3\.4-tools'"):
        parse_resource("1.2.3.4-tools")  # matches the glob, so it is rewritten, then refused
    # Heartbeat's glob needs four dot-separated digit starts; a version-like name is not an IP.
    assert parse_resource("pkg-2.0.1").agent == "pkg-2.0.1"
    assert parse_resource("IPaddr::10.0.0.1/eth0").args == ("10.0.0.1/eth0",)
    assert parse_resource("IPaddr::10.0.0.1/255.255.255.0").agent == "IPaddr"


def test_empty_file_and_comment_only() -> None:
    assert parse_haresources("", PATH, NODES) == ()
    assert parse_haresources("# nothing\n\n   \n", PATH, NODES) == ()


def test_no_nodes_configured() -> None:
    assert str(error("node1 httpd", ())) == (
        f"{PATH}:1: unknown node 'node1' in haresources (ha.cf lists: no nodes)"
    )


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("# c\nnode3 httpd\n", 2,
         "unknown node 'node3' in haresources (ha.cf lists: node1, node2)"),
        ("node1\n", 1, "node 'node1' has no resources on this line "
         "(write: node resource1 resource2 ...)"),
        ("node1 httpd\n\nnode2 \\\n httpd smb\n", 3,
         "resource group key 'httpd' is already used at line 1 "
         "(the first resource of each line must be unique)"),
        ("node1 ocf:heartbeat:IPaddr2::ip\n", 1,
         "bad OCF parameter 'ip' for ocf:heartbeat:IPaddr2 (write name=value, e.g. ip=10.0.0.1)"),
        ("node1 \\\n ocf:heartbeat::ip=1\n", 1,
         "bad OCF agent 'ocf:heartbeat' in 'ocf:heartbeat::ip=1' (write ocf:provider:type)"),
        ("node1 OCF::apache\n", 1, "bad resource 'OCF::apache': write OCF::agent::instance"),
        ("node1 httpd::::x\n", 1,
         "empty field in resource 'httpd::::x' (check the '::' separators)"),
        ("node1 ../../bin/sh\n", 1, "bad resource agent name '../../bin/sh' in '../../bin/sh' "
         "(a script name from resource.d or init.d, or ocf:provider:type)"),
        ("node1 192.168.1.300/24\n", 1, "bad IPv4 address '192.168.1.300' for resource "
         "'IPaddr::192.168.1.300/24' (e.g. 192.168.1.10)"),
        ("node1 IPaddr2::10.0.0.1/33/eth0\n", 1, "bad netmask bits '33' for resource "
         "'IPaddr2::10.0.0.1/33/eth0' (must be from 1 to 32)"),
        ("node1 IPaddr\n", 1, "resource 'IPaddr' needs an address, e.g. IPaddr::10.0.0.1/24/eth0"),
        ("nöde httpd\n", 1, "bad node name 'nöde' for the preferred node (letters, digits, '.', "
         "'_' and '-', starting with a letter or digit)"),
    ],
)
def test_errors_name_path_and_starting_line(text: str, line: int, message: str) -> None:
    err = error(text)
    assert (err.path, err.line, err.message) == (PATH, line, message)


_WORDS = st.sampled_from(
    ["node1", "node2", "NODE2", "x", "httpd", "::", "IPaddr", "10.0.0.1", "/24", "ocf:a:b",
     "=", "p", "\\", "#", "\n", " ", "\t", "OCF", "1.2.3.4.5", "", "é", "\x00"]
)  # fmt: skip


@pytest.mark.slow
@settings(max_examples=300)
@given(st.one_of(st.text(max_size=200), st.lists(_WORDS, max_size=40).map("".join)))
def test_random_text_raises_only_config_error(text: str) -> None:
    try:
        groups = parse_haresources(text, PATH, NODES)
    except ConfigError as err:
        assert err.path == PATH and err.line is not None
    else:
        assert all(g.resources and g.node in NODES for g in groups)
        assert len({g.key for g in groups}) == len(groups)
