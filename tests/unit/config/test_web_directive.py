"""The ``web`` line of ha.cf: address, options, and errors that name the line."""

from __future__ import annotations

import pytest

from cluster.config.errors import ConfigError
from cluster.config.hacf import parse_hacf
from cluster.config.web import DEFAULT_READONLY_GROUP, WebListen

BASE = "bcast eth0\nnode alice bob\nauto_failback off\nlogfile /var/log/ha-log\n"


def _web(line: str) -> WebListen | None:
    return parse_hacf(BASE + line + "\n", "ha.cf").web


def test_absent_means_no_dashboard() -> None:
    assert parse_hacf(BASE, "ha.cf").web is None


def test_address_and_defaults() -> None:
    assert _web("web 0.0.0.0:7630") == WebListen("0.0.0.0", 7630)
    listen = _web("web [::]:7630 readonly=hamon")
    assert listen is not None and listen.host == "::" and listen.readonly_group == "hamon"
    assert _web("web 10.0.0.1:443").readonly_group == DEFAULT_READONLY_GROUP  # type: ignore[union-attr]


def test_certificate_pair() -> None:
    listen = _web("web 0.0.0.0:7630 cert=/etc/ha.d/web.pem key=/etc/ha.d/web.key")
    assert listen is not None and (listen.cert, listen.key) == ("/etc/ha.d/web.pem",
                                                                "/etc/ha.d/web.key")


def test_plain_http_on_loopback_only() -> None:
    listen = _web("web 127.0.0.1:8080 tls=off")
    assert listen is not None and not listen.tls and listen.loopback
    with pytest.raises(ConfigError, match=r"ha\.cf:5: .*only allowed on a loopback"):
        _web("web 0.0.0.0:8080 tls=off")


@pytest.mark.parametrize(("line", "problem"), [
    ("web 7630", "ADDRESS:PORT"),
    ("web 0.0.0.0:99999", "port"),
    ("web 300.1.1.1:80", "IPv4"),
    ("web 0.0.0.0:7630 cert=/a.pem", "together"),
    ("web 0.0.0.0:7630 colour=blue", "unknown option"),
    ("web 0.0.0.0:7630 cert=relative.pem key=/k", "absolute"),
    ("web 0.0.0.0:7630 readonly=Bad!Group", "group"),
])
def test_bad_lines_name_the_line(line: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=rf"ha\.cf:5: .*{problem}"):
        _web(line)


def test_only_once() -> None:
    with pytest.raises(ConfigError, match=r"ha\.cf:6: web may be given only once"):
        _web("web 0.0.0.0:1\nweb 0.0.0.0:2")
