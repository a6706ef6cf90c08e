"""Configuration: Heartbeat's ``/etc/ha.d`` files as frozen dataclasses.

Pure parsers (text in, values out, ``ConfigError`` with ``path:line`` on failure):
``hacf.parse_hacf``, ``haresources.parse_haresources``, ``authkeys.parse_authkeys``,
with the value converters in ``values``. ``confdir.load_config`` is the only code
that reads the files; daemons call it once at start (and on reload).

Layout: ``errors`` (ConfigError), ``values`` (converters, FrozenDict), ``directives``
(the table of every ha.cf directive), ``media`` (Medium, PingNode), ``commands``
(RespawnSpec, StonithHost), ``hacf``, ``haresources``, ``authkeys``, ``confdir``.
"""

from __future__ import annotations

from cluster.config.authkeys import AuthKey, AuthKeys, parse_authkeys
from cluster.config.confdir import ClusterConfig, describe, legacy_daemon, load_config
from cluster.config.errors import ConfigError
from cluster.config.hacf import HaConfig, Medium, PingNode, RespawnSpec, StonithHost, parse_hacf
from cluster.config.haresources import ResourceGroup, ResourceSpec, parse_haresources

__all__ = [
    "AuthKey",
    "AuthKeys",
    "ClusterConfig",
    "ConfigError",
    "HaConfig",
    "Medium",
    "PingNode",
    "ResourceGroup",
    "ResourceSpec",
    "RespawnSpec",
    "StonithHost",
    "describe",
    "legacy_daemon",
    "load_config",
    "parse_authkeys",
    "parse_hacf",
    "parse_haresources",
]
