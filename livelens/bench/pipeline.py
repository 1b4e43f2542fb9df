"""``livelens bench pipeline``: synthetic chat + commerce for N rooms through the real broker and worker.

Measures, per offered rate:
* hop latency  — input ingested → room_metrics emitted by the worker (one broker hop + processing);
* e2e latency  — input ingested → visible in Redis (pub/sub from the Redis sink: two hops);
* throughput   — events sent over the time until the worker had counted every one of them.
The highest sustained rate is the largest offered rate the worker kept up with (every chat
message and order counted, drained within 5 s of the end) while hop p99 stayed under
``--p99-limit-ms``.
"""

from __future__ import annotations

import asyncio
import json
import random
import shlex
import sys
import time
import uuid

import numpy as np
import redis.asyncio as aioredis
import typer
from rich.console import Console
from pydantic import SecretStr
from rich.table import Table

from livelens.workers import WorkerProcess
from streams.embedded import infrastructure
from streams.ingest.publisher import Publisher
from streams.kafka import ensure_topics, faust_internal_topics, start_producer
from streams.schemas import ChatMessage, CommerceEvent
from streams.settings import Settings
from streams.topics import TopicNames

console = Console(stderr=True)


def _event(room: str, stream_ms: int, rng: random.Random):
    r = rng.random()
    if r < 0.8:
        return "chat", ChatMessage(room_id=room, stream_ms=stream_ms, user_id=f"u{rng.randrange(500)}",
                                   text=rng.choice(["多少钱", "what size for 165cm?", "已拍", "好看 😍", "link?"]))
    kind = "order" if r < 0.9 else ("like" if r < 0.97 else "viewers")
    return "commerce", CommerceEvent(room_id=room, stream_ms=stream_ms, type=kind,
                                     count=rng.randrange(1, 3) if kind != "viewers" else rng.randrange(100, 5000),
                                     amount=129.0 if kind == "order" else 0.0)


async def _offer(publisher: Publisher, rooms: list[str], rate: float, seconds: float,
                 rng: random.Random) -> tuple[int, int]:
    """Send ``rate`` events/s spread over the rooms for ``seconds``.

    Returns (events sent, of which chat messages + orders: what the room totals count)."""
    t0 = time.time()
    sent, counted, tick = 0, 0, 0.01
    while (elapsed := time.time() - t0) < seconds:
        due = int(rate * elapsed) - sent
        for _ in range(max(due, 0)):
            room = rooms[sent % len(rooms)]
            topic, ev = _event(room, int((time.time() - T0) * 1000), rng)
            await publisher.publish(topic, ev)
            sent += 1
            counted += topic == "chat" or ev.type == "order"
        await asyncio.sleep(tick)
    await publisher.flush()
    return sent, counted


T0 = time.time()  # common stream clock for all rooms of a run


async def _run(settings: Settings, n_rooms: int, rates: list[float], seconds: float, p99_limit_ms: float,
               n_workers: int = 1) -> dict:
    global T0
    results = []
    with infrastructure(settings.kafka_bootstrap, settings.redis_url.get_secret_value() if settings.redis_url else None,
                        log_dir=settings.data_dir / "logs") as infra:
        run = uuid.uuid4().hex[:6]
        settings = settings.model_copy(update={"app_id": f"bench-{run}", "topic_prefix": f"bench{run}",
                                               "metrics_window_ms": 1000, "processors": ["metrics"]})
        topics = TopicNames(settings.topic_prefix)
        await ensure_topics(settings, infra.kafka_bootstrap, topics.all() + faust_internal_topics(settings, ["room_metrics"]))
        worker_settings = settings.model_copy(update={
            "kafka_bootstrap": infra.kafka_bootstrap, "redis_url": SecretStr(infra.redis_url), "metrics_port": 0})
        # n processes in ONE consumer group: rooms spread over them by partition
        workers = [WorkerProcess(worker_settings, settings.data_dir / "logs" / f"bench-worker-{i}.log").start()
                   for i in range(n_workers)]
        redis = aioredis.from_url(infra.redis_url)
        try:
            for worker in workers:
                await worker.wait_ready(90)
            await asyncio.sleep(2.0 if n_workers > 1 else 0.0)  # the last join triggers one more rebalance
            producer = await start_producer(settings, infra.kafka_bootstrap)
            publisher = Publisher(producer, topics, input_topics=("chat", "commerce"))
            for step, rate in enumerate(rates):
                rooms = [f"bench-{step}-{i}" for i in range(n_rooms)]
                T0 = time.time()
                pubsub = redis.pubsub()
                await pubsub.psubscribe("livelens:{bench-%d-*}:events" % step)
                e2e: list[float] = []
                hop: list[float] = []

                async def listen():
                    async for msg in pubsub.listen():
                        if msg["type"] != "pmessage":
                            continue
                        ev = json.loads(msg["data"])
                        if ev.get("kind") == "room_metrics":
                            e2e.append((time.time() - ev["ingested_at"]) * 1000)
                            hop.append((ev["emitted_at"] - ev["ingested_at"]) * 1000)
                listener = asyncio.create_task(listen())
                t_start = time.time()
                sent, counted = await _offer(publisher, rooms, rate, seconds, random.Random(step))
                for room in rooms:  # close the last windows
                    await publisher.marker(room, "end", int((time.time() - T0) * 1000))
                await publisher.flush()
                # wait until every room's final window is in Redis (or 30 s)
                deadline = time.time() + 30
                while time.time() < deadline:
                    ended = 0
                    for room in rooms:
                        ended += (await redis.hget("livelens:{%s}:state" % room, "ended")) == b"1"
                    if ended == len(rooms):
                        break
                    await asyncio.sleep(0.2)
                drain_s = time.time() - t_start
                listener.cancel()
                await pubsub.aclose()
                processed = 0
                for room in rooms:
                    v = await redis.hget("livelens:{%s}:state" % room, "total_messages")
                    o = await redis.hget("livelens:{%s}:state" % room, "total_orders")
                    processed += int(v or 0) + int(o or 0)
                results.append(_step_result(rate, n_rooms, seconds, sent, counted, processed, hop, e2e,
                                            drain_s, p99_limit_ms))
                console.print(_table([results[-1]]))
            await producer.stop()
        finally:
            await redis.aclose()
            for worker in workers:
                worker.stop()
    sustained = [r for r in results if r["kept_up"]]
    return {"rooms": n_rooms, "workers": n_workers, "seconds_per_step": seconds, "steps": results,
            "highest_sustained_events_per_s": max((r["offered_per_s"] for r in sustained), default=0.0)}


def _step_result(rate, n_rooms, seconds, sent, counted, processed, hop, e2e, drain_s, p99_limit_ms) -> dict:
    pct = lambda a, q: float(np.percentile(a, q)) if a else float("nan")  # noqa: E731
    # kept up: nothing lost, drained within 5 s of the end of offering, hop p99 under the limit
    kept_up = bool(hop) and processed == counted and pct(hop, 99) <= p99_limit_ms and drain_s <= seconds + 5
    return {"offered_per_s": rate, "rooms": n_rooms, "sent": sent, "counted_sent": counted,
            "counted_processed": processed,
            "achieved_per_s": round(sent / drain_s, 1), "drain_s": round(drain_s, 2),
            "hop_p50_ms": round(pct(hop, 50), 1), "hop_p99_ms": round(pct(hop, 99), 1),
            "e2e_p50_ms": round(pct(e2e, 50), 1), "e2e_p99_ms": round(pct(e2e, 99), 1),
            "samples": len(hop), "kept_up": kept_up}


def _table(rows: list[dict]) -> Table:
    t = Table()
    for col in ("offered/s", "rooms", "sent", "achieved/s", "hop p50", "hop p99", "e2e p50", "e2e p99", "kept up"):
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(f"{r['offered_per_s']:g}", str(r["rooms"]), str(r["sent"]), f"{r['achieved_per_s']:g}",
                  f"{r['hop_p50_ms']:.1f}", f"{r['hop_p99_ms']:.1f}", f"{r['e2e_p50_ms']:.1f}",
                  f"{r['e2e_p99_ms']:.1f}", "yes" if r["kept_up"] else "no")
    return t


def register(app: typer.Typer) -> None:
    @app.command()
    def pipeline(
        rooms: int = typer.Option(10, help="Simulated rooms"),
        rate: float = typer.Option(None, help="One offered rate (events/s); default: a ramp"),
        seconds: float = typer.Option(10.0, help="Seconds per step"),
        p99_limit_ms: float = typer.Option(300.0, help="A step is sustained if hop p99 stays under this"),
        workers: int = typer.Option(1, help="Worker processes in one consumer group (scale-out)"),
        json_out: bool = typer.Option(False, "--json", help="Print JSON"),
    ) -> None:
        """Chat + commerce for N rooms through the real broker and worker: latency and events/s."""
        rates = [rate] if rate else [250.0, 500.0, 1000.0, 2000.0, 4000.0]
        settings = Settings()
        (settings.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        result = asyncio.run(_run(settings, rooms, rates, seconds, p99_limit_ms, workers))
        cmd = "livelens bench pipeline " + " ".join(shlex.quote(a) for a in sys.argv[3:])
        result["command"] = cmd.strip()
        if json_out:
            print(json.dumps(result, indent=2))
        else:
            console.print(_table(result["steps"]))
            console.print(f"highest sustained: {result['highest_sustained_events_per_s']:g} events/s "
                          f"({rooms} rooms, {workers} worker process(es), hop p99 ≤ {p99_limit_ms:g} ms)")
            console.print(f"command: {result['command']}")
