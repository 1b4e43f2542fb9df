"""Malformed input goes to the dead-letter topic with its reason; the worker loses nothing else."""

from __future__ import annotations

import base64
import json
import time

import pytest

from streams.ingest.publisher import Publisher
from streams.schemas import ChatMessage, CommerceEvent
from streams.topics import TopicNames
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.integration

ROOM = "dl-room"


def _chat(**kw) -> bytes:
    return json.dumps({"kind": "chat", "room_id": ROOM, "stream_ms": 100, "user_id": "u", "text": "x", **kw}).encode()


MALFORMED = {
    "bad JSON": b'{"kind": "chat", ',
    "invalid UTF-8": b'{"kind":"chat","text":"\xff\xfe"}',
    "unknown kind": _chat(kind="hologram"),
    "unsupported version": _chat(version=99),
    "room_id": json.dumps({"kind": "chat", "stream_ms": 1, "user_id": "u", "text": "x"}).encode(),
    "oversized": _chat(text="y" * 16_000, user_name="z" * 100) + b" " * 600_000,
    "NaN": b'{"kind":"commerce","room_id":"dl-room","stream_ms":5,"type":"order","amount":NaN}',
    "future": _chat(ingested_at=time.time() + 30 * 86400),
    "schema": _chat(stream_ms="yesterday"),
}


async def test_each_kind_of_malformed_input_is_dead_lettered_and_the_rest_still_counted(
        settings, producer, worker_factory, redis_client):
    await worker_factory(["metrics"])
    topics = TopicNames(settings.topic_prefix)
    for reason, raw in MALFORMED.items():
        topic = topics.commerce if b'"commerce"' in raw[:40] else topics.chat
        await producer.send_and_wait(topic, raw, key=ROOM.encode())
    publisher = Publisher(producer, topics, input_topics=("chat", "commerce"))
    for i in range(5):
        await publisher.publish("chat", ChatMessage(room_id=ROOM, stream_ms=200 + i, user_id=f"u{i}", text="ok"))
    await publisher.publish("commerce", CommerceEvent(room_id=ROOM, stream_ms=300, type="order", amount=9.5))
    await publisher.marker(ROOM, "end", 400)
    await publisher.flush()

    sent = {_payload_text(raw) for raw in MALFORMED.values()}

    async def dead_letters():
        # this test's letters only: Redis is shared with the other integration tests
        rows = []
        for key in await redis_client.keys("livelens:*:stream:dead_letter"):
            rows += [d for _id, f in await redis_client.xrange(key)
                     if any(text.startswith((d := json.loads(f["event"]))["payload"]) for text in sent)]
        return rows if len(rows) >= len(MALFORMED) else None

    letters = await wait_for(dead_letters, timeout=60, what="one dead letter per malformed input")
    reasons = [d["reason"] for d in letters]
    assert len(letters) == len(MALFORMED)
    for expected in MALFORMED:
        assert any(expected.lower() in r.lower() for r in reasons), f"no dead letter says {expected!r}: {reasons}"
    assert all(d["source_topic"] in ("chat", "commerce") for d in letters)

    state = await wait_for(lambda: _ended(redis_client), timeout=60, what="the room's final window")
    assert state["total_messages"] == "5" and state["total_orders"] == "1"


def _payload_text(raw: bytes) -> str:
    """How a dead letter keeps its raw input: the text (its head, when long), or base64 when it
    is not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(raw).decode("ascii")


async def _ended(redis_client):
    state = await redis_client.hgetall(f"livelens:{{{ROOM}}}:state")
    return state if state.get("ended") == "1" else None
