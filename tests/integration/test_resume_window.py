"""Input that arrives while a starting worker resumes its streams is processed, not dropped.

After each rebalance, faust's table recovery reads the changelogs (consumer flow on), seeks the
stream partitions to their committed offsets and then clears every stream buffer; records
fetched between the seek and that clear were lost for good whenever the fetcher was already
running: on a restart with tables to restore, and on any later rebalance
(streams.framework.StreamResumeRecovery stops the flow first). The window is milliseconds wide, so the
worker under test runs with a start-up hook (resume_window/sitecustomize.py) that holds it open
for seconds after the seek and slows the processors meanwhile, and the input is sent inside it.
Without the fix both tests lose input every time.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from streams.ingest.publisher import Publisher
from streams.schemas import ChatMessage, CommerceEvent
from streams.topics import TopicNames
from tests.integration.helpers import metrics_windows, wait_for

pytestmark = pytest.mark.integration

HOOK_DIR = Path(__file__).parent / "resume_window"
SEEK_DELAY_S = 4.0


class RoomInput:
    """Chat and orders for four rooms through the real producer, counted per room."""

    def __init__(self, settings, producer):
        self.publisher = Publisher(producer, TopicNames(settings.topic_prefix), input_topics=("chat", "commerce"))
        # Redis outlives a test: room names of this test's own
        self.rooms = [f"resume-{settings.topic_prefix}-{i}" for i in range(4)]
        self.sent = {room: {"messages": 0, "orders": 0} for room in self.rooms}

    async def span(self, start_ms: int, end_ms: int) -> None:
        for t in range(start_ms, end_ms, 20):
            for room in self.rooms:
                if t % 100:
                    await self.publisher.publish("chat", ChatMessage(room_id=room, stream_ms=t, user_id=f"u{t % 7}", text="hi"))
                    self.sent[room]["messages"] += 1
                else:
                    await self.publisher.publish("commerce", CommerceEvent(room_id=room, stream_ms=t, type="order", amount=1.0))
                    self.sent[room]["orders"] += 1
            await self.publisher.flush()
            await asyncio.sleep(0.005)

    async def end(self, stream_ms: int) -> None:
        for room in self.rooms:
            await self.publisher.marker(room, "end", stream_ms)
        await self.publisher.flush()


def _window_hook() -> dict[str, str]:
    pythonpath = os.pathsep.join(p for p in (str(HOOK_DIR), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": pythonpath, "TEST_SEEK_DELAY_S": str(SEEK_DELAY_S)}


async def test_input_sent_while_a_restored_worker_resumes_is_not_lost(settings, producer, worker_factory, redis_client):
    """A restarted worker restores its tables from their changelogs, then resumes its streams."""
    rooms = RoomInput(settings, producer)
    # a first worker leaves table state behind (its changelog), so the next start has to restore it
    first = await worker_factory(["metrics"], name="first")
    await rooms.span(0, 6_000)
    await wait_for(lambda: metrics_windows(redis_client, rooms.rooms[0]), timeout=60, what="the first worker's windows")
    first.stop()
    second = await worker_factory(["metrics"], name="second", extra_env=_window_hook())
    # ready = partitions assigned: the second worker now restores its tables, seeks, holds the window
    await rooms.span(6_000, 8_000)
    await rooms.end(8_000)
    assert _readies(second) == 0, "the input was meant to arrive inside the window: widen SEEK_DELAY_S"
    await _assert_all_counted(redis_client, rooms, second)


async def test_input_sent_while_a_rebalanced_worker_resumes_is_not_lost(settings, producer, worker_factory, redis_client):
    """A running worker rebalances (a second one joins) with its fetcher already on."""
    rooms = RoomInput(settings, producer)
    first = await worker_factory(["metrics"], name="first", extra_env=_window_hook())
    # its first start has no fetcher running yet (nothing can be fetched in the window) ...
    await wait_for(lambda: _readies(first) == 1, timeout=30, what="the first worker's start")
    # ... a second worker joining makes it rebalance with its fetcher on
    await worker_factory(["metrics"], name="second", extra_env=_window_hook())
    await rooms.span(0, 2_000)
    await rooms.end(2_000)
    assert _readies(first) == 1, "the input was meant to arrive inside the window: widen SEEK_DELAY_S"
    await _assert_all_counted(redis_client, rooms, first)


async def _assert_all_counted(redis_client, rooms: RoomInput, worker) -> None:
    for room in rooms.rooms:
        try:
            state = await wait_for(lambda r=room: _ended(redis_client, r), timeout=60, what=f"{room}'s end marker")
        except AssertionError as exc:  # the marker itself was dropped: say what the worker waits on
            raise AssertionError(f"{exc}\n--- {worker.log_path.name} tail:\n{worker.log_tail(4000)}"
                                 f"\n--- its tasks:\n{await worker.dump_tasks()}") from None
        assert (int(state["total_messages"]), int(state["total_orders"])) == (
            rooms.sent[room]["messages"], rooms.sent[room]["orders"]), f"{room}: input lost while streams resumed"


def _readies(worker) -> int:
    """How many recoveries the worker has finished (faust logs "Worker ready" after each)."""
    return worker.log_path.read_text(errors="replace").count("Worker ready")


async def _ended(redis_client, room):
    state = await redis_client.hgetall(f"livelens:{{{room}}}:state")
    return state if state.get("ended") == "1" else None
