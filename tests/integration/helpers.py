"""Small helpers for integration tests: wait on Redis, compute what a JSONL replay implies."""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from pathlib import Path


async def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2, what: str = "condition"):
    """Await ``predicate()`` (sync or async) until truthy; fail with ``what`` on timeout."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(interval)


def expected_metrics(chat_jsonl: Path, commerce_jsonl: Path, window_ms: int) -> dict:
    """What the replay files imply, computed independently of the processor's code."""
    per_window: dict[int, dict] = defaultdict(lambda: {"messages": 0, "orders": 0, "chatters": set(), "gmv": 0.0})
    totals = {"messages": 0, "orders": 0, "gmv": 0.0, "viewers": None}
    last_viewers_t = -1.0
    for line in chat_jsonl.read_text().splitlines():
        row = json.loads(line)
        w = per_window[int(row["t"] * 1000) // window_ms]
        w["messages"] += 1
        w["chatters"].add(row["user_id"])
        totals["messages"] += 1
    for line in commerce_jsonl.read_text().splitlines():
        row = json.loads(line)
        w = per_window[int(row["t"] * 1000) // window_ms]
        if row["type"] == "order":
            w["orders"] += 1
            w["gmv"] += row.get("amount", 0.0)
            totals["orders"] += 1
            totals["gmv"] += row.get("amount", 0.0)
        elif row["type"] == "viewers" and row["t"] >= last_viewers_t:
            last_viewers_t = row["t"]
            totals["viewers"] = row["count"]
    return {"windows": dict(per_window), "totals": totals}


async def metrics_windows(redis_client, room: str) -> list[dict]:
    rows = await redis_client.xrange(f"livelens:{{{room}}}:stream:room_metrics")
    return [json.loads(fields["event"]) for _id, fields in rows]


async def wait_stable(value, stable_s: float = 5.0, timeout: float = 120.0, what: str = "a stable value"):
    """Await ``value()`` until it has not changed for ``stable_s`` seconds; return it."""
    deadline = time.time() + timeout
    last, since = object(), time.time()
    while time.time() < deadline:
        current = value()
        if asyncio.iscoroutine(current):
            current = await current
        if current != last:
            last, since = current, time.time()
        elif time.time() - since >= stable_s:
            return current
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


async def committed_total(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    """The sum of ``group``'s committed offsets on ``topic`` (0 where none): how far it has acked.

    A consumer that never subscribes fetches them (it does not join the group); the admin
    client's ``list_consumer_group_offsets`` cannot parse Tansu's reply.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return sum([await consumer.committed(TopicPartition(topic, p)) or 0 for p in range(partitions)])
    finally:
        await consumer.stop()

