"""Any Kafka client can feed the embedded broker: kcat (librdkafka 2.0) through the compatibility
proxy produces chat, a real worker analyses it, the insights land in Redis."""

from __future__ import annotations

import asyncio
import json
import shutil
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.partitioner import murmur2

from streams.kafka import ensure_topics
from streams.topics import TopicNames
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.integration

KCAT = shutil.which("kcat")
needs_kcat = pytest.mark.skipif(KCAT is None, reason="kcat is not installed: scripts/setup.sh installs it (apt-get install kcat)")


async def kcat(*args: str, stdin: bytes | None = None, timeout: float = 60) -> str:
    proc = await asyncio.create_subprocess_exec(
        KCAT, *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    assert proc.returncode == 0, f"kcat {' '.join(args)} failed ({proc.returncode}): {err.decode()[-2000:]}"
    return out.decode()


@needs_kcat
async def test_kcat_lists_the_broker_at_the_proxy_address(broker):
    listing = await kcat("-b", broker.external_bootstrap, "-L", "-m", "20")
    # every later connection must go through the proxy too, so the broker is advertised there
    assert f"at {broker.external_bootstrap}" in listing, listing


@needs_kcat
async def test_chat_produced_with_kcat_comes_out_as_insights_in_redis(settings, broker, worker_factory, redis_client):
    topics = TopicNames(settings.topic_prefix)
    await ensure_topics(settings, settings.kafka_bootstrap, topics.all())
    await worker_factory(["chat"])
    room = "kcat-room"
    messages = [
        {"room_id": room, "event_id": "kcat-zh-1", "kind": "chat", "stream_ms": 1000, "user_id": "u1", "text": "这个多少钱?"},
        {"room_id": room, "event_id": "kcat-en-1", "kind": "chat", "stream_ms": 2000, "user_id": "u2",
         "text": "how much is this?", "ingested_at": time.time()},
    ]
    lines = "".join(f"{room}\t{json.dumps(m, ensure_ascii=False)}\n" for m in messages).encode()
    # murmur2_random: the Java/aiokafka partitioner, so a room's events from kcat and from
    # livelens's own ingest land on the same partition (librdkafka's default hashes differently)
    await kcat("-b", broker.external_bootstrap, "-P", "-t", topics.chat, "-K", "\t",
               "-X", "partitioner=murmur2_random", stdin=lines)
    placed = await kcat("-b", broker.external_bootstrap, "-C", "-t", topics.chat, "-o", "beginning", "-e", "-q",
                        "-f", "%k %p\n")
    expected_partition = (murmur2(room.encode()) & 0x7FFFFFFF) % settings.partitions
    assert {line for line in placed.splitlines() if line} == {f"{room} {expected_partition}"}, placed

    async def insights():
        rows = await redis_client.xrange(f"livelens:{{{room}}}:stream:chat_insight")
        return [json.loads(fields["event"]) for _id, fields in rows] if len(rows) >= len(messages) else None

    got = {i["message_id"]: i for i in await wait_for(insights, timeout=90, what="both chat insights in Redis")}
    assert set(got) == {"kcat-zh-1", "kcat-en-1"}
    assert got["kcat-zh-1"]["text"] == "这个多少钱?"
    assert all(i["intent"] == "asks_price" for i in got.values()), got

    # and kcat reads the worker's output topic back (a librdkafka consumer, fetches through the proxy)
    out = await kcat("-b", broker.external_bootstrap, "-C", "-t", topics.chat_insights, "-o", "beginning",
                     "-e", "-q", "-f", "%k\n", timeout=60)
    assert room in out.split()


async def test_aiokafka_also_works_through_the_proxy(settings, broker):
    topic = f"{settings.topic_prefix}.compat-probe"
    producer = AIOKafkaProducer(bootstrap_servers=broker.external_bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"through the proxy", key=b"r1")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=broker.external_bootstrap, auto_offset_reset="earliest",
                                group_id=f"{settings.app_id}-probe", fetch_max_wait_ms=10)
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 30)
    finally:
        await consumer.stop()
    assert record.value == b"through the proxy"
