"""The sample room's burst of size questions → chat insights → an explain-size/fit recommendation."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from streams.ingest.publisher import Publisher
from streams.ingest.replay import load_replay
from streams.topics import TopicNames
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.integration
ROOM = "rec-room"
SPEED = 4.0  # 4x real time keeps the test short; latency is measured by `livelens bench load`


async def test_size_question_burst_yields_a_fit_recommendation_while_it_happens(
        settings, producer, worker_factory, redis_client, sample_room_dir):
    await worker_factory(["metrics", "chat", "recommender"])
    labels = json.loads((sample_room_dir / "labels.json").read_text())
    burst = labels["size_burst"]
    events = []
    for name in ("chat.jsonl", "commerce.jsonl"):
        parsed, rejects = load_replay(sample_room_dir / name, ROOM)
        assert not rejects
        events += parsed
    events.sort(key=lambda e: e.stream_ms)
    stop_ms = int((burst["end"] + 15) * 1000)  # the room up to 15 s after the burst
    publisher = Publisher(producer, TopicNames(settings.topic_prefix), input_topics=("chat", "commerce"))
    t0 = time.time()
    for ev in (e for e in events if e.stream_ms <= stop_ms):
        await asyncio.sleep(max(0.0, t0 + ev.stream_ms / 1000 / SPEED - time.time()))
        await publisher.publish(ev.kind, ev)
    await publisher.marker(ROOM, "end", stop_ms)
    await publisher.flush()

    async def size_recs():
        rows = await redis_client.xrange(f"livelens:{{{ROOM}}}:stream:recommendation")
        recs = [json.loads(f["event"]) for _id, f in rows]
        return [r for r in recs if r["rec_type"] == "explain_size_fit"] or None

    recs = await wait_for(size_recs, timeout=60, what="an explain_size_fit recommendation")
    first = recs[0]
    # it fires during the burst (stream time), not after the room has moved on
    assert burst["start"] * 1000 <= first["stream_ms"] <= burst["end"] * 1000 + 2000
    assert first["message_zh"] and first["message_en"] and first["reason"]
    assert first["evidence"]["asks_size_fit_count"] >= 5
    assert first["priority"] > 0 and first["expires_ms"] > first["stream_ms"]
    assert first["emitted_at"] >= first["ingested_at"]  # latency fields recorded (emitted − ingested)
    assert len(recs) == 1, "cooldown: one size recommendation per burst, not one per question"

    insights = await redis_client.xrange(f"livelens:{{{ROOM}}}:stream:chat_insight")
    intents = [json.loads(f["event"])["intent"] for _id, f in insights]
    assert intents.count("asks_size_fit") >= burst["count"] * 0.7


async def test_a_room_that_ends_leaves_its_category_prior_and_the_next_room_starts_warm(
        settings, producer, worker_factory, redis_client):
    """Through the broker: a zh room whose fabric explanations triple its orders ends; its estimates
    land in the category's prior file; a new en room's first explain-next is fabric, before it has
    any evidence of its own."""
    import numpy as np

    from models.attribution import CategoryPriorStore
    from streams.schemas import ChatMessage, CommerceEvent, SellingPoint

    await worker_factory(["recommender"])
    topics = TopicNames(settings.topic_prefix)
    publisher = Publisher(producer, topics, input_topics=("chat", "commerce"))
    rng = np.random.default_rng(3)

    async def room(room_id: str, lang: str, minutes: int, boosted_at: tuple[int, ...]) -> None:
        await publisher.marker(room_id, "start", 0, language=lang)
        # the room is replayed far faster than real time, and topics are consumed independently: the
        # selling points go first, so each is known before the windows it exposes (live, a selling
        # point arrives within seconds of its end, long before the minute after it closes)
        for m in boosted_at:
            point = SellingPoint(room_id=room_id, stream_ms=(m + 1) * 60_000, processor="e2e", segment_id=f"fabric-{m}",
                                 category="apparel", label="fabric_material", start_ms=m * 60_000, end_ms=(m + 1) * 60_000,
                                 text="纯棉面料" if lang == "zh" else "pure cotton", confidence=0.9)
            await producer.send_and_wait(topics.full("selling_points"), point.to_bytes(), key=point.key)
        for second in range(minutes * 60):
            ms = second * 1000
            await publisher.publish("commerce", CommerceEvent(room_id=room_id, stream_ms=ms, type="viewers", count=1000))
            after = any(0 <= second / 60 - (m + 1) < 3 for m in boosted_at)
            for _ in range(int(rng.poisson(0.6 if after else 0.2))):
                await publisher.publish("commerce", CommerceEvent(room_id=room_id, stream_ms=ms + 300, type="order", amount=99.0))
            await publisher.publish("chat", ChatMessage(room_id=room_id, stream_ms=ms + 500, user_id=f"u{second % 13}",
                                                        text="666" if lang == "zh" else "nice"))
            await publisher.marker(room_id, "watermark", ms + 999)
        await publisher.flush()

    await room("prior-zh", "zh", minutes=16, boosted_at=(2, 7, 12))
    await publisher.marker("prior-zh", "end", 16 * 60_000)
    await publisher.flush()
    store = CategoryPriorStore(settings.data_dir / "attribution")
    await wait_for(lambda: store.path("apparel").exists(), timeout=90, what="the ended room's category prior file")
    prior = store.prior("apparel")
    assert prior["fabric_material"]["beta"]["orders"] > 0  # the size of the estimate: tests/processors/test_recommender.py

    await room("prior-en", "en", minutes=2, boosted_at=())

    async def first_explain_next():
        rows = await redis_client.xrange("livelens:{prior-en}:stream:recommendation")
        recs = [json.loads(f["event"]) for _id, f in rows]
        return [r for r in recs if r["rec_type"] == "explain_next"] or None

    recs = await wait_for(first_explain_next, timeout=90, what="the new room's first explain_next")
    assert recs[0]["evidence"]["label"] == "fabric_material"
    assert "Fabric" in recs[0]["message_en"].title() and recs[0]["message_zh"]
