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
