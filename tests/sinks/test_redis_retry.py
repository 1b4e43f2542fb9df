"""The Redis sink waits out a Redis outage (retry with capped backoff) instead of raising."""

from __future__ import annotations

import asyncio
import time

from sinks.redis import RedisSink
from streams.embedded import EmbeddedRedis, free_port
from streams.observability import SINK_RETRIES
from streams.schemas import RoomMetrics


def _window(i: int) -> RoomMetrics:
    return RoomMetrics(room_id="retry-room", event_id=f"retry-room:metrics:{i}", stream_ms=1000 * (i + 1),
                       window_start_ms=1000 * i, window_ms=1000, messages=1, unique_chatters=1,
                       messages_per_s=1.0, orders=0, orders_per_min=0.0, gmv=0.0,
                       total_messages=i + 1, total_orders=0, total_gmv=0.0)


async def test_a_write_blocks_while_redis_is_down_and_lands_once_it_is_back():
    port = free_port()
    sink = RedisSink(f"redis://127.0.0.1:{port}/0", retry_initial_s=0.05, retry_max_s=0.4)
    retries_before = SINK_RETRIES.labels("redis")._value.get()
    server = None
    try:
        write = asyncio.create_task(sink.write(_window(0)))
        deadline = time.monotonic() + 30
        while SINK_RETRIES.labels("redis")._value.get() - retries_before < 3:  # it has met the outage, thrice
            assert not write.done(), "the write gave up (or succeeded) without a Redis"
            assert time.monotonic() < deadline, "the write did not retry"
            await asyncio.sleep(0.02)
        assert not write.done(), "the write gave up (or succeeded) without a Redis"
        server = EmbeddedRedis(port=port).start()
        t0 = time.monotonic()
        assert await asyncio.wait_for(write, 5) is True
        assert time.monotonic() - t0 < 1.0, "backoff not capped"
        assert SINK_RETRIES.labels("redis")._value.get() - retries_before >= 3
        assert await sink.state("retry-room") and await sink.rooms() == ["retry-room"]
        assert await sink.write(_window(0)) is False  # still idempotent
    finally:
        await sink.close()
        if server:
            server.stop()


async def test_wait_for_redis_gives_up_with_a_line_naming_the_address_but_not_the_password():
    import pytest

    from sinks.redis import wait_for_redis

    port = free_port()
    t0 = time.monotonic()
    with pytest.raises(ConnectionError) as failed:
        await wait_for_redis(f"redis://:hunter2@127.0.0.1:{port}/0", wait_s=0.5)
    assert time.monotonic() - t0 < 10
    assert f"127.0.0.1:{port} not reachable" in str(failed.value) and "hunter2" not in str(failed.value)


async def test_wait_for_redis_returns_once_a_late_redis_answers():
    from sinks.redis import wait_for_redis

    port = free_port()
    loop = asyncio.get_running_loop()
    starting = loop.run_in_executor(None, lambda: EmbeddedRedis(port=port).start())
    try:
        await wait_for_redis(f"redis://127.0.0.1:{port}/0", wait_s=60)
    finally:
        (await starting).stop()
