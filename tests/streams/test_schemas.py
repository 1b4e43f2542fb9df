"""The event contract: round trips, and every kind of malformed input rejected with a reason."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.schemas import (
    EVENT_TYPES, AudioChunk, ChatInsight, ChatInsights, ChatMessage, CommerceEvent, DecodeError, Recommendation,
    RoomMetrics, StreamMarker, _decode_checked, dead_letter, decode_event,
)


def test_every_event_kind_round_trips_through_bytes():
    samples = [
        AudioChunk(room_id="r1", stream_ms=250, seq=1, duration_ms=250, pcm=b"\x00\x01" * 4000),
        ChatMessage(room_id="r1", stream_ms=1, user_id="u", text="这件多少钱 😍 <script>"),
        CommerceEvent(room_id="r1", stream_ms=2, type="order", count=2, amount=258.0),
        CommerceEvent(room_id="r1", stream_ms=3, type="promotion_start", promotion_id="flash-1", title="限时秒杀", ends_ms=300_003),
        StreamMarker(room_id="r1", stream_ms=3, marker="watermark"),
        RoomMetrics(room_id="r1", stream_ms=5000, window_start_ms=0, window_ms=5000, messages=3),
    ]
    for ev in samples:
        back = decode_event(ev.to_bytes())
        assert type(back) is type(ev)
        assert back == ev


def test_all_kinds_are_registered_once():
    assert len(EVENT_TYPES) == 23  # 19 + compliance + forecast + promotion + retention
    assert {"audio", "chat", "commerce", "transcript", "clip", "alert", "recommendation", "dead_letter", "forecast",
            "compliance", "promotion", "retention"} <= set(EVENT_TYPES)


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


# ---- the fast path (pydantic parses the bytes) against the checked path (json, then validation)

_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)
_NOW = time.time()
_BASES = [
    # every field with a default is given: a default event id or clock differs per decode
    {"kind": "chat", "room_id": "r1", "event_id": "m1", "stream_ms": 10, "ingested_at": _NOW, "user_id": "u1",
     "text": "有S码吗 😍"},
    {"kind": "commerce", "room_id": "r1", "event_id": "c1", "stream_ms": 20, "ingested_at": _NOW, "type": "order",
     "count": 2, "amount": 25.8},
    {"kind": "marker", "room_id": "r1", "event_id": "k1", "stream_ms": 0, "ingested_at": _NOW, "marker": "watermark"},
    {"kind": "audio", "room_id": "r1", "event_id": "a1", "stream_ms": 0, "ingested_at": _NOW, "seq": 1,
     "duration_ms": 250, "pcm": "AAECAw=="},
    json.loads(ChatInsights(room_id="r1", event_id="r1:m1:insights", stream_ms=5, ingested_at=_NOW, emitted_at=_NOW, items=[ChatInsight(
        room_id="r1", event_id="r1:m1:insight", stream_ms=5, ingested_at=_NOW, emitted_at=_NOW, message_id="r1:m1", user_id="u",
        text="多少钱", sentiment="neutral", emotion="none", intent="asks_price", confidence=0.91)]).to_bytes()),
    json.loads(Recommendation(room_id="r1", event_id="r1:rec", stream_ms=9, ingested_at=_NOW, emitted_at=_NOW, rec_type="explain_size_fit", message_zh="看尺码表",
                              message_en="see the size chart", reason="size questions", evidence={"n": 4},
                              priority=80, expires_ms=60_000, dedup_key="size").to_bytes()),
]


def _outcome(decode, raw: bytes):
    try:
        event = decode(raw)
    except DecodeError as exc:
        return "rejected", exc.reason
    return type(event).__name__, event.model_dump_json()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from(_BASES), key=st.sampled_from(
           ["kind", "version", "room_id", "event_id", "stream_ms", "ingested_at", "text", "count", "amount",
            "items", "evidence", "pcm", "marker", "extra_field"]),
       value=_JSON_VALUES, change=st.booleans(), ascii_only=st.booleans(), duplicate=st.booleans())
def test_the_fast_path_decodes_exactly_what_the_checked_path_does(base, key, value, change, ascii_only, duplicate):
    obj = {**base, key: value} if change else dict(base)
    raw = json.dumps(obj, ensure_ascii=ascii_only, separators=(",", ":")).encode()
    if duplicate:  # the same key twice: both parsers must keep the same one
        raw = raw[:-1] + b"," + json.dumps({key: value}, separators=(",", ":")).encode()[1:]
    assert _outcome(decode_event, raw) == _outcome(lambda r: _decode_checked(r, None), raw)


def test_a_valid_message_takes_the_fast_path(monkeypatch):
    raw = ChatMessage(room_id="r1", stream_ms=1, user_id="u", text="多少钱").to_bytes()
    monkeypatch.setattr("streams.schemas._decode_checked", lambda *_a: pytest.fail("took the checked path"))
    assert decode_event(raw).text == "多少钱"


@pytest.mark.parametrize("raw", [
    b'{"kind":"chat","room_id":"r1","stream_ms":1,"user_id":"u","text":"x","extra":NaN}',  # NaN where anything goes
    b'{"kind":"chat","room_id":"r1","stream_ms":1,"user_id":"u","text":"\\ud800"}',  # a lone surrogate
])
def test_what_the_parsers_may_read_differently_goes_the_checked_way(raw, monkeypatch):
    checked = []
    monkeypatch.setattr("streams.schemas._decode_checked", lambda r, allowed: checked.append(r) or "checked")
    assert decode_event(raw) == "checked" and checked == [raw]


def test_a_raw_control_character_is_rejected_either_way():
    raw = b'{"kind":"chat","room_id":"r1","stream_ms":1,"user_id":"u","text":"a\x01b"}'
    assert _outcome(decode_event, raw) == _outcome(lambda r: _decode_checked(r, None), raw)
    assert _outcome(decode_event, raw)[0] == "rejected"
