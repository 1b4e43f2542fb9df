"""The ingest edge: one strict parser for replay and HTTP (and strict decoding on Kafka), one
kind → topic table, ingested_at stamped once, by the publisher."""

from __future__ import annotations

import json

import pytest

from streams.ingest.edge import TOPIC_FOR_KIND, EdgeReject, parse_edge_line
from streams.ingest.publisher import Publisher
from streams.ingest.replay import ReplayReject, parse_replay_line
from streams.schemas import ChatMessage, DecodeError, decode_event
from streams.topics import INPUT_TOPICS, TopicNames

ROOM = "edge-room"


@pytest.mark.parametrize(("line", "reason"), [
    ({"kind": "commerce", "type": "order", "count": "1"}, "schema: count: Input should be a valid integer"),
    ({"kind": "chat", "user_id": "u1", "text": 5}, "schema: text: Input should be a valid string"),
    ({"kind": "chat", "user_id": "u1", "text": "hi", "stream_ms": "12"}, "stream_ms: must be an integer"),
    ({"kind": "chat", "user_id": "u1", "text": "hi", "t": -1}, "t: out of range"),
    ({"kind": "gift_box", "user_id": "u1"}, "unknown kind: 'gift_box'"),
    (["chat"], "not a JSON object"),
])
def test_replay_and_http_reject_the_same_lines_for_the_same_reason(line, reason):
    raw = json.dumps(line).encode()
    with pytest.raises(EdgeReject, match=reason.replace("(", r"\(")):
        parse_edge_line(raw, ROOM, default_stream_ms=lambda: 0)  # the HTTP edge
    timed = not isinstance(line, dict) or "t" in line or "stream_ms" in line
    replayed = parse_replay_line(raw if timed else json.dumps({**line, "t": 1.0}).encode(), 3, ROOM)
    assert isinstance(replayed, ReplayReject) and reason in replayed.reason


def test_a_line_takes_its_time_from_t_or_stream_ms_or_the_edges_clock():
    chat = {"kind": "chat", "user_id": "u1", "text": "多少钱"}
    assert parse_edge_line(json.dumps({**chat, "t": 1.5}).encode(), ROOM).stream_ms == 1500
    assert parse_edge_line(json.dumps({**chat, "stream_ms": 700}).encode(), ROOM).stream_ms == 700
    assert parse_edge_line(json.dumps(chat).encode(), ROOM, default_stream_ms=lambda: 42).stream_ms == 42
    with pytest.raises(EdgeReject, match="t: must be a number"):
        parse_edge_line(json.dumps(chat).encode(), ROOM)  # a replay line must say when
    given = parse_edge_line(json.dumps({**chat, "t": 1, "event_id": "producer-7"}).encode(), ROOM)
    assert given.event_id == "producer-7" and given.room_id == ROOM


def test_kafka_edge_is_as_strict():
    good = ChatMessage(room_id=ROOM, stream_ms=0, user_id="u1", text="hi").model_dump(mode="json")
    assert decode_event(json.dumps(good).encode()).text == "hi"
    with pytest.raises(DecodeError, match="count"):
        decode_event(json.dumps({"kind": "commerce", "room_id": ROOM, "stream_ms": 0, "type": "order",
                                 "count": "1"}).encode())


def test_every_input_kind_has_one_topic():
    assert set(TOPIC_FOR_KIND.values()) == set(INPUT_TOPICS)


async def test_the_publisher_stamps_ingested_at_as_the_event_enters_kafka():
    sent = []

    class _Producer:
        async def send(self, topic, value, key):
            sent.append(json.loads(value))

    event = ChatMessage(room_id=ROOM, stream_ms=0, user_id="u1", text="hi", ingested_at=1_000_000.0)
    await Publisher(_Producer(), TopicNames("t")).publish("chat", event)
    assert sent[0]["ingested_at"] > 1_700_000_000.0
