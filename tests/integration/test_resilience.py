"""Run it like production, and break it: a worker SIGKILLed while another takes over, Redis
restarted under a running worker, a worker started before its broker, a slow Redis.

Everything is real: the Tansu broker, Valkey, ``livelens worker`` subprocesses.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from aiokafka.partitioner import murmur2

from streams.embedded import EmbeddedBroker, EmbeddedRedis, free_port
from streams.ingest.publisher import Publisher
from streams.schemas import ChatMessage, CommerceEvent
from streams.topics import TopicNames
from tests.integration.conftest import WorkerProcess
from tests.integration.helpers import metrics_windows, wait_for, wait_stable

pytestmark = pytest.mark.integration

WINDOW_MS = 1000


@pytest.fixture
def settings(settings, monkeypatch):
    # short windows: outputs every second of stream time, so a stall is visible at once;
    # no idle flush (it would add partial windows while a test deliberately pauses input)
    monkeypatch.setenv("LIVELENS_METRICS_WINDOW_MS", str(WINDOW_MS))
    return settings.model_copy(update={"metrics_window_ms": WINDOW_MS, "idle_flush_s": 600.0})


def rooms_covering_partitions(partitions: int, per_partition: int, prefix: str) -> list[str]:
    """Room ids whose keys land on every partition (aiokafka's default murmur2 partitioner)."""
    by_partition: dict[int, list[str]] = {p: [] for p in range(partitions)}
    i = 0
    while any(len(v) < per_partition for v in by_partition.values()):
        room = f"{prefix}-{i}"
        p = (murmur2(room.encode()) & 0x7FFFFFFF) % partitions
        if len(by_partition[p]) < per_partition:
            by_partition[p].append(room)
        i += 1
    return [r for rooms in by_partition.values() for r in rooms]


class Traffic:
    """Chat and orders for several rooms, with exact counts of what was sent."""

    def __init__(self, publisher: Publisher, rooms: list[str], seed: int = 9):
        self.publisher = publisher
        self.rooms = rooms
        self.rng = random.Random(seed)
        self.sent = {room: {"messages": 0, "orders": 0} for room in rooms}

    async def span(self, start_ms: int, end_ms: int, step_ms: int = 50, speed: float | None = None) -> None:
        """Send events for stream time [start_ms, end_ms); ``speed`` paces against the wall clock."""
        t0 = time.monotonic()
        for t in range(start_ms, end_ms, step_ms):
            for room in self.rooms:
                if self.rng.random() < 0.8:
                    await self.publisher.publish("chat", ChatMessage(
                        room_id=room, stream_ms=t, user_id=f"u{self.rng.randrange(30)}", text="hi"))
                    self.sent[room]["messages"] += 1
                else:
                    await self.publisher.publish("commerce", CommerceEvent(
                        room_id=room, stream_ms=t, type="order", amount=2.0))
                    self.sent[room]["orders"] += 1
            if speed:
                ahead = (t - start_ms) / 1000 / speed - (time.monotonic() - t0)
                if ahead > 0:
                    await asyncio.sleep(ahead)
            else:
                await asyncio.sleep(0)
        await self.publisher.flush()

    async def end(self, stream_ms: int) -> None:
        for room in self.rooms:
            await self.publisher.marker(room, "end", stream_ms)
        await self.publisher.flush()


async def ended_state(client, room: str):
    state = await client.hgetall(f"livelens:{{{room}}}:state")
    return state if state.get("ended") == "1" else None


async def assert_exact(client, traffic: Traffic, timeout: float = 90) -> dict[str, list[dict]]:
    """Every room's final totals equal what was sent, and no window appears twice in Redis."""
    out = {}
    for room in traffic.rooms:
        state = await wait_for(lambda r=room: ended_state(client, r), timeout=timeout, what=f"{room} final window")
        assert int(state["total_messages"]) == traffic.sent[room]["messages"], room
        assert int(state["total_orders"]) == traffic.sent[room]["orders"], room
        windows = await metrics_windows(client, room)
        starts = [w["window_start_ms"] for w in windows]
        assert len(starts) == len(set(starts)), f"{room}: a window was written twice into Redis"
        out[room] = windows
    return out


# ------------------------------------------------------------------------------ failover


async def test_sigkill_one_of_two_workers_the_other_takes_over_its_rooms(
        settings, producer, worker_factory, redis_client):
    rooms = rooms_covering_partitions(settings.partitions, 2, "fo")
    traffic = Traffic(Publisher(producer, TopicNames(settings.topic_prefix), input_topics=("chat", "commerce")), rooms)
    doomed = await worker_factory(["metrics"], name="doomed")
    await worker_factory(["metrics"], name="survivor")  # joining rebalances: each holds 2 of 4 partitions

    sender = asyncio.create_task(traffic.span(0, 24_000, speed=2.0))  # 12 s of wall clock
    # every room has output, so both workers are working
    for room in rooms:
        await wait_for(lambda r=room: metrics_windows(redis_client, r), timeout=30, what=f"{room} first window")
    # ... and has been for a while (a few windows each, so offsets and table state were committed)
    for room in rooms:
        await wait_for(lambda r=room: _at_least_windows(redis_client, r, 3), timeout=60, what=f"{room} third window")
    killed_at = time.time()
    doomed.kill()
    await sender
    await traffic.end(24_000)
    windows = await assert_exact(redis_client, traffic)

    # failover time: from the kill to the first output after it, for the slowest room
    # (the dead worker's rooms wait for the session timeout, the rebalance and the changelog restore)
    gaps = {room: min(w["emitted_at"] for w in ws if w["emitted_at"] > killed_at) - killed_at
            for room, ws in windows.items()}
    failover_s = max(gaps.values())
    print(f"\nfailover after SIGKILL: {failover_s:.2f} s (session timeout {settings.session_timeout_s:.0f} s); "
          f"per room: " + ", ".join(f"{r}={g:.2f}" for r, g in sorted(gaps.items())))
    assert failover_s < 60


# ------------------------------------------------------------------------------ Redis restart


@pytest.fixture
def own_redis():
    """A Redis of this test's own (the test stops and replaces it)."""
    servers = [EmbeddedRedis().start()]
    yield servers
    for s in servers:
        s.stop()


async def test_redis_restart_under_a_running_worker_blocks_then_catches_up(
        settings, producer, worker_factory, own_redis, tmp_path):
    first = own_redis[0]
    settings = settings.model_copy(update={"redis_url": type(settings.redis_url)(first.url)})
    worker = WorkerProcess(settings, tmp_path / "worker-redis.log", ["metrics"])
    await worker.start()
    try:
        traffic = Traffic(Publisher(producer, TopicNames(settings.topic_prefix), input_topics=("chat", "commerce")),
                          ["redis-restart"])
        room = traffic.rooms[0]
        old = aioredis.from_url(first.url, decode_responses=True)
        await traffic.span(0, 10_000)
        await wait_for(lambda: metrics_windows(old, room), timeout=60, what="the first window")
        await wait_stable(lambda: _window_count(old, room), stable_s=1.5, timeout=60, what="first windows settled")
        before = {w["window_start_ms"] for w in await metrics_windows(old, room)}
        await old.aclose()

        first.stop()  # Redis gone: the sink retries, the agent blocks, input waits in Kafka
        await traffic.span(10_000, 20_000)
        await wait_for(lambda: "redis sink: write failed" in worker.log_tail(200_000), timeout=60,
                       what="the Redis sink to meet the outage")
        assert worker.proc.poll() is None, "worker died while Redis was down: " + worker.log_tail()
        second = EmbeddedRedis(port=first.port).start()  # same address, empty data
        own_redis.append(second)
        await traffic.span(20_000, 25_000)
        await traffic.end(25_000)

        new = aioredis.from_url(second.url, decode_responses=True)
        try:
            windows = await assert_exact(new, traffic, timeout=60)
        finally:
            await new.aclose()
        after = {w["window_start_ms"] for w in windows[room]}
        # nothing emitted while Redis was down is lost: old ∪ new covers every window, once
        assert not before & after, "a window written before the restart was written again"
        every = set(range(0, max(after) + WINDOW_MS, WINDOW_MS))
        assert before | after == every
        assert "redis sink: write failed" in worker.log_tail(200_000)
    finally:
        worker.stop()


async def _window_count(client, room: str) -> int:
    return len(await metrics_windows(client, room))


async def _at_least_windows(client, room: str, n: int) -> bool:
    return len(await metrics_windows(client, room)) >= n


# ------------------------------------------------------------------------------ broker down at start


async def test_worker_started_before_its_broker_waits_and_then_works(settings, redis_client, tmp_path):
    port = free_port()
    settings = settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{port}"})
    worker = WorkerProcess(settings, tmp_path / "worker-early.log", ["metrics"])
    starting = asyncio.create_task(worker.start(timeout=90))
    broker = None
    try:
        await wait_for(lambda: "not reachable" in worker.log_tail() or starting.done(), timeout=60,
                       what="the worker to report the missing broker")
        assert not starting.done(), "worker start finished without a broker: " + worker.log_tail()
        assert worker.proc.poll() is None, "worker crashed without a broker: " + worker.log_tail()
        assert "not reachable" in worker.log_tail(), worker.log_tail()
        broker = EmbeddedBroker(port=port, log_file=tmp_path / "late-tansu.log").start()
        await starting

        from streams.kafka import start_producer
        producer = await start_producer(settings, settings.kafka_bootstrap)
        try:
            traffic = Traffic(Publisher(producer, TopicNames(settings.topic_prefix),
                                        input_topics=("chat", "commerce")), ["late-broker"])
            await traffic.span(0, 3_000)
            await traffic.end(3_000)
            await assert_exact(redis_client, traffic, timeout=60)
        finally:
            await producer.stop()
    finally:
        if not starting.done():
            starting.cancel()
        worker.stop()
        if broker:
            broker.stop()


# ------------------------------------------------------------------------------ slow consumer


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def test_slow_redis_keeps_worker_memory_bounded(settings, producer, own_redis, tmp_path):
    """Redis writes paused while input keeps arriving: the worker's RSS plateaus.

    Every input is malformed (a 4 KB chat with a bad stream_ms), so each one makes a dead-letter
    event the Redis sink must write. With writes paused the sink blocks; once the stream buffers
    (``stream_buffer_maxsize``) are full, faust stops fetching and the backlog waits in Kafka.
    So a second batch as large as the first adds (almost) nothing to the worker's memory.
    """
    # its own Redis: the test pauses it, and fills it with thousands of dead letters. Small stream
    # buffers: at the default (1024 x 4 KB per agent, chat and dead letters) the buffers alone can
    # hold about one batch, so the plateau would only start during the second batch.
    settings = settings.model_copy(update={"redis_url": type(settings.redis_url)(own_redis[0].url),
                                           "stream_buffer_maxsize": 64})
    worker = await WorkerProcess(settings, tmp_path / "worker-slow.log", ["metrics"]).start()
    redis_client = aioredis.from_url(own_redis[0].url, decode_responses=True)
    try:
        await _slow_redis_scenario(settings, producer, worker, redis_client)
    finally:
        await redis_client.aclose()
        worker.stop()


async def _slow_redis_scenario(settings, producer, worker, redis_client) -> None:
    topic = TopicNames(settings.topic_prefix).chat
    bad = json.dumps({"kind": "chat", "room_id": "slow-room", "stream_ms": "soon", "user_id": "u",
                      "text": "x" * 4000}).encode()
    await producer.send_and_wait(topic, bad, key=b"slow-room")
    await wait_for(lambda: redis_client.xlen("livelens:{slow-room}:stream:dead_letter"), timeout=30,
                   what="the first dead letter")
    pid = worker.proc.pid
    baseline = rss_mb(pid)
    batch = 4_000  # two batches stay under the stream cap (redis_stream_maxlen), so all can be counted

    async def send_batch_and_watch() -> float:
        peak = 0.0
        for i in range(batch):
            await producer.send(topic, bad, key=b"slow-room")
            if i % 500 == 0:
                await producer.flush()
                peak = max(peak, rss_mb(pid))
        await producer.flush()

        async def peak_mb() -> int:  # the worker keeps fetching for a while: watch it until it stops growing
            nonlocal peak
            peak = max(peak, rss_mb(pid))
            return int(peak // 2)  # 2 MB steps: allocator noise is not growth

        await wait_stable(peak_mb, stable_s=3.0, timeout=90, what="the worker's memory to stop growing")
        return peak

    await redis_client.execute_command("CLIENT", "PAUSE", 90_000, "WRITE")
    try:
        after_first = await send_batch_and_watch()
        after_second = await send_batch_and_watch()
        paused_len = await redis_client.xlen("livelens:{slow-room}:stream:dead_letter")
    finally:
        await redis_client.execute_command("CLIENT", "UNPAUSE")
    batch_mb = batch * len(bad) / 2**20
    print(f"\nslow Redis: 2 x {batch_mb:.0f} MB sent while paused; worker RSS {baseline:.0f} MB -> "
          f"{after_first:.0f} MB after the first batch -> {after_second:.0f} MB after the second")
    assert paused_len <= 1, "Redis writes were not paused"
    assert worker.proc.poll() is None
    assert after_second - after_first < 0.25 * batch_mb, "worker memory kept growing with the backlog"
    # and once Redis is back, everything lands
    await wait_for(lambda: _at_least(redis_client, "livelens:{slow-room}:stream:dead_letter", 2 * batch + 1),
                   timeout=120, what="every dead letter after the pause")


async def _at_least(client, key: str, n: int) -> bool:
    return await client.xlen(key) >= n
