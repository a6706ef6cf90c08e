"""hbcomm wire format: one authenticated datagram per cluster packet.

Role: turn a :class:`Packet` into signed bytes (:func:`encode`) and back
(:func:`decode`). Pure functions, no sockets, no clocks; the shell
(``hbcomm/service.py``) sends the bytes on every medium and feeds what it
receives back here. ``decode`` raises only :class:`PacketError` subclasses,
whatever the input.

Wire layout (protocol 2.1, all integers unsigned, one byte unless noted)::

    offset   size  field
    0        3     magic b"CHB"
    3        1     major version = 2
    4        1     minor version = 1
    5        N     body: msgpack array [src, gen, seq, type, dest, payload, ts]
    5+N      D     digest (crc 4, md5 16, sha1 20, sha256 32 bytes)
    5+N+D    1     key index (authkeys index, 0..15)
    6+N+D    1     method code (0 crc, 1 md5, 2 sha1, 3 sha256)

Versions.  Nodes of one major version form a cluster whatever their minors;
another major is refused (:class:`VersionMismatch`, which names the sender
and both versions, so the shell can log it once for that peer).  What no
major may change: the magic, the major byte at offset 3, the trailer (digest,
key index, method code, and what the digest covers) and a body that is a
msgpack array starting with the sender's name; so a refused packet is still
authenticated before its sender is named.  Protocol 1 (before versions had
minors) had no minor byte: its body starts at offset 4.  A minor may add
elements to the end of the body and fields with defaults to a payload: a
newer sender's extras are ignored, an older sender's missing fields take
their defaults.  A new packet type needs a new major.

The routine heartbeat (a ``status`` to everyone) has a fixed layout of its
own, so the path that runs every keepalive on every node never builds a
msgpack map (integers big-endian; ``Q`` 8 bytes, ``d`` an IEEE double)::

    offset   size  field
    0        3     magic b"CHS"
    3        1     protocol major = 2, as above
    4        1     protocol minor = 1 (a newer minor may append fields after src)
    5        1     st: 0 up, 1 active, 2 dead
    6        8 Q   gen
    14       8 d   ts
    22       8 Q   dt (ms)
    30       8 Q   keepalive (ms)
    38       8 d   uptime (s)
    46       8 Q   hiseq
    54       8 Q   unacked
    62       1     length L of src
    63       L     src, UTF-8
    63+L     D+2   digest, key index, method code as above

The digest covers header + body + key index + method code, i.e. every byte
except the digest itself, so a flipped index or method byte fails too. md5,
sha1 and sha256 are HMACs keyed with the authkeys secret; crc is CRC-32 of
the same bytes (integrity only: anyone can forge it). The receiver verifies
with the key the packet names, so keys can be rotated (reference 4.4, minus
Heartbeat's netstring quirk). Verification happens before msgpack sees a
byte: unauthenticated input never reaches the parser.

Packet types (``Packet.type`` comes from the payload class):

=========  ==========  ====================================================
type       sequenced   payload (wire keys)
=========  ==========  ====================================================
status     no          :class:`Status`: st (up|active|dead), dt (deadtime,
                       ms), keepalive (ms), uptime (s), hiseq (highest seq
                       this sender has used in this generation), unacked
                       (how many of them some live peer has not acked yet)
msg        yes         :class:`Message`: mtype (e.g. "ccm.join"), body
shutdown   yes         :class:`Shutdown`: none; the sender is leaving
rexmit     no          :class:`Rexmit`: firstseq, lastseq, ogen (the origin
                       generation the seqs belong to); dest = origin
nak        no          :class:`Nak`: firstseq, lastseq, info; dest = requester
ack        no          :class:`Ack`: ackseq, ogen; dest = origin; or, from
                       minor 1, dest = everyone and acks = [[origin, ogen,
                       ackseq], ...]: one ack for every peer heard
=========  ==========  ====================================================

Sequenced packets carry ``seq`` >= 1 from one per-generation counter and are
retransmitted on request; the others carry ``seq=None`` and are never
retransmitted. Heartbeats are deliberately unsequenced (unlike Heartbeat): a
lost heartbeat is not worth resending; ``hiseq`` lets a receiver notice lost
tail messages, and ``ts`` (the sender's monotonic clock) orders heartbeats of
one generation (see ``peers.py``). ``gen`` is the sender's generation,
persisted by the shell and bumped at every start (reference 4.6).

Minor 1 added ``Ack.acks``: a node acks every peer in one broadcast ack per
interval instead of one ack per peer, so acks grow as N per node, not N²
(``peers.py``).  A 2.0 node ignores such an ack (it is not addressed to it),
so a 2.1 node keeps acking peers that speak 2.0 one by one: it learns a
peer's minor from the peer's packets (:attr:`Packet.minor`).
"""

from __future__ import annotations

import dataclasses
import hmac
import math
import struct
import zlib
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar, Final

import msgpack  # type: ignore[import-untyped, unused-ignore]

from cluster.config.authkeys import AuthKeys

__all__ = [
    "MAGIC",
    "MAJOR",
    "MAX_DATAGRAM",
    "MINOR",
    "PACKET_TYPES",
    "SEQUENCED_TYPES",
    "Ack",
    "BadSignature",
    "Malformed",
    "Message",
    "Nak",
    "Packet",
    "PacketError",
    "Payload",
    "Rexmit",
    "Shutdown",
    "Status",
    "TooLarge",
    "VersionMismatch",
    "decode",
    "encode",
]

MAGIC: Final = b"CHB"
MAJOR: Final = 2
MINOR: Final = 1
#: Largest datagram we send or accept: below the 65,507-byte UDP payload limit
#: with room for IP options and tunnels (reference 4.1: one datagram = one message).
MAX_DATAGRAM: Final = 60_000
_HEADER: Final = MAGIC + bytes([MAJOR, MINOR])
_MAX_UINT: Final = 2**64 - 1
_MAX_NAME: Final = 255
_METHODS: Final = MappingProxyType({"crc": 0, "md5": 1, "sha1": 2, "sha256": 3})
_DIGEST_SIZE: Final = MappingProxyType({0: 4, 1: 16, 2: 20, 3: 32})
_HASHES: Final = MappingProxyType({1: "md5", 2: "sha1", 3: "sha256"})
_STATES: Final = frozenset({"up", "active", "dead"})
_STATUS_MAGIC: Final = b"CHS"
_STATUS: Final = struct.Struct("!3sBBBQdQQdQQB")
_STATE_CODES: Final = MappingProxyType({"up": 0, "active": 1, "dead": 2})
_STATE_NAMES: Final = ("up", "active", "dead")


class PacketError(Exception):
    """A packet that cannot be encoded or decoded; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Malformed(PacketError):
    """Not our format, a version we do not speak, or fields out of range."""


class BadSignature(PacketError):
    """Unknown key index, method not matching that key, or digest mismatch."""


class TooLarge(PacketError):
    """Bigger than :data:`MAX_DATAGRAM`."""


class VersionMismatch(PacketError):
    """An authenticated packet of another major protocol version.

    ``peer`` is the sender's name when its body could be read (else None).
    """

    def __init__(self, peer: str | None, major: int, minor: int) -> None:
        self.peer, self.major, self.minor = peer, major, minor
        super().__init__(f"{peer or 'a node'} speaks hbcomm protocol {major}.{minor}, "
                         f"this node {MAJOR}.{MINOR}")


def _uint(where: str, value: object, low: int = 0) -> None:
    if type(value) is not int or not low <= value <= _MAX_UINT:
        raise Malformed(f"{where} must be an integer >= {low}, got {value!r:.40}")


def _text(where: str, value: object, empty: bool = False) -> None:
    low = 0 if empty else 1
    if type(value) is not str or not low <= len(value) <= _MAX_NAME:
        raise Malformed(f"{where} must be a string of {low}..{_MAX_NAME} characters, "
                        f"got {value!r:.40}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: msgpack could not write them
        raise Malformed(f"{where} is not valid UTF-8 text: {value!r:.40}") from None


def _real(where: str, value: object) -> None:
    if type(value) is not float or not math.isfinite(value):
        raise Malformed(f"{where} must be a finite float, got {value!r:.40}")


def _range(where: str, first: int, last: int) -> None:
    _uint(f"{where}.firstseq", first, 1)
    _uint(f"{where}.lastseq", last, 1)
    if last < first:
        raise Malformed(f"{where}: lastseq {last} < firstseq {first}")


@dataclass(frozen=True, slots=True)
class Status:
    """Heartbeat: the sender is alive; ``dt``/``keepalive`` in ms, ``uptime`` in s."""

    TYPE: ClassVar[str] = "status"
    st: str
    dt: int
    keepalive: int
    uptime: float
    hiseq: int
    unacked: int = 0

    def __post_init__(self) -> None:
        if type(self.st) is not str or self.st not in _STATES:
            raise Malformed(f"status.st must be one of {sorted(_STATES)}, got {self.st!r:.40}")
        _uint("status.dt", self.dt)
        _uint("status.keepalive", self.keepalive)
        if type(self.uptime) is int:
            object.__setattr__(self, "uptime", float(self.uptime))
        _real("status.uptime", self.uptime)
        _uint("status.hiseq", self.hiseq)
        _uint("status.unacked", self.unacked)


@dataclass(frozen=True, slots=True)
class Message:
    """A cluster message for a local daemon; ``mtype`` names it (``ccm.join``)."""

    TYPE: ClassVar[str] = "msg"
    mtype: str
    body: bytes

    def __post_init__(self) -> None:
        _text("msg.mtype", self.mtype)
        if type(self.body) is not bytes:
            raise Malformed(f"msg.body must be bytes, got {type(self.body).__name__}")


@dataclass(frozen=True, slots=True)
class Shutdown:
    """The sender is leaving the cluster gracefully (sequenced, so it is ordered)."""

    TYPE: ClassVar[str] = "shutdown"


@dataclass(frozen=True, slots=True)
class Rexmit:
    """Please resend seqs ``firstseq..lastseq`` of your generation ``ogen``."""

    TYPE: ClassVar[str] = "rexmit"
    firstseq: int
    lastseq: int
    ogen: int

    def __post_init__(self) -> None:
        _range("rexmit", self.firstseq, self.lastseq)
        _uint("rexmit.ogen", self.ogen)


@dataclass(frozen=True, slots=True)
class Nak:
    """The origin can no longer resend ``firstseq..lastseq``; ``info`` says why."""

    TYPE: ClassVar[str] = "nak"
    firstseq: int
    lastseq: int
    info: str

    def __post_init__(self) -> None:
        _range("nak", self.firstseq, self.lastseq)
        _text("nak.info", self.info, empty=True)


@dataclass(frozen=True, slots=True)
class Ack:
    """I hold everything up to ``ackseq`` of your generation ``ogen``.

    A broadcast ack (minor 1) carries ``acks``, ``(origin, ogen, ackseq)`` for
    every peer; its own ``ackseq`` and ``ogen`` are 0.
    """

    TYPE: ClassVar[str] = "ack"
    ackseq: int
    ogen: int
    acks: tuple[tuple[str, int, int], ...] = ()

    def __post_init__(self) -> None:
        _uint("ack.ackseq", self.ackseq)
        _uint("ack.ogen", self.ogen)
        acks: object = self.acks
        if type(acks) is list:  # from the wire
            acks = tuple(tuple(entry) if type(entry) is list else entry for entry in acks)
            object.__setattr__(self, "acks", acks)
        if type(acks) is not tuple:
            raise Malformed(f"ack.acks must be a list, got {acks!r:.40}")
        for entry in acks:
            if type(entry) is not tuple or len(entry) != 3:
                raise Malformed(f"ack.acks entries are [origin, ogen, ackseq], got {entry!r:.40}")
            _text("ack.acks origin", entry[0])
            _uint("ack.acks ogen", entry[1])
            _uint("ack.acks ackseq", entry[2])

    def for_origin(self, origin: str, ogen: int) -> int | None:
        """The ackseq this broadcast ack holds for ``origin``'s generation ``ogen``."""
        for name, gen, seq in self.acks:
            if name == origin and gen == ogen:
                return seq
        return None


Payload = Status | Message | Shutdown | Rexmit | Nak | Ack
_PAYLOADS: Final = MappingProxyType(
    {cls.TYPE: cls for cls in (Status, Message, Shutdown, Rexmit, Nak, Ack)}
)
#: Every packet type, as ``Packet.type`` names it.
PACKET_TYPES: Final = tuple(_PAYLOADS)
#: Types that carry a ``seq`` and are kept for retransmission.
SEQUENCED_TYPES: Final = frozenset({Message.TYPE, Shutdown.TYPE})


@dataclass(frozen=True, slots=True)
class Packet:
    """One datagram's content. Construct with keywords; invalid fields raise Malformed.

    ``dest`` None means every node. ``ts`` is the sender's monotonic clock at send
    time (ints are accepted and stored as float). ``minor`` is the protocol minor
    the sender speaks (:func:`decode` sets it; not compared).
    """

    src: str
    gen: int
    seq: int | None
    dest: str | None
    payload: Payload
    ts: float
    minor: int = dataclasses.field(default=MINOR, compare=False)

    def __post_init__(self) -> None:
        _text("src", self.src)
        _uint("gen", self.gen)
        if not isinstance(self.payload, tuple(_PAYLOADS.values())):
            raise Malformed(f"payload must be one of {sorted(_PAYLOADS)}, got {self.payload!r:.40}")
        if self.type in SEQUENCED_TYPES:
            _uint(f"{self.type}.seq", self.seq, 1)
        elif self.seq is not None:
            raise Malformed(f"{self.type} packets are unsequenced: seq must be None")
        if self.dest is not None:
            _text("dest", self.dest)
        if type(self.ts) is int:
            object.__setattr__(self, "ts", float(self.ts))
        _real("ts", self.ts)

    @property
    def type(self) -> str:
        return self.payload.TYPE

    @property
    def sequenced(self) -> bool:
        return self.seq is not None


def _digest(code: int, secret: bytes, data: bytes) -> bytes:
    if code == 0:
        return zlib.crc32(data).to_bytes(4, "big")
    return hmac.digest(secret, data, _HASHES[code])


def _payload_to_wire(payload: Payload) -> dict[str, object]:
    return {name: getattr(payload, name) for name in payload.__slots__}


def encode(packet: Packet, keys: AuthKeys) -> bytes:
    """Serialize and sign ``packet`` with ``keys.active_key``.

    Raises :class:`TooLarge` above :data:`MAX_DATAGRAM` and :class:`BadSignature`
    if the active key's method or index cannot be expressed on the wire.
    """
    key = keys.active_key
    code = _METHODS.get(key.method)
    if code is None:
        raise BadSignature(f"active key {key.index} uses unsupported method {key.method!r}")
    if not 0 <= key.index <= 255:
        raise BadSignature(f"key index {key.index} does not fit in one byte")
    payload = packet.payload
    src = packet.src.encode()
    if type(payload) is Status and packet.dest is None and len(src) <= _MAX_NAME:
        signed = _STATUS.pack(_STATUS_MAGIC, MAJOR, MINOR, _STATE_CODES[payload.st],
                              packet.gen, packet.ts, payload.dt, payload.keepalive,
                              payload.uptime, payload.hiseq, payload.unacked, len(src)) + src
    else:
        signed = _HEADER + msgpack.packb(
            [packet.src, packet.gen, packet.seq, packet.type, packet.dest,
             _payload_to_wire(payload), packet.ts],
            use_bin_type=True,
        )
    tail = bytes((key.index, code))
    raw = signed + _digest(code, key.secret, signed + tail) + tail
    if len(raw) > MAX_DATAGRAM:
        raise TooLarge(
            f"{packet.type} packet from {packet.src} is {len(raw)} bytes, over "
            f"MAX_DATAGRAM={MAX_DATAGRAM}; split the message body"
        )
    return raw


def decode(raw: bytes, keys: AuthKeys) -> Packet:
    """Verify and parse one datagram; raises only :class:`PacketError` subclasses."""
    if type(raw) is not bytes:
        if not isinstance(raw, bytes | bytearray | memoryview):
            raise Malformed(f"expected bytes, got {type(raw).__name__}")
        raw = bytes(raw)
    if len(raw) > MAX_DATAGRAM:
        raise TooLarge(f"datagram of {len(raw)} bytes exceeds MAX_DATAGRAM={MAX_DATAGRAM}")
    if len(raw) < len(_HEADER) + 2:
        raise Malformed(f"truncated: {len(raw)} bytes")
    magic = raw[:3]
    if magic == _STATUS_MAGIC:
        start = _STATUS.size
    elif magic == MAGIC:
        start = len(_HEADER)
    else:
        raise Malformed("bad magic: not an hbcomm packet")
    index, code = raw[-2], raw[-1]
    size = _DIGEST_SIZE.get(code)
    if size is None:
        raise BadSignature(f"unknown auth method code {code}")
    end = len(raw) - 2 - size
    if end <= start:
        raise Malformed(f"truncated: {len(raw)} bytes")
    key = keys.keys.get(index)
    if key is None:
        raise BadSignature(f"unknown key index {index}")
    if _METHODS.get(key.method) != code:
        raise BadSignature(f"key {index} is {key.method}, packet claims method code {code}")
    expected = _digest(code, key.secret, raw[:end] + raw[-2:])
    if not hmac.compare_digest(expected, raw[end:-2]):
        raise BadSignature(f"digest mismatch (key {index}, {key.method})")
    major, minor = raw[3], raw[4]
    if major != MAJOR:
        raise VersionMismatch(_sender(raw, magic, major, end), major,
                              0 if magic == MAGIC and major == 1 else minor)
    if magic == _STATUS_MAGIC:
        return _parse_status(raw, end)
    return _parse_body(raw[start:end], minor)


def _parse_status(raw: bytes, end: int) -> Packet:
    """The fixed heartbeat layout; ``raw[:end]`` is verified (header included)."""
    (_magic, _major, minor, st, gen, ts, dt, keepalive, uptime, hiseq, unacked,
     length) = _STATUS.unpack_from(raw)
    src_end = _STATUS.size + length
    if src_end > end or (src_end < end and minor <= MINOR):
        raise Malformed(f"status body of {end} bytes does not match its src length {length}")
    if st >= len(_STATE_NAMES):
        raise Malformed(f"unknown status code {st}")
    try:
        src = raw[_STATUS.size:src_end].decode()
    except UnicodeDecodeError:
        raise Malformed("src is not valid UTF-8") from None
    return Packet(src=src, gen=gen, seq=None, dest=None, ts=ts, minor=minor, payload=Status(
        st=_STATE_NAMES[st], dt=dt, keepalive=keepalive, uptime=uptime, hiseq=hiseq,
        unacked=unacked))


def _sender(raw: bytes, magic: bytes, major: int, end: int) -> str | None:
    """The sender's name in a verified packet of another major, if readable: every
    major keeps it first in a CHB body (at offset 4 in protocol 1, which had no minor
    byte) and after its length byte at the end of a CHS header."""
    if magic == _STATUS_MAGIC:
        if end <= _STATUS.size:
            return None
        name = raw[_STATUS.size:min(end, _STATUS.size + raw[_STATUS.size - 1])]
        return name.decode(errors="replace") or None
    body = raw[4 if major == 1 else len(_HEADER):end]
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=len(body) + 1)
    unpacker.feed(body)
    try:
        unpacker.read_array_header()
        src = unpacker.unpack()
    except Exception:  # any msgpack error: the name stays unknown
        return None
    return src if type(src) is str and 0 < len(src) <= _MAX_NAME else None


def _parse_body(body: bytes, minor: int = MINOR) -> Packet:
    try:
        fields = msgpack.unpackb(body, raw=False, use_list=True, strict_map_key=True)
    except Exception as exc:  # msgpack raises many kinds; our contract is PacketError only
        raise Malformed(f"body is not msgpack: {type(exc).__name__}") from None
    newer = minor > MINOR
    if type(fields) is not list or not (len(fields) >= 7 if newer else len(fields) == 7):
        raise Malformed("body must be a 7-element array")
    src, gen, seq, ptype, dest, wire_payload, ts = fields[:7]
    cls = _PAYLOADS.get(ptype) if type(ptype) is str else None
    if cls is None:
        raise Malformed(f"unknown packet type {ptype!r:.40}")
    if type(wire_payload) is not dict or not _fields_fit(cls, set(wire_payload), minor):
        raise Malformed(f"{ptype} payload must have exactly the fields {sorted(cls.__slots__)}")
    # The constructors accept ints for floats; the wire does not (encode writes floats).
    if type(ts) is not float or type(wire_payload.get("uptime", 0.0)) is not float:
        raise Malformed("ts and uptime must be floats on the wire")
    known = {name: value for name, value in wire_payload.items() if name in cls.__slots__}
    payload = cls(**known)
    return Packet(src=src, gen=gen, seq=seq, dest=dest, payload=payload, ts=ts, minor=minor)


def _fields_fit(cls: type[Payload], names: set[object], minor: int) -> bool:
    """Exactly the payload's fields from our minor; from another, every field without
    a default (an older sender) and maybe more (a newer one)."""
    slots = set(cls.__slots__)
    if minor == MINOR:
        return names == slots
    required = {f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    return required <= names and (minor > MINOR or names <= slots)
