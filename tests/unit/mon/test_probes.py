"""The tcp and http monitors against real servers on loopback."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from cluster.mon import probes
from cluster.mon.builtins import HttpOptions, TcpOptions

from .smtpsink import free_port

pytestmark = pytest.mark.integration

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handler: Handler) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _answer(status: str) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(f"HTTP/1.0 {status}\r\nContent-Length: 0\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    return handle


async def _hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # never answers
    writer.close()


def test_tcp_connect_open_and_closed_ports() -> None:
    async def scenario() -> None:
        server, port = await _serve(_hang)
        async with server:
            good = await probes.probe_tcp("127.0.0.1", TcpOptions(port=port, timeout=2))
            bad = await probes.probe_tcp("127.0.0.1", TcpOptions(port=free_port(), timeout=2))
        assert good.ok and good.rtt_ms is not None
        assert not bad.ok and "refused" in bad.note.lower()

    asyncio.run(scenario())


def test_http_status_expected_wrong_and_no_answer() -> None:
    async def scenario() -> None:
        ok_server, ok_port = await _serve(_answer("200 OK"))
        bad_server, bad_port = await _serve(_answer("503 Service Unavailable"))
        hang_server, hang_port = await _serve(_hang)
        async with ok_server, bad_server, hang_server:
            ok = await probes.probe_http("127.0.0.1", HttpOptions(port=ok_port))
            bad = await probes.probe_http("127.0.0.1", HttpOptions(port=bad_port))
            unavailable = HttpOptions(port=bad_port, expect=(503,))
            accepted = await probes.probe_http("127.0.0.1", unavailable)
            hung = await probes.probe_http("127.0.0.1", HttpOptions(port=hang_port, timeout=0.2))
        assert ok.ok and ok.note == "HTTP/1.0 200 OK"
        assert not bad.ok and "(expected 200)" in bad.note
        assert accepted.ok
        assert not hung.ok and "no HTTP answer within 0.2 s" in hung.note

    asyncio.run(scenario())


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")
def test_https_with_a_self_signed_certificate(tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def scenario() -> None:
        server = await asyncio.start_server(_answer("200 OK"), "127.0.0.1", 0, ssl=context)
        port = server.sockets[0].getsockname()[1]
        async with server:
            checked = await probes.probe_http("127.0.0.1", HttpOptions(port=port, tls=True))
            insecure = HttpOptions(port=port, tls=True, insecure=True)
            accepted = await probes.probe_http("127.0.0.1", insecure)
        assert not checked.ok and "TLS" in checked.note  # self-signed: refused by default
        assert accepted.ok and accepted.note == "HTTP/1.0 200 OK"

    asyncio.run(scenario())


def test_main_speaks_mons_monitor_contract(capsys: pytest.CaptureFixture[str]) -> None:
    closed = free_port()
    assert probes.main(["tcp", "-p", str(closed), "-t", "2", "127.0.0.1"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "127.0.0.1"
    assert out[1] == "TCP connect failed:"
    assert probes.main(["tcp", "-p", "80"]) == 0  # no hosts: nothing failed
    assert probes.main(["tcp"]) == 1
    assert "needs -p PORT" in capsys.readouterr().out
    assert probes.main(["ftp"]) == 1
