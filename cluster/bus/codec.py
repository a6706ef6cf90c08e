"""Versioned msgpack envelope for every IPC message.

Wire shape: a msgpack map ``{"v": VERSION, "t": tag, "b": {field: value}}``.
Nested messages (a view's member list, a status snapshot's resources) travel
as msgpack extension type 1 holding the same ``[tag, fields]`` pair.  Lists
decode as tuples, because messages are immutable.  Anything unexpected (a
newer version, an unknown tag, a missing or unknown field, bytes that are not
msgpack) raises :class:`CodecError`; nothing else escapes ``decode``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import msgpack

from cluster.bus import catalogue

VERSION = 1
_EXT_MESSAGE = 1
MAX_MESSAGE = 16 * 1024 * 1024


class CodecError(ValueError):
    """A message that cannot be encoded or decoded; the text says why."""


def _to_wire(value: object) -> Any:
    if catalogue.is_message(value):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}  # type: ignore[arg-type]
        inner = msgpack.packb([type(value).__name__, fields], default=_to_wire, use_bin_type=True)
        return msgpack.ExtType(_EXT_MESSAGE, inner)
    if isinstance(value, frozenset | set):
        return sorted(value)
    raise TypeError(f"cannot send a {type(value).__name__} over the bus")


def _from_ext(code: int, data: bytes) -> object:
    if code != _EXT_MESSAGE:
        raise CodecError(f"unknown msgpack extension type {code}")
    pair = msgpack.unpackb(data, ext_hook=_from_ext, use_list=False, raw=False,
                           strict_map_key=False)
    if not isinstance(pair, tuple) or len(pair) != 2:
        raise CodecError("nested message is not a [tag, fields] pair")
    return _build(pair[0], pair[1])


def _build(tag: object, body: object) -> object:
    if not isinstance(tag, str):
        raise CodecError("message tag is not a string")
    cls = catalogue.lookup(tag)
    if cls is None:
        raise CodecError(f"unknown message type {tag!r}")
    if not isinstance(body, dict):
        raise CodecError(f"{tag}: body is not a map")
    expected = catalogue.field_names(tag)
    unknown = set(body) - expected
    if unknown:
        raise CodecError(f"{tag}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    try:
        return cls(**body)
    except TypeError as err:
        raise CodecError(f"{tag}: {err}") from None


def encode(msg: object) -> bytes:
    """Serialise one catalogued message."""
    if not catalogue.is_message(msg):
        raise CodecError(f"{type(msg).__name__} is not a catalogued message")
    fields = {f.name: getattr(msg, f.name) for f in dataclasses.fields(msg)}  # type: ignore[arg-type]
    try:
        data: bytes = msgpack.packb({"v": VERSION, "t": type(msg).__name__, "b": fields},
                                    default=_to_wire, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as err:
        raise CodecError(f"{type(msg).__name__}: {err}") from None
    return data


def decode(data: bytes) -> Any:
    """Parse bytes into a catalogued message or raise CodecError."""
    if len(data) > MAX_MESSAGE:
        raise CodecError(f"message of {len(data)} bytes exceeds the {MAX_MESSAGE} byte limit")
    try:
        env = msgpack.unpackb(data, ext_hook=_from_ext, use_list=False, raw=False,
                              strict_map_key=False)
    except CodecError:
        raise
    except Exception as err:  # msgpack raises a zoo of types on garbage
        raise CodecError(f"not a msgpack envelope: {type(err).__name__}") from None
    if not isinstance(env, dict) or set(env) != {"v", "t", "b"}:
        raise CodecError("envelope must be a map with exactly v, t and b")
    if env["v"] != VERSION:
        raise CodecError(f"envelope version {env['v']!r} is not {VERSION}")
    return _build(env["t"], env["b"])
