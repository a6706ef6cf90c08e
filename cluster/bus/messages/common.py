"""Replies and probes every daemon understands."""

from __future__ import annotations

from dataclasses import dataclass

from cluster.bus.catalogue import message


@message
@dataclass(frozen=True, slots=True)
class Ping:
    """Are you alive and answering?  Every control socket replies PingResult."""


@message
@dataclass(frozen=True, slots=True)
class PingResult:
    daemon: str
    pid: int
    uptime: float


@message
@dataclass(frozen=True, slots=True)
class OkResult:
    """A request was carried out; `detail` says how, for people."""

    detail: str = ""


@message
@dataclass(frozen=True, slots=True)
class ErrorResult:
    """A request failed.  `code` is a stable word for scripts, `message` is for people."""

    code: str
    message: str
