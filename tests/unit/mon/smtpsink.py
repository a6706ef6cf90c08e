"""A real SMTP server for tests (aiosmtpd on loopback), collecting messages in memory."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller


class _Collector:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode()
        with self.lock:
            self.messages.append(message_from_bytes(data))
        return "250 OK"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def smtp_sink(host: str = "127.0.0.1", port: int = 0) -> Iterator[tuple[int, list[Message]]]:
    """A running SMTP server on (host, `port` or a free one); yields (port, messages)."""
    collector = _Collector()
    port = port or free_port(host)
    controller = Controller(collector, hostname=host, port=port)
    controller.start()
    try:
        yield port, collector.messages
    finally:
        controller.stop()
