"""Stream-time pacing and merging of timed event sources.

Ingest replays files "as if live": an event is released when the wall clock, scaled by
``speed``, reaches the moment the event would exist in a live room. That moment is its
*release time* (:func:`release_ms`): the END of the media it carries (an audio chunk of
250 ms only exists once its last sample arrived), its ``stream_ms`` for instant events
(frames, chat, orders).
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import AsyncIterable, AsyncIterator
from typing import TypeVar

from streams.schemas import AudioChunk, Event, SegmentRef

E = TypeVar("E", bound=Event)


def release_ms(event: Event) -> int:
    """Stream time at which ``event`` could exist in a live room (its pacing and merge key)."""
    if isinstance(event, (AudioChunk, SegmentRef)):
        return event.stream_ms + event.duration_ms
    return event.stream_ms


class Pacer:
    """Holds events back until ``speed`` × wall time since :meth:`start` reaches their stream time.

    ``realtime=False`` never waits. Stream time 0 is released at the first :meth:`start` (called
    implicitly by the first wait).
    """

    def __init__(self, realtime: bool = True, speed: float = 1.0):
        if not speed > 0:
            raise ValueError("speed must be > 0")
        self.realtime = realtime
        self.speed = float(speed)
        self._wall0: float | None = None

    def start(self) -> None:
        if self._wall0 is None:
            self._wall0 = time.monotonic()

    def delay_s(self, stream_ms: float) -> float:
        """Seconds to wait before releasing something at ``stream_ms`` (0 if due or not realtime)."""
        if not self.realtime:
            return 0.0
        self.start()
        due = self._wall0 + stream_ms / 1000.0 / self.speed
        return max(0.0, due - time.monotonic())

    def wait_sync(self, stream_ms: float) -> None:
        delay = self.delay_s(stream_ms)
        if delay > 0:
            time.sleep(delay)

    async def wait(self, stream_ms: float) -> None:
        delay = self.delay_s(stream_ms)
        if delay > 0:
            await asyncio.sleep(delay)


async def paced(events: AsyncIterable[E], pacer: Pacer) -> AsyncIterator[E]:
    """Yield ``events`` no earlier than their :func:`release_ms` under ``pacer``."""
    async for event in events:
        await pacer.wait(release_ms(event))
        yield event


async def merge_by_stream_time(*sources: AsyncIterable[E]) -> AsyncIterator[E]:
    """Interleave several timed sources of one room by :func:`release_ms`.

    Each source must be roughly ordered by release time itself (media and replay are). The merge
    keeps one pending event per source and yields the earliest, so it waits for a slow source
    rather than emitting out of order; ties keep the order of ``sources``.
    """
    iterators = [aiter(s) for s in sources]
    heap: list[tuple[int, int, int, E]] = []
    counter = 0  # tie-breaker so events themselves are never compared

    async def pull(i: int) -> None:
        nonlocal counter
        try:
            event = await anext(iterators[i])
        except StopAsyncIteration:
            return
        heapq.heappush(heap, (release_ms(event), i, counter, event))
        counter += 1

    await asyncio.gather(*(pull(i) for i in range(len(iterators))))
    while heap:
        _, i, _, event = heapq.heappop(heap)
        yield event
        await pull(i)
