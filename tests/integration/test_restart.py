"""Kill the worker mid-stream (SIGKILL), start it again: nothing lost, nothing counted twice."""

from __future__ import annotations

import asyncio
import random

import pytest

from streams.ingest.publisher import Publisher
from streams.schemas import ChatMessage, CommerceEvent
from streams.topics import TopicNames
from tests.integration.helpers import metrics_windows, wait_for

pytestmark = pytest.mark.integration

ROOMS = ["restart-a", "restart-b", "restart-c"]


async def test_sigkill_mid_stream_then_restart_loses_and_duplicates_nothing(
        settings, producer, worker_factory, redis_client):
    publisher = Publisher(producer, TopicNames(settings.topic_prefix), input_topics=("chat", "commerce"))
    rng = random.Random(7)
    sent = {room: {"messages": 0, "orders": 0} for room in ROOMS}

    async def send_span(start_ms: int, end_ms: int) -> None:
        for t in range(start_ms, end_ms, 50):  # 20 events/s of stream time per room
            for room in ROOMS:
                if rng.random() < 0.8:
                    await publisher.publish("chat", ChatMessage(room_id=room, stream_ms=t, user_id=f"u{rng.randrange(40)}", text="hi"))
                    sent[room]["messages"] += 1
                else:
                    await publisher.publish("commerce", CommerceEvent(room_id=room, stream_ms=t, type="order", amount=1.0))
                    sent[room]["orders"] += 1
            await asyncio.sleep(0.002)
        await publisher.flush()

    first = await worker_factory(["metrics"], name="first")
    await send_span(0, 12_000)
    # the first worker has processed part of the stream (some windows are in Redis) ...
    await wait_for(lambda: metrics_windows(redis_client, ROOMS[0]), timeout=60, what="first windows")
    # ... and dies without warning while more input arrives
    sent_so_far = _total(sent)
    sender = asyncio.create_task(send_span(12_000, 24_000))
    await wait_for(lambda: _total(sent) >= sent_so_far + 40 * len(ROOMS), timeout=30,
                   what="the next span under way")  # 2 s of its 12 s of stream time
    first.kill()
    await sender
    await worker_factory(["metrics"], name="second")
    await send_span(24_000, 30_000)
    for room in ROOMS:
        await publisher.marker(room, "end", 30_000)
    await publisher.flush()

    for room in ROOMS:
        state = await wait_for(lambda r=room: _ended(redis_client, r), timeout=120, what=f"{room} final window")
        windows = await metrics_windows(redis_client, room)
        # on a failure, say where the counts went (per window), so a rare miss can be traced
        detail = (f"{room}: sent {sent[room]}, totals {state.get('total_messages')}/{state.get('total_orders')}, "
                  f"windows (start, messages, orders): {[(w['window_start_ms'], w['messages'], w['orders']) for w in windows]}; "
                  f"worker logs: {first.log_path.parent}")
        assert int(state["total_messages"]) == sent[room]["messages"], detail
        assert int(state["total_orders"]) == sent[room]["orders"], detail
        starts = [w["window_start_ms"] for w in windows]
        assert len(starts) == len(set(starts)), f"{room}: a window was emitted twice into Redis"
        assert sum(w["messages"] for w in windows) == sent[room]["messages"], detail
        assert sum(w["orders"] for w in windows) == sent[room]["orders"], detail


async def _ended(redis_client, room):
    state = await redis_client.hgetall(f"livelens:{{{room}}}:state")
    return state if state.get("ended") == "1" else None


def _total(sent: dict[str, dict[str, int]]) -> int:
    return sum(counts["messages"] + counts["orders"] for counts in sent.values())
