"""The event contract: round trips, and every kind of malformed input rejected with a reason."""

from __future__ import annotations

import json
import time

import pytest

from streams.schemas import (
    EVENT_TYPES, AudioChunk, ChatInsight, ChatInsights, ChatMessage, CommerceEvent, DecodeError, RoomMetrics,
    StreamMarker, dead_letter, decode_event,
)


def test_every_event_kind_round_trips_through_bytes():
    samples = [
        AudioChunk(room_id="r1", stream_ms=250, seq=1, duration_ms=250, pcm=b"\x00\x01" * 4000),
        ChatMessage(room_id="r1", stream_ms=1, user_id="u", text="这件多少钱 😍 <script>"),
        CommerceEvent(room_id="r1", stream_ms=2, type="order", count=2, amount=258.0),
        StreamMarker(room_id="r1", stream_ms=3, marker="watermark"),
        RoomMetrics(room_id="r1", stream_ms=5000, window_start_ms=0, window_ms=5000, messages=3),
    ]
    for ev in samples:
        back = decode_event(ev.to_bytes())
        assert type(back) is type(ev)
        assert back == ev


def test_all_kinds_are_registered_once():
    assert len(EVENT_TYPES) == 19
    assert {"audio", "chat", "commerce", "transcript", "clip", "alert", "recommendation", "dead_letter"} <= set(EVENT_TYPES)


def test_a_batch_of_chat_insights_round_trips_and_is_never_empty():
    item = ChatInsight(room_id="r1", stream_ms=7, message_id="m", sentiment="negative", emotion="anger",
                       intent="complaint", confidence=0.9)
    batch = ChatInsights(room_id="r1", stream_ms=7, items=[item, item.model_copy(update={"message_id": "m2"})])
    back = decode_event(batch.to_bytes())
    assert type(back) is ChatInsights and back == batch and type(back.items[0]) is ChatInsight
    with pytest.raises(DecodeError, match="items"):
        decode_event(ChatInsights.model_construct(room_id="r1", stream_ms=7, items=[]).to_bytes())


def test_output_ids_derived_from_the_longest_inputs_are_valid():
    """An output's id is an input's id or a room id (128 characters at most) plus a suffix: a
    processor building one from the longest valid input must not fail validation."""
    longest = ChatMessage(room_id="r" * 128, event_id="e" * 128, stream_ms=1, user_id="u", text="hi")
    insight = ChatInsight(room_id=longest.room_id, event_id=f"{longest.event_id}:insight", stream_ms=1,
                          message_id=longest.event_id, sentiment="neutral", emotion="neutral", intent="other",
                          confidence=0.5)
    window = RoomMetrics(room_id=longest.room_id, event_id=f"{longest.room_id}:metrics:123456789", stream_ms=5,
                         window_start_ms=0, window_ms=5)
    for ev in (insight, window):
        assert decode_event(ev.to_bytes()).event_id == ev.event_id
    with pytest.raises(DecodeError, match="event_id"):  # inputs keep their 128-character limit
        decode_event(_chat(event_id="e" * 129))


def test_output_latency_is_emitted_minus_ingested():
    ev = RoomMetrics(room_id="r", stream_ms=0, window_start_ms=0, window_ms=1000, ingested_at=100.0, emitted_at=100.25)
    assert ev.latency_ms == pytest.approx(250.0)


def _chat(**overrides) -> bytes:
    obj = {"kind": "chat", "room_id": "r1", "stream_ms": 10, "user_id": "u1", "text": "hi", **overrides}
    return json.dumps(obj).encode()


@pytest.mark.parametrize("raw, reason", [
    (b"", "empty"),
    (b"{not json", "bad JSON"),
    (b"\xff\xfe\x00garbage", "invalid UTF-8"),
    (b"[1, 2]", "not a JSON object"),
    (_chat(kind="weird"), "unknown kind"),
    (_chat(version=2), "unsupported version"),
    (json.dumps({"kind": "chat", "stream_ms": 1, "user_id": "u", "text": "x"}).encode(), "room_id"),
    (b'{"kind":"chat","room_id":"r","stream_ms":NaN,"user_id":"u","text":"x"}', "NaN"),
    (_chat(ingested_at=time.time() + 10 * 86400), "future"),
    (_chat(stream_ms=-5), "stream_ms"),
    (_chat(room_id="bad room/../x"), "room_id"),
    (_chat(text="x" * 20_000), "text"),
])
def test_malformed_input_is_rejected_with_a_reason(raw, reason):
    with pytest.raises(DecodeError) as info:
        decode_event(raw)
    assert reason.lower() in info.value.reason.lower()


def test_oversized_message_is_rejected_before_parsing():
    with pytest.raises(DecodeError, match="oversized"):
        decode_event(_chat(text="x" * 1000), max_bytes=500)


def test_wrong_kind_for_topic_is_rejected():
    with pytest.raises(DecodeError, match="unexpected kind"):
        decode_event(_chat(), allowed=(CommerceEvent,))


def test_room_id_survives_into_the_reason_when_readable():
    with pytest.raises(DecodeError) as info:
        decode_event(_chat(stream_ms="soon"))
    assert info.value.room_id == "r1"


def test_dead_letter_keeps_binary_payload_as_base64_and_truncates():
    dl = dead_letter(b"\xff" * 10_000, "invalid UTF-8", "chat", keep_bytes=100)
    assert dl.payload.startswith("base64:")
    assert dl.payload_bytes == 10_000
    assert dl.room_id == "unknown"
    assert decode_event(dl.to_bytes()) == dl
