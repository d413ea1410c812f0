"""rpc: serializers behind one interface, the committed protobuf code in step with its .proto,
and gRPC's wire pieces (message prefix, grpc-timeout, percent-encoded messages, metadata)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labsupport.rpc import grpcwire
from labsupport.rpc.errors import MessageTooLarge, RpcError, Status, StatusCode
from labsupport.rpc.proto import interop_pb2 as pb
from labsupport.rpc.serializers import get_serializer

ORDER = {"symbol": "ACME", "side": "buy", "qty": 100, "price": 101.25, "tags": ["a", "b"]}


@pytest.mark.parametrize("name", ["msgpack", "json"])
def test_schemaless_round_trip(name):
    ser = get_serializer(name)
    assert ser.decode(ser.encode(ORDER)) == ORDER


def test_msgpack_keeps_bytes_and_is_smaller_than_json():
    mp, js = get_serializer("msgpack"), get_serializer("json")
    assert mp.decode(mp.encode({"b": b"\x00\xff"})) == {"b": b"\x00\xff"}
    assert len(mp.encode(ORDER)) < len(js.encode(ORDER))


def test_protobuf_round_trip_needs_the_class():
    ser = get_serializer("proto")
    msg = pb.SimpleRequest(response_size=7, payload=pb.Payload(body=b"abc"))
    assert ser.decode(ser.encode(msg), pb.SimpleRequest) == msg
    with pytest.raises(RpcError, match="needs the message class"):
        ser.decode(b"", None)


@pytest.mark.parametrize("name,blob", [("msgpack", b"\xc1"), ("json", b"{nope"),
                                       ("proto", b"\xff\xff\xff")])
def test_bad_payload_is_invalid_argument(name, blob):
    with pytest.raises(RpcError) as info:
        get_serializer(name).decode(blob, pb.SimpleRequest)
    assert info.value.code == StatusCode.INVALID_ARGUMENT


def test_unknown_serializer():
    with pytest.raises(RpcError, match="unknown serializer 'xml'"):
        get_serializer("xml")


def _schema(proto):  # the schema itself, without what protoc versions fill in differently
    for message in proto.message_type:
        for f in message.field:
            f.ClearField("json_name")
    return proto


def test_committed_protobuf_code_matches_the_proto(tmp_path):
    pytest.importorskip("grpc_tools")
    from google.protobuf import descriptor_pb2
    from grpc_tools import protoc

    from labsupport.rpc.protogen import PROTO_DIR
    out = tmp_path / "interop.pb"
    assert protoc.main(["protoc", f"-I{PROTO_DIR}", f"--descriptor_set_out={out}",
                        str(PROTO_DIR / "interop.proto")]) == 0
    fresh = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file[0]
    committed = descriptor_pb2.FileDescriptorProto.FromString(pb.DESCRIPTOR.serialized_pb)
    assert _schema(fresh) == _schema(committed), (
        "interop_pb2.py is stale: run python -m labsupport.rpc.protogen")


def test_protogen_writes_an_importable_module(tmp_path):
    pytest.importorskip("grpc_tools")
    from labsupport.rpc.protogen import generate
    (path,) = generate(tmp_path)
    text = path.read_text()
    assert text.startswith("# ruff: noqa\n") and "grpc.testing" in text
    assert "_sym_db" in text and "AddSerializedFile" in text


def test_message_prefix_and_reader_at_every_split():
    wire = grpcwire.prefix(b"hello") + grpcwire.prefix(b"") + grpcwire.prefix(b"x" * 300)
    assert wire[:5] == b"\x00\x00\x00\x00\x05"
    for cut in range(len(wire) + 1):
        reader = grpcwire.MessageReader()
        got = reader.feed(wire[:cut]) + reader.feed(wire[cut:])
        assert got == [b"hello", b"", b"x" * 300]
        assert not reader.partial


def test_reader_refuses_oversized_and_unannounced_compressed():
    with pytest.raises(MessageTooLarge):
        grpcwire.MessageReader(max_message=10).feed(b"\x00\x00\x00\x00\x0b")
    with pytest.raises(RpcError) as info:  # flag 1 on a stream without grpc-encoding
        grpcwire.MessageReader().feed(b"\x01\x00\x00\x00\x00")
    assert info.value.code == StatusCode.INTERNAL


@pytest.mark.parametrize("text,seconds", [("1S", 1.0), ("250m", 0.25), ("100u", 1e-4),
                                          ("3H", 10800.0), ("2M", 120.0), ("5n", 5e-9)])
def test_decode_timeout(text, seconds):
    assert grpcwire.decode_timeout(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "S", "1x", "123456789S", "-1S"])
def test_bad_timeout(bad):
    with pytest.raises(RpcError, match="bad grpc-timeout"):
        grpcwire.decode_timeout(bad)


@settings(max_examples=200, deadline=None)
@given(st.floats(1e-9, 1e6))
def test_encoded_timeout_is_at_most_8_digits_and_never_shorter(seconds):
    text = grpcwire.encode_timeout(seconds)
    assert len(text) <= 9
    assert grpcwire.decode_timeout(text) >= seconds * (1 - 1e-9)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_status_message_percent_encoding_round_trips(message):
    encoded = grpcwire.encode_message(message)
    assert all(0x20 <= ord(c) < 0x7F for c in encoded)
    assert grpcwire.decode_message(encoded) == message


def test_status_and_binary_metadata_in_headers():
    status = Status(StatusCode.NOT_FOUND, "no 100%", (("k", "v"), ("b-bin", b"\x00\x01")))
    headers = grpcwire.status_headers(status)
    assert ("grpc-message", "no 100%25") in headers
    assert ("b-bin", "AAE") in headers  # base64 without padding, as grpc sends it
    assert grpcwire.status_from_headers(headers) == status
    assert grpcwire.status_from_headers([("content-type", "application/grpc")]) is None
