"""Catch-up throughput of one light worker: a fixed backlog of chat and commerce for R rooms is
published first, then the worker (metrics, chat, selling_points, fusion, anomaly, recommender +
the Redis sink) starts and drains it, through the embedded broker and Redis.

    .venv/bin/python scripts/bench_catchup.py [rooms=50] [seconds=60] [repeats=1]

Prints inputs per second drained and the worker's CPU seconds (user + sys, from the moment it
holds its partitions to the moment every room's end marker reached Redis) per 1000 inputs. Why
beside ``livelens bench load``: at the load where the live benchmark's p99 breaks, one 30 s run
differs from the next by more than most code changes do (this virtual machine's speed moves
within minutes); a drained backlog measures the worker's capacity without that cliff. Compare
two versions by alternating them (``PYTHONPATH=<other checkout>``), several repeats each.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
import uuid
from pathlib import Path

import redis.asyncio as aioredis

from livelens.bench.load import LIGHT_POOL, proc_cpu_s
from livelens.bench.machine import reference_ms
from livelens.sample_room import ensure_sample_room
from livelens.workers import WorkerProcess
from streams.embedded import infrastructure
from streams.ingest.publisher import Publisher
from streams.kafka import ensure_topics, start_producer
from streams.schemas import ChatMessage, CommerceEvent
from streams.settings import Settings
from streams.topics import TopicNames

ROOT = Path(__file__).resolve().parents[1]
CHAT_PER_S = 10  # per room; a commerce event every 0.5 s


async def _backlog(settings: Settings, rooms: list[str], seconds: int, lines: list[str]) -> int:
    topics = TopicNames(settings.topic_prefix)
    # the input is published before the worker exists; it creates its changelog topics itself
    await ensure_topics(settings, settings.kafka_bootstrap, topics.all())
    producer = await start_producer(settings, settings.kafka_bootstrap)
    publisher = Publisher(producer, topics, input_topics=("chat", "commerce"))
    rng, n = random.Random(1), 0
    try:
        for t in range(0, seconds * 1000, 1000 // CHAT_PER_S):
            for room in rooms:
                await publisher.publish("chat", ChatMessage(
                    room_id=room, stream_ms=t + rng.randrange(100), user_id=f"u{rng.randrange(500)}", text=rng.choice(lines)))
                n += 1
                if t % 500 == 0:
                    await publisher.publish("commerce", CommerceEvent(
                        room_id=room, stream_ms=t, type=rng.choice(["order", "cart", "like", "viewers"]),
                        count=rng.randrange(1, 900), amount=9.9))
                    n += 1
        for room in rooms:
            await publisher.marker(room, "end", seconds * 1000)  # on chat and on commerce
            n += 2
        await publisher.flush()
    finally:
        await producer.stop()
    return n


async def _run(infra, n_rooms: int, seconds: int, lines: list[str]) -> tuple[int, float, float]:
    run = uuid.uuid4().hex[:6]
    settings = Settings(kafka_bootstrap=infra.kafka_bootstrap, redis_url=infra.redis_url, topic_prefix=f"c{run}",
                        app_id=f"catchup-{run}", partitions=4, processors=LIGHT_POOL, metrics_port=0,
                        fetch_max_wait_ms=50, data_dir=ROOT / "var" / "bench-catchup" / run, _env_file=None)
    rooms = [f"catchup-{run}-{i}" for i in range(n_rooms)]
    n = await _backlog(settings, rooms, seconds, lines)
    worker = WorkerProcess(settings, settings.data_dir / "worker.log").start()
    redis = aioredis.from_url(infra.redis_url, decode_responses=True)
    try:
        await worker.wait_ready(180)
        cpu0, t0 = proc_cpu_s(worker.pid), time.time()
        while True:  # the Redis sink marks a room ended once its last metrics window is written
            ended = [await redis.hget(f"livelens:{{{room}}}:state", "ended") for room in rooms]
            if all(e == "1" for e in ended):
                break
            if time.time() - t0 > 600:
                raise TimeoutError(f"not drained in 600 s: {worker.log_tail()}")
            await asyncio.sleep(0.2)
        return n, proc_cpu_s(worker.pid) - cpu0, time.time() - t0
    finally:
        await redis.aclose()
        worker.stop()


async def main(n_rooms: int, seconds: int, repeats: int) -> None:
    room_dir = ensure_sample_room(ROOT / "var" / "sample_room", "en")
    lines = [json.loads(x)["text"] for x in (room_dir / "chat.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    with infrastructure(None, None) as infra:
        for _ in range(repeats):
            before = reference_ms()
            n, cpu_s, wall_s = await _run(infra, n_rooms, seconds, lines)
            print(f"{n_rooms} rooms x {seconds} s: {n} inputs drained in {wall_s:.1f} s ({n / wall_s:.0f}/s), "
                  f"worker CPU {cpu_s:.1f} s = {1000 * cpu_s / n:.2f} s per 1000 inputs; "
                  f"machine reference {before:.0f}/{reference_ms():.0f} ms before/after "
                  "(livelens/bench/machine.py, lower is faster)", flush=True)
    print(f"command: {' '.join(['.venv/bin/python', 'scripts/bench_catchup.py'] + sys.argv[1:])}")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:4]]
    asyncio.run(main(*(args + [50, 60, 1][len(args):])))
