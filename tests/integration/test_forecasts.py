"""Room metrics → the forecast processor → the latest forecast per room in Redis (real broker + Redis)."""

from __future__ import annotations

import json

import pytest

from streams.ingest.publisher import Publisher
from streams.schemas import ChatMessage, CommerceEvent
from streams.topics import TopicNames
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.integration
ROOM = "forecast-room"


async def test_room_metrics_lead_to_a_forecast_in_redis(settings, producer, worker_factory, redis_client):
    await worker_factory(["metrics", "forecast"])
    publisher = Publisher(producer, TopicNames(settings.topic_prefix), input_topics=("chat", "commerce"))
    await publisher.marker(ROOM, "start", 0)
    # 150 s of stream time (two closed minutes), sent as fast as the broker takes it
    for second in range(150):
        ms = second * 1000
        await publisher.publish("commerce", CommerceEvent(room_id=ROOM, stream_ms=ms, type="viewers", count=900 - second))
        await publisher.publish("chat", ChatMessage(room_id=ROOM, stream_ms=ms + 200, user_id=f"u{second % 7}", text="多少钱"))
        if second % 3 == 0:
            await publisher.publish("commerce", CommerceEvent(room_id=ROOM, stream_ms=ms + 500, type="order",
                                                              user_id=f"u{second}", product_id="sku-1", amount=59.9))
    await publisher.flush()

    async def latest_forecast():
        raw = await redis_client.hget(f"livelens:{{{ROOM}}}:state", "last:forecast")
        forecast = json.loads(raw) if raw else None
        return forecast if forecast and forecast["viewers"] and forecast["viewers"][0]["history_steps"] >= 2 else None

    forecast = await wait_for(latest_forecast, timeout=90, what="a forecast from two closed minutes in Redis")
    assert forecast["kind"] == "forecast" and forecast["processor"] == "forecast"
    assert [p["horizon_min"] for p in forecast["viewers"]] == [5, 15, 45]
    assert not forecast["enough_data"]  # two minutes are not enough for a model: said so, not raised
    first = forecast["viewers"][0]
    assert first["lo80"] < first["mean"] < first["hi80"] and 700 < first["mean"] < 900
    assert forecast["orders_per_min"][0]["mean"] == pytest.approx(20, rel=0.2)  # an order every 3 s
    assert forecast["emitted_at"] >= forecast["ingested_at"]
    entries = await redis_client.xlen(f"livelens:{{{ROOM}}}:stream:forecast")
    assert entries >= 24  # one per closed 5-s window
