from __future__ import annotations

import contextlib
import subprocess
import sys

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cluster.bus import codec
from cluster.bus.messages.common import ErrorResult, OkResult, Ping
from cluster.bus.messages.hbcomm import LinkInfo, NodeInfo, NodesResult, SendToCluster


def test_round_trip_flat_message() -> None:
    msg = SendToCluster(mtype="ccm.join", body=b"\x00\x01", dest="node2")
    assert codec.decode(codec.encode(msg)) == msg


def test_round_trip_nested_messages_come_back_as_tuples() -> None:
    msg = NodesResult(local="a", generation=7, uptime=1.5, comm_up=True, nodes=(
        NodeInfo(name="a", status="active", type="normal",
                 links=(LinkInfo("eth0", "up"), LinkInfo("/dev/ttyS0", "dead"))),
    ))
    back = codec.decode(codec.encode(msg))
    assert back == msg
    assert isinstance(back.nodes, tuple) and isinstance(back.nodes[0].links, tuple)


def test_empty_message() -> None:
    assert codec.decode(codec.encode(Ping())) == Ping()


@pytest.mark.parametrize("envelope, why", [
    ({"v": 2, "t": "Ping", "b": {}}, "version"),
    ({"v": 1, "t": "NoSuchThing", "b": {}}, "unknown message type"),
    ({"v": 1, "t": "OkResult", "b": {"detail": "x", "extra": 1}}, "unknown field"),
    ({"v": 1, "t": "ErrorResult", "b": {"code": "x"}}, "ErrorResult"),
    ({"v": 1, "t": "Ping"}, "exactly v, t and b"),
    ([1, 2, 3], "exactly v, t and b"),
])
def test_rejects_bad_envelopes(envelope: object, why: str) -> None:
    with pytest.raises(codec.CodecError, match=why):
        codec.decode(msgpack.packb(envelope))


def test_refuses_to_encode_uncatalogued_objects() -> None:
    with pytest.raises(codec.CodecError):
        codec.encode(object())
    with pytest.raises(codec.CodecError):
        codec.encode(OkResult(detail=object()))  # type: ignore[arg-type]


@given(st.binary(max_size=512))
def test_garbage_only_ever_raises_codec_error(data: bytes) -> None:
    with contextlib.suppress(codec.CodecError):
        codec.decode(data)


@given(st.text(max_size=40), st.text(max_size=200))
def test_error_result_round_trip(code: str, message: str) -> None:
    msg = ErrorResult(code=code, message=message)
    assert codec.decode(codec.encode(msg)) == msg


_FRESH_DECODE = """
import sys
import msgpack
from cluster.bus import codec
from cluster.bus.messages.hbcomm import GetNodes
assert "cluster.bus.messages.mon" not in sys.modules, "the codec loaded every module"
msg = codec.decode(msgpack.packb({"v": 1, "t": "GetMonStatus", "b": {"service": "www"}}))
print(type(msg).__module__, msg.service, codec.decode(codec.encode(GetNodes())))
"""


def test_a_process_loads_only_the_messages_it_imports_until_another_tag_arrives() -> None:
    """A fresh interpreter, since this one has imported every message module."""
    done = subprocess.run([sys.executable, "-c", _FRESH_DECODE], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["cluster.bus.messages.mon", "www", "GetNodes()"]
