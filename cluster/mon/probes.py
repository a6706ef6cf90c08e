"""The built-in ``tcp`` and ``http``/``https`` monitors, as Mon monitor programs.

Role: ``python -m cluster.mon.probes tcp -p 22 host...`` (and ``http``,
``https``) probes every host at once and speaks Mon's monitor contract:
exit 0 when all is well, 1 otherwise; the first output line names the
failing hosts, the lines after it say what happened to each host. The daemon
runs it like any Mon script, under the service's timeout, so a server that
accepts and never answers cannot stall the daemon; inside, every host has
its own ``-t`` bound too. Options are checked by ``builtins.py`` (the same
parser reads ``mon.cf``).

TCP: success is an established connection. HTTP: ``GET <path>`` (HTTP/1.0,
``Connection: close``) and the status code must be one of ``-e``; with TLS
the certificate is verified against the host name unless ``-k``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import sys
import time
from collections.abc import Sequence

from cluster.mon.builtins import HttpOptions, TcpOptions, parse_monitor
from cluster.mon.outcome import HostResult, MonitorOutcome, host_report
from cluster.mon.values import BadValue

__all__ = ["main", "probe_http", "probe_tcp"]

_MAX_STATUS_LINE = 8192


async def probe_tcp(host: str, options: TcpOptions) -> HostResult:
    started = time.monotonic()
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, options.port), options.timeout
        )
    except TimeoutError:
        note = f"port {options.port}: no answer in {options.timeout:g} s"
        return HostResult(host, False, note=note)
    except OSError as err:
        return HostResult(host, False, note=f"port {options.port}: {_why(err)}")
    rtt = (time.monotonic() - started) * 1000.0
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return HostResult(host, True, rtt, f"port {options.port} open")


async def probe_http(host: str, options: HttpOptions) -> HostResult:
    try:
        return await asyncio.wait_for(_http(host, options), options.timeout)
    except TimeoutError:
        return HostResult(host, False, note=f"no HTTP answer within {options.timeout:g} s")
    except (OSError, ssl.SSLError) as err:
        return HostResult(host, False, note=f"port {options.port}: {_why(err)}")


def _why(err: OSError) -> str:
    """'Connection refused' rather than asyncio's 'Connect call failed (...)'."""
    if isinstance(err, ssl.SSLError):
        return f"TLS: {err.reason or err}"
    return os.strerror(err.errno) if err.errno else str(err)


async def _http(host: str, options: HttpOptions) -> HostResult:
    started = time.monotonic()
    context = None
    if options.tls:
        context = ssl.create_default_context()
        if options.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.open_connection(
        host, options.port, ssl=context, server_hostname=host if context else None
    )
    try:
        header = options.host_header or host
        request = (f"GET {options.path} HTTP/1.0\r\nHost: {header}\r\n"
                   "User-Agent: cluster-mon\r\nConnection: close\r\n\r\n")  # fmt: skip
        writer.write(request.encode("ascii", errors="replace"))
        await writer.drain()
        line = await reader.readline()
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    rtt = (time.monotonic() - started) * 1000.0
    text = line[:_MAX_STATUS_LINE].decode("latin-1").strip()
    parts = text.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return HostResult(host, False, rtt, f"not an HTTP answer: {text[:80]!r}")
    code = int(parts[1])
    ok = code in options.expect
    expected = ",".join(str(c) for c in options.expect)
    return HostResult(host, ok, rtt, text if ok else f"{text} (expected {expected})")


async def _run(
    kind: str, options: TcpOptions | HttpOptions, hosts: Sequence[str]
) -> MonitorOutcome:
    if isinstance(options, TcpOptions):
        results = await asyncio.gather(*(probe_tcp(host, options) for host in hosts))
        return host_report(results, what="TCP connect")
    results = await asyncio.gather(*(probe_http(host, options) for host in hosts))
    return host_report(results, what=kind.upper() + " GET")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m cluster.mon.probes tcp|http|https [options] host...``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in ("tcp", "http", "https"):
        print("usage: python -m cluster.mon.probes tcp|http|https [options] host...")
        return 1
    kind = args[0]
    try:
        parsed = parse_monitor(kind, args[1:])
    except BadValue as err:
        print(f"{kind} monitor: {err}")
        return 1
    assert parsed is not None
    options, hosts = parsed
    assert isinstance(options, TcpOptions | HttpOptions)
    if not hosts:
        print("")  # Mon: no hosts, nothing failed
        return 0
    outcome = asyncio.run(_run(kind, options, hosts))
    print(outcome.summary)
    if outcome.detail:
        print(outcome.detail)
    return outcome.retval


if __name__ == "__main__":
    sys.exit(main())
