"""The ``web`` directive of ``ha.cf``: where cluster-web listens, and how.

    web 0.0.0.0:7630
    web [::]:7630 cert=/etc/ha.d/web.pem key=/etc/ha.d/web.key readonly=hamon

The first value is ``ADDRESS:PORT`` (IPv6 in brackets); ``cert=``/``key=`` name
a PEM certificate and key (both or neither: without them cluster-web makes a
self-signed pair in the state directory); ``readonly=`` names the group whose
members may look but not act (default ``haview``); ``tls=off`` serves plain
HTTP, which is refused unless the address is a loopback one.  Pure parsing:
nothing here touches files, groups or sockets.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from cluster.config import values

__all__ = ["DEFAULT_READONLY_GROUP", "WebListen", "parse_web"]

DEFAULT_READONLY_GROUP = "haview"
_ENDPOINT = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<v4>[0-9.]+)):(?P<port>[0-9]+)",
                       re.ASCII)
_GROUP = re.compile(r"[a-z_][a-z0-9_-]{0,31}", re.ASCII)
_OPTIONS = ("cert", "key", "readonly", "tls")


@dataclass(frozen=True, slots=True)
class WebListen:
    """Where and how cluster-web serves (see the module docstring)."""

    host: str
    port: int
    cert: str | None = None
    key: str | None = None
    readonly_group: str = DEFAULT_READONLY_GROUP
    tls: bool = True

    @property
    def loopback(self) -> bool:
        return ipaddress.ip_address(self.host).is_loopback


def _endpoint(text: str) -> tuple[str, int]:
    match = _ENDPOINT.fullmatch(text)
    if match is None:
        raise values.BadValue("listen address", text, "write ADDRESS:PORT, e.g. 0.0.0.0:7630 "
                              "or [::]:7630")
    host = values.ipv6(match["v6"]) if match["v6"] else values.ipv4(match["v4"])
    return host, values.port(match["port"])


def parse_web(args: list[str]) -> WebListen:
    """``web`` line values -> :class:`WebListen`; raises BadValue/ValueError."""
    host, port = _endpoint(args[0])
    options: dict[str, str] = {}
    for arg in args[1:]:
        name, sep, value = arg.partition("=")
        if not sep or name not in _OPTIONS or not value:
            raise ValueError(f"web: unknown option {arg!r} (use cert=PATH key=PATH "
                             "readonly=GROUP tls=on|off)")
        if name in options:
            raise ValueError(f"web: {name}= given twice")
        options[name] = value
    cert = options.get("cert")
    key = options.get("key")
    if (cert is None) != (key is None):
        raise ValueError("web: give cert= and key= together (or neither for a self-signed pair)")
    if cert is not None and key is not None:
        cert = values.absolute_path(cert, "certificate path")
        key = values.absolute_path(key, "key path")
    group = options.get("readonly", DEFAULT_READONLY_GROUP)
    if _GROUP.fullmatch(group) is None:
        raise values.BadValue("group name", group, "a Unix group name such as haview")
    tls = values.boolean(options.get("tls", "on"))
    listen = WebListen(host, port, cert, key, group, tls)
    if not tls and not listen.loopback:
        raise ValueError(f"web: plain HTTP (tls=off) is only allowed on a loopback address, "
                         f"not {host}")
    return listen
