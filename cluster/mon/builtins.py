"""The built-in monitors and alerts, and their options as ``mon.cf`` spells them.

Role: decide whether the name on a ``monitor`` or ``alert`` line is one of
ours, and check its arguments when the configuration is read (so a typo is a
``path:line`` error at start-up, not a failure at 3 a.m.). Pure: words in,
frozen option objects out; ``BadValue`` on anything wrong.

Built-in monitor names are reserved words; every other name is a Mon script
looked up in ``mondir``. Options follow the Mon script they replace, so
switching ``fping.monitor -t 200 -r 1`` to ``icmp -t 200 -r 1`` just works:

``icmp [-t ms] [-r retries] [-B backoff] [-s slow-ms] [-a]``
    ICMP echo to every host at once from one socket (the fping job).
``tcp -p port [-t seconds]``
    A TCP connect to every host.
``http [-p port] [-u path] [-e status[,status]] [-t seconds] [-H host] [-T] [-k]``
    ``https`` is the same with TLS (``-T``) and port 443; ``-k`` skips
    certificate checks.
``cluster [-N] [-R] [-t seconds]``
    The cluster's own view from crmd: the group's hosts are node names
    (``;;`` = every node crmd knows); a node that is not online fails, and so
    does a failed resource. ``-N``: nodes only, ``-R``: resources only.

Built-in alert: ``mail [-f sender] recipient...`` sends over SMTP (server,
port and default sender from ``mon.cf`` globals or the command line).
"""

from __future__ import annotations

import getopt
from collections.abc import Sequence
from dataclasses import dataclass

from cluster.mon.values import BadValue

__all__ = [
    "MONITORS",
    "BuiltinMonitor",
    "ClusterOptions",
    "HttpOptions",
    "IcmpOptions",
    "MailOptions",
    "TcpOptions",
    "parse_alert",
    "parse_monitor",
]

MONITORS = frozenset({"icmp", "tcp", "http", "https", "cluster"})
ALERTS = frozenset({"mail"})
_MAX_TIMEOUT = 3600.0


@dataclass(frozen=True, slots=True)
class IcmpOptions:
    timeout_ms: float = 500.0   # first wait for a reply (fping -t)
    retries: int = 2            # extra echoes to a silent host (fping -r)
    backoff: float = 1.5        # each retry waits this much longer (fping -B)
    slow_ms: float | None = None  # a reply slower than this counts as a failure
    all_down: bool = False      # fail only when every host is unreachable

    @property
    def budget(self) -> float:
        """Seconds a round takes at most when a host never answers."""
        total, wait = 0.0, self.timeout_ms / 1000.0
        for _ in range(self.retries + 1):
            total += wait
            wait *= self.backoff
        return total


@dataclass(frozen=True, slots=True)
class TcpOptions:
    port: int
    timeout: float = 5.0


@dataclass(frozen=True, slots=True)
class HttpOptions:
    port: int
    path: str = "/"
    expect: tuple[int, ...] = (200,)
    timeout: float = 10.0
    host_header: str | None = None
    tls: bool = False
    insecure: bool = False


@dataclass(frozen=True, slots=True)
class ClusterOptions:
    nodes: bool = True
    resources: bool = True
    timeout: float = 5.0


@dataclass(frozen=True, slots=True)
class MailOptions:
    recipients: tuple[str, ...]
    sender: str | None = None


BuiltinMonitor = IcmpOptions | TcpOptions | HttpOptions | ClusterOptions


def parse_monitor(name: str, args: Sequence[str]) -> tuple[BuiltinMonitor, list[str]] | None:
    """Options of built-in monitor `name` and the words after them (the hosts,
    when a probe program parses its own command line); None if not built in."""
    if name == "icmp":
        return _icmp(args)
    if name == "tcp":
        return _tcp(args)
    if name in ("http", "https"):
        return _http(args, tls=name == "https")
    if name == "cluster":
        return _cluster(args)
    return None


def parse_alert(name: str, args: Sequence[str]) -> MailOptions | None:
    """Options of built-in alert `name`; None when it is not built in."""
    if name != "mail":
        return None
    opts, rest = _getopt(name, args, "f:")
    sender = opts.get("-f")
    if not rest:
        raise BadValue("alert mail needs at least one recipient")
    for word in [*rest, *([sender] if sender else [])]:
        if not word or any(ch.isspace() or ch in "<>,;" for ch in word):
            raise BadValue(f"bad mail address {word!r}")
    return MailOptions(recipients=tuple(rest), sender=sender)


def _icmp(args: Sequence[str]) -> tuple[IcmpOptions, list[str]]:
    opts, rest = _getopt("icmp", args, "t:r:B:s:a")
    timeout = _number(opts.get("-t", "500"), "-t (milliseconds)", 1.0, _MAX_TIMEOUT * 1000)
    retries = int(_number(opts.get("-r", "2"), "-r (retries)", 0, 20, whole=True))
    backoff = _number(opts.get("-B", "1.5"), "-B (backoff factor)", 1.0, 5.0)
    slow = opts.get("-s")
    return IcmpOptions(
        timeout_ms=timeout,
        retries=retries,
        backoff=backoff,
        slow_ms=None if slow is None else _number(slow, "-s (milliseconds)", 0.001, 1e6),
        all_down="-a" in opts,
    ), rest


def _tcp(args: Sequence[str]) -> tuple[TcpOptions, list[str]]:
    opts, rest = _getopt("tcp", args, "p:t:")
    if "-p" not in opts:
        raise BadValue("monitor tcp needs -p PORT")
    return TcpOptions(
        port=_port(opts["-p"]),
        timeout=_number(opts.get("-t", "5"), "-t (seconds)", 0.001, _MAX_TIMEOUT),
    ), rest


def _http(args: Sequence[str], *, tls: bool) -> tuple[HttpOptions, list[str]]:
    opts, rest = _getopt("https" if tls else "http", args, "p:u:e:t:H:Tk")
    tls = tls or "-T" in opts
    path = opts.get("-u", "/")
    if not path.startswith("/") or any(ch.isspace() for ch in path):
        raise BadValue(f"bad URL path {path!r} for -u (it starts with /, no spaces)")
    expect = tuple(
        int(_number(word, "-e (HTTP status)", 100, 599, whole=True))
        for word in opts.get("-e", "200").split(",")
    )
    host = opts.get("-H")
    if host is not None and (not host or any(ch.isspace() for ch in host)):
        raise BadValue(f"bad host header {host!r} for -H")
    return HttpOptions(
        port=_port(opts.get("-p", "443" if tls else "80")),
        path=path,
        expect=expect,
        timeout=_number(opts.get("-t", "10"), "-t (seconds)", 0.001, _MAX_TIMEOUT),
        host_header=host,
        tls=tls,
        insecure="-k" in opts,
    ), rest


def _cluster(args: Sequence[str]) -> tuple[ClusterOptions, list[str]]:
    opts, rest = _getopt("cluster", args, "NRt:")
    nodes_only, resources_only = "-N" in opts, "-R" in opts
    if nodes_only and resources_only:
        raise BadValue("monitor cluster: -N (nodes only) and -R (resources only) conflict")
    return ClusterOptions(
        nodes=not resources_only,
        resources=not nodes_only,
        timeout=_number(opts.get("-t", "5"), "-t (seconds)", 0.001, 600),
    ), rest


def _getopt(name: str, args: Sequence[str], spec: str) -> tuple[dict[str, str], list[str]]:
    try:
        pairs, rest = getopt.getopt(list(args), spec)
    except getopt.GetoptError as err:
        raise BadValue(f"{name}: {err}") from None
    return dict(pairs), rest


def _number(text: str, what: str, low: float, high: float, *, whole: bool = False) -> float:
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        raise BadValue(f"bad value {text!r} for {what}") from None
    if not low <= value <= high:
        raise BadValue(f"value {text!r} for {what} must be between {low:g} and {high:g}")
    return float(value)


def _port(text: str) -> int:
    return int(_number(text, "-p (port)", 1, 65535, whole=True))
