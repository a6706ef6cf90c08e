"""hbcomm wire format: round trips, every rejection reason, and fuzzing of decode."""

from __future__ import annotations

import hashlib
import hmac
import struct
import zlib

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.config.authkeys import AuthKey, AuthKeys
from cluster.hbcomm.packet import (
    MAX_DATAGRAM,
    MINOR,
    Ack,
    BadSignature,
    Malformed,
    Message,
    Nak,
    Packet,
    PacketError,
    Rexmit,
    Shutdown,
    Status,
    TooLarge,
    VersionMismatch,
    decode,
    encode,
)

METHODS = {"crc": (0, 4), "md5": (1, 16), "sha1": (2, 20), "sha256": (3, 32)}


def keyring(method: str = "sha1", index: int = 1, secret: bytes = b"HI!") -> AuthKeys:
    key = AuthKey(index, method, b"" if method == "crc" else secret)
    return AuthKeys(index, {index: key}, "test-authkeys")


ALL_KEYS = AuthKeys(
    1,
    {i: AuthKey(i, m, b"" if m == "crc" else f"secret-{i}".encode())
     for i, m in enumerate(["crc", "sha1", "md5", "sha256"])},
    "test-authkeys",
)


def sample_packets() -> list[Packet]:
    return [
        Packet(src="alice", gen=7, seq=None, dest=None, ts=12.5,
               payload=Status(st="active", dt=30000, keepalive=1000, uptime=3.25, hiseq=4,
                              unacked=2)),
        Packet(src="alice", gen=7, seq=5, dest=None, ts=13.0,
               payload=Message(mtype="ccm.join", body=b"\x00\xffhello")),
        Packet(src="alice", gen=7, seq=6, dest="bob", ts=13.5, payload=Message("crmd.x", b"")),
        Packet(src="alice", gen=7, seq=7, dest=None, ts=14.0, payload=Shutdown()),
        Packet(src="bob", gen=3, seq=None, dest="alice", ts=1.0, payload=Rexmit(5, 9, 7)),
        Packet(src="alice", gen=7, seq=None, dest="bob", ts=1.0, payload=Nak(1, 2, "gone")),
        Packet(src="bob", gen=3, seq=None, dest="alice", ts=1.0, payload=Ack(ackseq=6, ogen=7)),
    ]


def sign(body: bytes, method: str, secret: bytes, index: int = 1,
         version: bytes = b"\x02\x01") -> bytes:
    """An independent writer of the documented layout, to craft hostile bodies."""
    code, _ = METHODS[method]
    signed = b"CHB" + version + body
    tail = bytes([index, code])
    if method == "crc":
        digest = zlib.crc32(signed + tail).to_bytes(4, "big")
    else:
        digest = hmac.new(secret, signed + tail, getattr(hashlib, method)).digest()
    return signed + digest + tail


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("packet", sample_packets(), ids=lambda p: p.type + str(p.seq))
def test_round_trip_every_method_and_type(method: str, packet: Packet) -> None:
    keys = keyring(method)
    assert decode(encode(packet, keys), keys) == packet


@pytest.mark.parametrize("method", sorted(METHODS))
def test_wire_layout_matches_the_docstring(method: str) -> None:
    keys = keyring(method, index=9)
    packet = sample_packets()[1]
    raw = encode(packet, keys)
    code, size = METHODS[method]
    assert raw[:5] == b"CHB\x02\x01"
    assert raw[-2:] == bytes([9, code])
    body = raw[5:-2 - size]
    assert msgpack.unpackb(body) == ["alice", 7, 5, "msg", None,
                                     {"mtype": "ccm.join", "body": b"\x00\xffhello"}, 13.0]
    assert sign(body, method, keys.active_key.secret, index=9) == raw


def sign_status(fields: bytes, method: str = "sha1", secret: bytes = b"HI!",
                major: int = 2, minor: int = 1) -> bytes:
    """An independent writer of the heartbeat's fixed layout."""
    code, _ = METHODS[method]
    signed = b"CHS" + bytes([major, minor]) + fields
    tail = bytes([1, code])
    return signed + hmac.new(secret, signed + tail, getattr(hashlib, method)).digest() + tail


def status_fields(src: bytes = b"alice", st: int = 1) -> bytes:
    return (bytes([st]) + struct.pack("!QdQQdQQ", 7, 12.5, 30000, 1000, 3.25, 4, 2)
            + bytes([len(src)]) + src)


def test_routine_heartbeat_has_the_fixed_layout_of_the_docstring() -> None:
    keys = keyring("sha1")
    raw = encode(sample_packets()[0], keys)
    assert raw == sign_status(status_fields())
    assert len(raw) == 63 + len("alice") + 20 + 2


def test_a_heartbeat_to_one_node_and_a_long_utf8_name_use_the_general_layout() -> None:
    keys = keyring("sha1")
    status = sample_packets()[0]
    to_bob = Packet(src="alice", gen=7, seq=None, dest="bob", ts=1.0, payload=status.payload)
    long_name = Packet(src="é" * 200, gen=7, seq=None, dest=None, ts=1.0,
                       payload=status.payload)
    for packet in (to_bob, long_name):
        raw = encode(packet, keys)
        assert raw[:5] == b"CHB\x02\x01"
        assert decode(raw, keys) == packet


@pytest.mark.parametrize(("major", "minor"), [(1, 0), (3, 3)])
def test_another_heartbeat_major_is_refused_naming_the_sender(major: int, minor: int) -> None:
    raw = sign_status(status_fields(), major=major, minor=minor)
    with pytest.raises(VersionMismatch,
                       match=rf"alice speaks hbcomm protocol {major}\.{minor}, this node 2\.1"):
        decode(raw, keyring("sha1"))


def test_a_newer_heartbeat_minor_is_accepted_and_its_extra_fields_ignored() -> None:
    raw = sign_status(status_fields() + b"new field", minor=2)
    assert decode(raw, keyring("sha1")) == sample_packets()[0]
    assert decode(raw, keyring("sha1")).minor == 2
    older = decode(sign_status(status_fields(), minor=0), keyring("sha1"))
    assert older == sample_packets()[0] and older.minor == 0
    same_minor = sign_status(status_fields() + b"new field", minor=1)
    with pytest.raises(Malformed, match="src length"):
        decode(same_minor, keyring("sha1"))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (status_fields(st=3), "unknown status code 3"),
        (status_fields(src=b"\xff\xfe"), "not valid UTF-8"),
        (status_fields()[:-2], "src length"),
        (status_fields(src=b""), "truncated"),
    ],
    ids=["state", "utf8", "short", "empty-src"],
)
def test_malformed_heartbeats(fields: bytes, reason: str) -> None:
    with pytest.raises(Malformed, match=reason):
        decode(sign_status(fields), keyring("sha1"))


def test_receiver_verifies_with_the_key_the_packet_names() -> None:
    sender = AuthKeys(2, ALL_KEYS.keys, "a")  # rotated to key 2 (md5)
    receiver = AuthKeys(1, ALL_KEYS.keys, "b")  # still signing with key 1
    packet = sample_packets()[1]
    assert decode(encode(packet, sender), receiver) == packet


def test_encode_refuses_oversized_packets_with_a_clear_message() -> None:
    big = Packet(src="a", gen=1, seq=1, dest=None, ts=0.0,
                 payload=Message("ccm.x", b"x" * MAX_DATAGRAM))
    with pytest.raises(TooLarge, match="MAX_DATAGRAM=60000"):
        encode(big, keyring())


def test_decode_refuses_oversized_datagrams() -> None:
    with pytest.raises(TooLarge):
        decode(b"CHB\x01" + b"\x00" * MAX_DATAGRAM, keyring())


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "truncated"),
        (b"CHB\x01\x01", "truncated"),
        (b"XYZ\x01" + b"\x00" * 40, "bad magic"),
        (b"CHB\x01" + b"\x00" * 3 + b"\x01\x02", "truncated"),  # sha1 digest cannot fit
    ],
)
def test_malformed_framing(raw: bytes, reason: str) -> None:
    with pytest.raises(Malformed, match=reason):
        decode(raw, keyring())


def _wire_body(packet: Packet, extra: tuple[object, ...] = (), **payload: object) -> bytes:
    fields = {name: getattr(packet.payload, name) for name in packet.payload.__slots__}
    fields.update(payload)
    for name in [n for n, v in fields.items() if v is _DROP]:
        del fields[name]
    return msgpack.packb([packet.src, packet.gen, packet.seq, packet.type, packet.dest, fields,
                          packet.ts, *extra], use_bin_type=True)


_DROP = object()


@pytest.mark.parametrize(("version", "major", "minor"),
                         [(b"\x01", 1, 0), (b"\x03\x01", 3, 1), (b"\x00\x07", 0, 7)])
def test_another_major_is_refused_naming_the_sender_and_both_versions(
        version: bytes, major: int, minor: int) -> None:
    keys = keyring("sha256")
    raw = sign(_wire_body(sample_packets()[0]), "sha256", keys.active_key.secret,
               version=version)
    with pytest.raises(VersionMismatch) as caught:
        decode(raw, keys)
    assert (caught.value.peer, caught.value.major, caught.value.minor) == ("alice", major, minor)
    assert str(caught.value) == f"alice speaks hbcomm protocol {major}.{minor}, this node 2.1"


def test_another_major_with_a_wrong_key_is_a_bad_signature_and_names_nobody() -> None:
    raw = sign(_wire_body(sample_packets()[0]), "sha256", b"not ours", version=b"\x03\x00")
    with pytest.raises(BadSignature):
        decode(raw, keyring("sha256"))
    unreadable = sign(b"\xc1", "sha256", keyring("sha256").active_key.secret, version=b"\x03\x00")
    with pytest.raises(VersionMismatch) as caught:
        decode(unreadable, keyring("sha256"))
    assert caught.value.peer is None and "a node speaks" in str(caught.value)


def test_a_newer_minor_is_accepted_its_additions_ignored() -> None:
    keys = keyring("sha256")
    packet = sample_packets()[0]
    body = _wire_body(packet, extra=("from 2.5",), future=[1, 2])
    assert decode(sign(body, "sha256", keys.active_key.secret, version=b"\x02\x05"),
                  keys) == packet


def test_a_field_with_a_default_may_be_missing_from_another_minor_only() -> None:
    keys = keyring("sha256")
    packet = next(p for p in sample_packets() if isinstance(p.payload, Status))
    body = _wire_body(packet, unacked=_DROP)
    other = decode(sign(body, "sha256", keys.active_key.secret, version=b"\x02\x00"), keys)
    assert isinstance(other.payload, Status) and other.payload.unacked == 0
    with pytest.raises(Malformed, match="exactly the fields"):
        decode(sign(body, "sha256", keys.active_key.secret), keys)
    required_missing = _wire_body(packet, dt=_DROP)
    with pytest.raises(Malformed, match="exactly the fields"):
        decode(sign(required_missing, "sha256", keys.active_key.secret, version=b"\x02\x00"),
               keys)


def test_bad_signature_reasons() -> None:
    keys = keyring("sha1", index=1)
    raw = encode(sample_packets()[1], keys)
    with pytest.raises(BadSignature, match="unknown key index 3"):
        decode(raw[:-2] + bytes([3, 2]), keys)
    with pytest.raises(BadSignature, match="key 1 is sha1"):
        decode(raw[:-2] + bytes([1, 1]), keys)
    with pytest.raises(BadSignature, match="unknown auth method code 9"):
        decode(raw[:-1] + b"\x09", keys)
    flipped = bytearray(raw)
    flipped[10] ^= 0x01
    with pytest.raises(BadSignature, match="digest mismatch"):
        decode(bytes(flipped), keys)
    with pytest.raises(BadSignature, match="digest mismatch"):
        decode(raw, keyring("sha1", index=1, secret=b"other"))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (b"\xc1", "not msgpack"),
        (msgpack.packb([1, 2, 3]), "7-element array"),
        (msgpack.packb({"src": "a"}), "7-element array"),
        (msgpack.packb(["a", 1, None, "bogus", None, {}, 1.0]), "unknown packet type"),
        (msgpack.packb(["a", 1, 1, "shutdown", None, {"x": 1}, 1.0]), "exactly the fields"),
        (msgpack.packb(["a", 1, 1, "shutdown", None, {}, 1]), "floats on the wire"),
        (msgpack.packb(["a", 1, None, "shutdown", None, {}, 1.0]), "shutdown.seq"),
        (msgpack.packb(["a", 1, 4, "ack", "b", {"ackseq": 1, "ogen": 1, "acks": []}, 1.0]),
         "unsequenced"),
        (msgpack.packb(["a", True, 1, "shutdown", None, {}, 1.0]), "gen must be an integer"),
        (msgpack.packb(["a", -1, 1, "shutdown", None, {}, 1.0]), "gen must be an integer"),
        (msgpack.packb(["", 1, 1, "shutdown", None, {}, 1.0]), "src must be a string"),
        (msgpack.packb(["a", 1, 1, "shutdown", 5, {}, 1.0]), "dest must be a string"),
        (msgpack.packb(["a", 1, 1, "shutdown", None, {}, float("nan")]), "finite"),
        (msgpack.packb(["a", 1, 1, "msg", None, {"mtype": "m", "body": "str"}, 1.0]),
         "body must be bytes"),
        (msgpack.packb(["a", 1, None, "status", None,
                        {"st": ["up"], "dt": 1, "keepalive": 1, "uptime": 1.0, "hiseq": 0,
                         "unacked": 0}, 1.0]),
         "status.st"),
        (msgpack.packb(["a", 1, None, "rexmit", "b",
                        {"firstseq": 5, "lastseq": 4, "ogen": 1}, 1.0]), "lastseq 4 < firstseq 5"),
    ],
)
def test_malformed_bodies_are_rejected_after_authentication(fields: bytes, reason: str) -> None:
    with pytest.raises(Malformed, match=reason):
        decode(sign(fields, "sha1", b"HI!"), keyring())


def test_constructors_validate_too() -> None:
    with pytest.raises(Malformed):
        Packet(src="a", gen=1, seq=None, dest=None, payload=Message("m", b""), ts=0.0)
    with pytest.raises(Malformed):
        Status(st="zombie", dt=1, keepalive=1, uptime=0.0, hiseq=0)
    assert Packet(src="a", gen=1, seq=2, dest=None, payload=Shutdown(), ts=3).ts == 3.0


# -- fuzzing: decode lets nothing but PacketError escape -------------------------------------

def _decode_or_error(raw: bytes, keys: AuthKeys) -> Packet | PacketError:
    try:
        return decode(raw, keys)
    except PacketError as err:
        assert err.reason
        return err


@settings(max_examples=400)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes(raw: bytes) -> None:
    assert isinstance(_decode_or_error(raw, ALL_KEYS), PacketError)


@settings(max_examples=300)
@given(st.binary(max_size=64), st.sampled_from(sorted(METHODS)))
def test_fuzz_random_bytes_behind_a_valid_header_and_trailer(middle: bytes, method: str) -> None:
    code, _ = METHODS[method]
    raw = b"CHB\x01" + middle + bytes([1, code])
    assert isinstance(_decode_or_error(raw, ALL_KEYS), PacketError)


@settings(max_examples=300)
@given(st.sampled_from(sample_packets()), st.sampled_from(sorted(METHODS)), st.data())
def test_fuzz_truncations_are_rejected(packet: Packet, method: str, data: st.DataObject) -> None:
    keys = keyring(method)
    raw = encode(packet, keys)
    cut = data.draw(st.integers(0, len(raw) - 1))
    assert isinstance(_decode_or_error(raw[:cut], keys), PacketError)


@pytest.mark.slow
@settings(max_examples=500)
@given(st.sampled_from(sample_packets()), st.sampled_from(sorted(METHODS)), st.data())
def test_fuzz_bit_flips_are_rejected(packet: Packet, method: str, data: st.DataObject) -> None:
    keys = keyring(method)
    raw = bytearray(encode(packet, keys))
    bits = data.draw(st.sets(st.integers(0, len(raw) * 8 - 1), min_size=1, max_size=3))
    for bit in bits:
        raw[bit // 8] ^= 1 << (bit % 8)
    result = _decode_or_error(bytes(raw), keys)
    # CRC-32 and the HMACs catch every flip of up to three bits in a packet this small
    assert isinstance(result, PacketError)


@settings(max_examples=200)
@given(st.sampled_from(sample_packets()), st.binary(min_size=1, max_size=16))
def test_fuzz_wrong_key_is_rejected(packet: Packet, secret: bytes) -> None:
    raw = encode(packet, keyring("sha256", secret=b"right"))
    result = _decode_or_error(raw, keyring("sha256", secret=b"wrong" + secret))
    assert isinstance(result, BadSignature)


@settings(max_examples=50)
@given(st.integers(MAX_DATAGRAM + 1, MAX_DATAGRAM + 5000))
def test_fuzz_oversized_is_rejected(size: int) -> None:
    assert isinstance(_decode_or_error(b"CHB\x01" + b"\x00" * (size - 4), ALL_KEYS), TooLarge)


_scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1)
            | st.floats(allow_nan=True) | st.text(max_size=8) | st.binary(max_size=8))
_msgpack_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=8)
    | st.dictionaries(st.text(max_size=8), inner, max_size=6),
    max_leaves=6,
)
_field_values = st.sampled_from(
    ["a", "status", "msg", "rexmit", "nak", "ack", "shutdown", "up",
     0, 1, 2**64 - 1, None, 1.5, b""]
) | _msgpack_values


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.lists(_field_values, min_size=6, max_size=8),
       st.dictionaries(st.sampled_from(["st", "dt", "keepalive", "uptime", "hiseq", "mtype",
                                        "body", "firstseq", "lastseq", "ogen", "info", "ackseq",
                                        "unacked"]),
                       _field_values, max_size=6))
def test_fuzz_signed_hostile_bodies(fields: list[object], payload: dict[str, object]) -> None:
    """Authenticated garbage reaches the parser and validator: still only PacketError."""
    if len(fields) > 5:
        fields[5] = payload
    result = _decode_or_error(sign(msgpack.packb(fields), "md5", b"HI!"), keyring("md5"))
    if isinstance(result, Packet):  # only if it happened to be valid: then it round-trips
        assert decode(encode(result, keyring("md5")), keyring("md5")) == result


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_fuzz_signed_random_bodies(body: bytes) -> None:
    assert isinstance(_decode_or_error(sign(body, "crc", b""), keyring("crc")), PacketError)


_names = st.text(min_size=1, max_size=12)
_uint = st.integers(0, 2**64 - 1)
_seq = st.integers(1, 2**64 - 1)
_ts = st.floats(allow_nan=False, allow_infinity=False)
_payloads = st.one_of(
    st.builds(Status, st=st.sampled_from(["up", "active", "dead"]), dt=_uint, keepalive=_uint,
              uptime=st.floats(allow_nan=False, allow_infinity=False), hiseq=_uint,
              unacked=_uint),
    st.builds(Message, mtype=_names, body=st.binary(max_size=100)),
    st.builds(Shutdown),
    st.builds(Rexmit, firstseq=st.just(1), lastseq=_seq, ogen=_uint),
    st.builds(Nak, firstseq=st.just(1), lastseq=_seq, info=st.text(max_size=20)),
    st.builds(Ack, ackseq=_uint, ogen=_uint),
)


@pytest.mark.slow
@settings(max_examples=300)
@given(_names, _uint, _seq, st.none() | _names, _payloads, _ts, st.sampled_from(sorted(METHODS)))
def test_round_trip_property(src: str, gen: int, seq: int, dest: str | None, payload: object,
                             ts: float, method: str) -> None:
    assert isinstance(payload, Status | Message | Shutdown | Rexmit | Nak | Ack)
    sequenced = isinstance(payload, Message | Shutdown)
    packet = Packet(src=src, gen=gen, seq=seq if sequenced else None, dest=dest,
                    payload=payload, ts=ts)
    keys = keyring(method)
    assert decode(encode(packet, keys), keys) == packet


def test_text_that_msgpack_cannot_write_is_malformed_not_a_crash() -> None:
    with pytest.raises(Malformed, match="UTF-8"):
        Packet(src="bad\udc80", gen=1, seq=1, dest=None, payload=Shutdown(), ts=0.0)
    assert Nak(1, 1, "").info == ""


def test_a_broadcast_ack_round_trips_and_names_each_origin() -> None:
    keys = keyring("sha256")
    ack = Ack(0, 0, (("bob", 7, 12), ("carol", 3, 1)))
    packet = Packet(src="alice", gen=5, seq=None, dest=None, ts=2.0, payload=ack)
    back = decode(encode(packet, keys), keys)
    assert back == packet and back.minor == MINOR
    assert isinstance(back.payload, Ack) and back.payload.for_origin("bob", 7) == 12
    assert back.payload.for_origin("bob", 6) is None
    assert back.payload.for_origin("dave", 7) is None


@pytest.mark.parametrize("acks", [[["bob", 7]], [["", 1, 1]], [["bob", -1, 1]], "bob", [5]])
def test_a_malformed_broadcast_ack_is_rejected(acks: object) -> None:
    keys = keyring("sha256")
    body = msgpack.packb(["alice", 5, None, "ack", None,
                          {"ackseq": 0, "ogen": 0, "acks": acks}, 2.0])
    with pytest.raises(Malformed, match=r"ack\.acks"):
        decode(sign(body, "sha256", keys.active_key.secret), keys)
