"""Chat insights refined by the encoder heads, live: real broker, real worker, real Redis.

With ``LIVELENS_UNDERSTANDING__CHAT_ENCODER=use-multilingual`` the chat processor decides each
message with the fast lexicon heads and the encoder heads re-decide each insight flush in a child process
before it is sent; what reaches Redis is the refined insight, for a zh and an en room.
"""

from __future__ import annotations

import json

import pytest

from models.understanding.chat_data import EMOTIONS
from streams.ingest.publisher import Publisher
from streams.schemas import ChatMessage
from streams.topics import TopicNames
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.integration

ROOMS = {
    "enc-zh": ["这衣服质量太差了，退货！", "主播好漂亮", "这个多少钱", "😍😍😍", ""],
    "enc-en": ["this dress is awful, I want a refund", "you look gorgeous", "how much is it", "x" * 10_000],
}


async def test_encoder_refined_chat_insights_reach_redis_zh_and_en(settings, producer, worker_factory, redis_client):
    await worker_factory(["chat"], extra_env={"LIVELENS_UNDERSTANDING__CHAT_ENCODER": "use-multilingual"})
    publisher = Publisher(producer, TopicNames(settings.topic_prefix), input_topics=("chat",))
    for room, lines in ROOMS.items():
        for i, text in enumerate(lines):
            await publisher.publish("chat", ChatMessage(room_id=room, event_id=f"{room}-m{i}", stream_ms=500 * i,
                                                        user_id=f"u{i}", text=text))
        await publisher.marker(room, "end", 500 * len(lines))
    await publisher.flush()

    async def insights(room: str):
        rows = await redis_client.xrange(f"livelens:{{{room}}}:stream:chat_insight")
        found = [json.loads(f["event"]) for _id, f in rows]
        return found if len(found) == len(ROOMS[room]) else None

    for room in ROOMS:
        found = await wait_for(lambda r=room: insights(r), timeout=120, what=f"{room}'s refined chat insights")
        by_id = {i["message_id"]: i for i in found}
        for item in found:
            assert item["refined_by"] == "use-multilingual", item
            assert sorted(item["emotion_scores"]) == sorted(EMOTIONS) and 0 <= item["sentiment_score"] <= 1
        complaint = by_id[f"{room}-m0"]  # the lexicon heads alone say emotion "none" for both
        assert complaint["sentiment"] == "negative" and complaint["intent"] == "complaint"
        assert complaint["emotion"] in ("sadness", "anger", "disgust"), complaint
        assert by_id[f"{room}-m1"]["sentiment"] == "positive"
        assert by_id[f"{room}-m2"]["intent"] == "asks_price"
