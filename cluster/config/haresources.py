"""``haresources`` -> resource groups: what runs where under Heartbeat's R1 resource manager.

Role: a pure parser. :func:`parse_haresources` takes the file's text, the name to
use in messages and the node list from ``ha.cf``, and returns one frozen
:class:`ResourceGroup` per logical line, in file order, or raises ``ConfigError``.
It does not look for the agent scripts (``/etc/ha.d/resource.d``, ``/etc/init.d``,
``/usr/lib/ocf/resource.d``): the resource executor does, when it runs them.

Grammar (reference section 2.1)::

    # preferred-node  resource  resource ...      (start order left to right)
    alice  IPaddr::192.168.85.3/24/eth0  Filesystem::/dev/sdb1::/srv::ext4  httpd
    bob    192.168.85.4 \\
           ocf:heartbeat:apache::configfile=/etc/apache2/apache2.conf

* ``#`` starts a comment anywhere; a ``\\`` at the end of a line joins the next one;
  errors name the line where the logical line started.
* The first field is a node named in ``ha.cf`` (lower-cased). The first resource is
  the group's *key* and must be unique in the file.
* A resource is ``agent`` or ``agent::arg::arg``. A bare address (anything matching
  Heartbeat's glob ``[0-9]*.[0-9]*.[0-9]*.[0-9]*``) means ``IPaddr::<address>``.
  ``ocf:PROVIDER:TYPE::name=value::name=value`` names an OCF agent directly (values
  cannot contain ``::``); the legacy ``OCF::agent::instance`` form is kept as agent
  ``OCF`` with its two arguments.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from cluster.config import values
from cluster.config.errors import ConfigError

__all__ = ["ResourceGroup", "ResourceSpec", "parse_haresources", "parse_resource"]

_BARE_IP = re.compile(r"[0-9].*\.[0-9].*\.[0-9].*\.[0-9].*", re.DOTALL)
_AGENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*", re.ASCII)
_OCF_AGENT = re.compile(r"ocf:([A-Za-z0-9_][A-Za-z0-9_.+-]*):([A-Za-z0-9_][A-Za-z0-9_.+-]*)",
                        re.ASCII)  # fmt: skip
_OCF_PARAM = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.ASCII | re.DOTALL)
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]", re.ASCII)


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    """One resource of a group, e.g. ``IPaddr::192.168.85.3/24/eth0``.

    ``token`` is the resource as written after the bare-IP rewrite; ``agent`` is the
    part before the first ``::`` (``IPaddr``, ``httpd``, ``ocf:heartbeat:IPaddr2``,
    ``OCF``); ``args`` the ``::``-separated rest. A script agent is run as
    ``<script> [args...] start|stop|status``.
    """

    token: str
    agent: str
    args: tuple[str, ...]

    @property
    def id(self) -> str:
        """A stable id for status output: ``token`` with characters outside
        ``[A-Za-z0-9_.:-]`` replaced by ``_`` (``IPaddr::192.168.85.3_24_eth0``)."""
        return _ID_UNSAFE.sub("_", self.token)

    @property
    def is_ocf(self) -> bool:
        """True for ``ocf:PROVIDER:TYPE`` agents (not the legacy ``OCF::`` wrapper)."""
        return self.agent.startswith("ocf:")

    @property
    def ocf_params(self) -> tuple[tuple[str, str], ...]:
        """For ``ocf:`` agents, the ``(name, value)`` pairs of ``args``; else empty."""
        if not self.is_ocf:
            return ()
        return tuple((name, value) for name, _, value in (a.partition("=") for a in self.args))


@dataclass(frozen=True, slots=True)
class ResourceGroup:
    """One ``haresources`` line: resources started left to right on ``node`` by preference.

    ``node`` is the preferred (home) node, lower-cased; ``line`` the line where the
    logical line starts. Stop order is the reverse of ``resources``.
    """

    node: str
    resources: tuple[ResourceSpec, ...]
    line: int

    @property
    def key(self) -> str:
        """Heartbeat's group key: the first resource's token."""
        return self.resources[0].token


def parse_haresources(text: str, source: str, nodes: Collection[str]) -> tuple[ResourceGroup, ...]:
    """Parse the text of a ``haresources`` file against ``ha.cf``'s node list."""
    known = {node.lower() for node in nodes}
    listed = ", ".join(nodes) if nodes else "no nodes"
    groups: list[ResourceGroup] = []
    keys: dict[str, int] = {}
    for number, content in _logical_lines(text):
        fields = [field for field in re.split(r"[ \t]+", content) if field]
        if not fields:
            continue
        try:
            node = values.node_name(fields[0])
        except values.BadValue as err:
            raise ConfigError(source, number, err.describe("the preferred node")) from None
        if node not in known:
            raise ConfigError(
                source, number, f"unknown node {fields[0]!r} in haresources (ha.cf lists: {listed})"
            )
        if len(fields) == 1:
            raise ConfigError(
                source, number, f"node {node!r} has no resources on this line "
                "(write: node resource1 resource2 ...)",
            )  # fmt: skip
        try:
            resources = tuple(parse_resource(field) for field in fields[1:])
        except ValueError as err:
            raise ConfigError(source, number, str(err)) from None
        group = ResourceGroup(node, resources, number)
        if group.key in keys:
            raise ConfigError(
                source, number, f"resource group key {group.key!r} is already used at line "
                f"{keys[group.key]} (the first resource of each line must be unique)",
            )  # fmt: skip
        keys[group.key] = number
        groups.append(group)
    return tuple(groups)


def parse_resource(token: str) -> ResourceSpec:
    """Parse one resource field; raises ``ValueError`` with an explanation."""
    if _BARE_IP.fullmatch(token):
        token = f"IPaddr::{token}"
    agent, *rest = token.split("::")
    args = tuple(rest)
    if not agent or "" in args:
        raise ValueError(f"empty field in resource {token!r} (check the '::' separators)")
    if agent.startswith("ocf:"):
        _check_ocf(token, agent, args)
    elif agent == "OCF":
        if len(args) != 2:
            raise ValueError(f"bad resource {token!r}: write OCF::agent::instance")
    elif _AGENT.fullmatch(agent) is None:
        raise ValueError(
            f"bad resource agent name {agent!r} in {token!r} "
            "(a script name from resource.d or init.d, or ocf:provider:type)"
        )
    elif agent in ("IPaddr", "IPaddr2"):
        _check_ip(token, args)
    return ResourceSpec(token, agent, args)


def _check_ocf(token: str, agent: str, args: tuple[str, ...]) -> None:
    if _OCF_AGENT.fullmatch(agent) is None:
        raise ValueError(f"bad OCF agent {agent!r} in {token!r} (write ocf:provider:type)")
    for arg in args:
        if _OCF_PARAM.fullmatch(arg) is None:
            raise ValueError(
                f"bad OCF parameter {arg!r} for {agent} (write name=value, e.g. ip=10.0.0.1)"
            )


def _check_ip(token: str, args: tuple[str, ...]) -> None:
    """``IPaddr::ip[/bits[/iface[/broadcast]]]``: check the address and the bits."""
    if not args:
        raise ValueError(f"resource {token!r} needs an address, e.g. IPaddr::10.0.0.1/24/eth0")
    address, *more = args[0].split("/")
    where = f"resource {token!r}"
    try:
        values.ipv4(address)
        if more and more[0] and not more[0][:1].isalpha():  # ip/eth0: no bits given
            bits = more[0]
            if "." in bits:
                values.ipv4(bits)
            else:
                values.integer(bits, 1, 32, "netmask bits")
    except values.BadValue as err:
        raise ValueError(err.describe(where)) from None


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield ``(first line number, text)`` per logical line, comments removed."""
    start: int | None = None
    parts: list[str] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.split("#", 1)[0].rstrip(" \t\r")
        if start is None:
            start = number
        if line.endswith("\\"):
            parts.append(line[:-1])
            continue
        parts.append(line)
        yield start, " ".join(parts)
        start, parts = None, []
    if start is not None:
        yield start, " ".join(parts)
