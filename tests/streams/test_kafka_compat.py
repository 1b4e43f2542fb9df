"""The Kafka compatibility proxy's rewrites, on responses encoded here from the protocol spec.

The proxy's relay itself runs against the real broker in tests/integration/test_kcat.py.
"""

from __future__ import annotations

import struct

import pytest

from streams.kafka_compat import (
    DESCRIBE_CLUSTER, FIND_COORDINATOR, METADATA, ProtocolError, fix_api_versions, rewrite_broker_address,
)

# ------------------------------------------------------------ encoders written from the spec


def uvarint(n: int) -> bytes:
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def i16(n):
    return struct.pack(">h", n)


def i32(n):
    return struct.pack(">i", n)


def string(s: str | None, compact: bool) -> bytes:
    if s is None:
        return uvarint(0) if compact else i16(-1)
    raw = s.encode()
    return (uvarint(len(raw) + 1) if compact else i16(len(raw))) + raw


def tags(fields: list[tuple[int, bytes]]) -> bytes:
    return uvarint(len(fields)) + b"".join(uvarint(t) + uvarint(len(v)) + v for t, v in fields)


APIS = [(0, 0, 11), (1, 0, 13), (3, 0, 12), (18, 0, 3)]
# what the embedded broker sends: all four tagged fields, each at its default value
DEFAULT_TAGS = [(0, uvarint(1)), (1, struct.pack(">q", -1)), (2, uvarint(1)), (3, b"\x00")]


def api_versions_v3(top_tags, correlation_id=7) -> bytes:
    entries = b"".join(i16(k) + i16(lo) + i16(hi) + tags([]) for k, lo, hi in APIS)
    return i32(correlation_id) + i16(0) + uvarint(len(APIS) + 1) + entries + i32(0) + tags(top_tags)


# ------------------------------------------------------------ two readers of ApiVersions v3


def read_api_versions(body: bytes, old_librdkafka: bool = False):
    """Parse a v3 body; ``old_librdkafka`` skips each tagged field's length minus one byte,
    as librdkafka before 2.2 does (its PR #4278). Raises IndexError when it reads past the end."""
    pos = 4

    def take(n):
        nonlocal pos
        if pos + n > len(body):
            raise IndexError(f"underflow at {pos}/{len(body)}: need {n}")
        pos += n
        return body[pos - n:pos]

    def varint():
        shift = value = 0
        while True:
            b = take(1)[0]
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value

    def skip_tags():
        found = []
        for _ in range(varint()):
            tag, size = varint(), varint()
            found.append(tag)
            take(size - 1 if old_librdkafka and size > 0 else size)
        return found

    assert struct.unpack(">h", take(2))[0] == 0
    apis = []
    for _ in range(varint() - 1):
        apis.append(struct.unpack(">hhh", take(6)))
        skip_tags()
    take(4)
    top = skip_tags()
    assert pos == len(body), f"{len(body) - pos} bytes left over"
    return apis, top


def test_the_broker_reply_breaks_old_librdkafka_and_the_fixed_one_does_not():
    original = api_versions_v3(DEFAULT_TAGS)
    with pytest.raises(IndexError, match="underflow"):
        read_api_versions(original, old_librdkafka=True)
    fixed = fix_api_versions(original, 3)
    assert read_api_versions(fixed, old_librdkafka=True) == (APIS, [])
    assert read_api_versions(fixed) == (APIS, [])
    assert fixed[:4] == original[:4]  # same correlation id


def test_tagged_fields_that_carry_information_are_kept():
    zk_ready = (3, b"\x01")
    epoch = (1, struct.pack(">q", 5))
    fixed = fix_api_versions(api_versions_v3([DEFAULT_TAGS[0], epoch, DEFAULT_TAGS[2], zk_ready]), 3)
    assert read_api_versions(fixed) == (APIS, [1, 3])
    assert fixed.endswith(tags([epoch, zk_ready]))


def test_older_versions_and_error_replies_pass_unchanged():
    v0_error = i32(1) + i16(35) + i32(1) + i16(18) + i16(0) + i16(3)  # UNSUPPORTED_VERSION, v0 layout
    assert fix_api_versions(v0_error, 3) == v0_error
    v2 = i32(1) + i16(0) + i32(0)
    assert fix_api_versions(v2, 2) == v2
    with pytest.raises(ProtocolError):
        fix_api_versions(api_versions_v3(DEFAULT_TAGS)[:-3], 3)


# ------------------------------------------------------------ broker address rewriting

HOST, PORT, PROXY = "127.0.0.1", 9092, 19093


def metadata(version: int, brokers) -> bytes:
    flex = version >= 9
    out = i32(3) + (tags([]) if flex else b"") + (i32(0) if version >= 3 else b"")
    out += uvarint(len(brokers) + 1) if flex else i32(len(brokers))
    for node, host, port in brokers:
        out += i32(node) + string(host, flex) + i32(port)
        out += string(None, flex) if version >= 1 else b""
        out += tags([]) if flex else b""
    return out + b"TOPICS-UNTOUCHED"


@pytest.mark.parametrize("version", [0, 1, 4, 9, 12])
def test_metadata_points_clients_at_the_proxy_and_leaves_other_brokers(version):
    body = metadata(version, [(1, HOST, PORT), (2, "10.0.0.2", PORT), (3, HOST, 9999)])
    assert rewrite_broker_address(METADATA, version, body, HOST, PORT, PROXY) == \
        metadata(version, [(1, HOST, PROXY), (2, "10.0.0.2", PORT), (3, HOST, 9999)])


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_find_coordinator_up_to_v3_points_at_the_proxy(version):
    flex = version >= 3

    def reply(port):
        out = i32(5) + (tags([]) if flex else b"") + (i32(0) if version >= 1 else b"") + i16(0)
        out += string(None, flex) if version >= 1 else b""
        return out + i32(1) + string(HOST, flex) + i32(port) + (tags([]) if flex else b"")

    assert rewrite_broker_address(FIND_COORDINATOR, version, reply(PORT), HOST, PORT, PROXY) == reply(PROXY)


def test_find_coordinator_v4_batches_point_at_the_proxy():
    def reply(port):
        out = i32(5) + tags([]) + i32(0) + uvarint(3)
        for key in ("group-a", "group-b"):
            out += string(key, True) + i32(1) + string(HOST, True) + i32(port) + i16(0) + string(None, True) + tags([])
        return out + tags([])

    assert rewrite_broker_address(FIND_COORDINATOR, 4, reply(PORT), HOST, PORT, PROXY) == reply(PROXY)


def test_describe_cluster_points_at_the_proxy():
    def reply(port, version=1):
        out = i32(9) + tags([]) + i32(0) + i16(0) + string(None, True) + (b"\x01" if version >= 1 else b"")
        out += string("cluster", True) + i32(1) + uvarint(2)
        return out + i32(1) + string(HOST, True) + i32(port) + string(None, True) + tags([]) + i32(0) + tags([])

    assert rewrite_broker_address(DESCRIBE_CLUSTER, 1, reply(PORT), HOST, PORT, PROXY) == reply(PROXY)
    assert rewrite_broker_address(DESCRIBE_CLUSTER, 0, reply(PORT, 0), HOST, PORT, PROXY) == reply(PROXY, 0)
