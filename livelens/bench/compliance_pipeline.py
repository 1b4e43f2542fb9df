"""``livelens bench compliance --pipeline``: compliance alert latency after the final transcript event.

A real broker + Redis (the configured ones, or embedded Tansu + Valkey) and one real worker running
the compliance processor and the Redis sink. Final transcripts (the labelled held-out lines, zh and
en, several rooms) are published on the transcripts topic at a steady rate, each stamped as if the
ASR had just emitted it (``ingested_at`` = send time), after a warm-up (one violating sentence
per room, measured apart: the first seconds after a worker starts are slower); a consumer on the compliance and
recommendations topics reads ``emitted_at − ingested_at`` of every alert and rephrase tip: the hop
from the final transcript to the alert, broker included. Budget: 300 ms (``budgets.compliance``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from pathlib import Path

import numpy as np
from pydantic import SecretStr

from livelens.bench.compliance import HELDOUT_FILE, load_examples
from streams.schemas import Transcript
from streams.settings import Settings
from streams.topics import TopicNames


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


async def measure(settings: Settings, lines: int = 300, rate_per_s: float = 20.0, rooms: int = 4,
                  progress=None) -> dict:
    """Publish ``lines`` final transcripts over ``rooms`` rooms at ``rate_per_s``; latency figures."""
    from livelens.worker import build_context
    from livelens.workers import WorkerProcess
    from streams.embedded import infrastructure
    from streams.kafka import ensure_topics, faust_internal_topics, start_producer, watch_events

    examples = load_examples(HELDOUT_FILE)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    redis_cfg = settings.redis_url.get_secret_value() if settings.redis_url else None
    run = uuid.uuid4().hex[:6]
    run_dir = (settings.data_dir / "bench-compliance" / run).resolve()
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    with infrastructure(settings.kafka_bootstrap, redis_cfg, log_dir=run_dir / "logs") as infra:
        step = settings.model_copy(update={
            "topic_prefix": f"cbench{run}", "app_id": f"cbench-{run}", "data_dir": run_dir, "metrics_port": 0,
            "processors": ["compliance"], "sinks": ["redis"], "kafka_bootstrap": infra.kafka_bootstrap,
            "redis_url": SecretStr(infra.redis_url), "segment_store": str(run_dir / "segments")})
        topics = TopicNames(step.topic_prefix)
        ctx = build_context(step, infra.kafka_bootstrap, infra.redis_url)
        await ensure_topics(step, infra.kafka_bootstrap, topics.all() + faust_internal_topics(step, ctx.tables))
        worker = WorkerProcess(step, run_dir / "logs" / "worker.log").start()
        latencies: dict[str, list[float]] = {"compliance": [], "recommendation": []}
        warmup: list[float] = []
        slow: list[tuple[float, float]] = []  # (seconds into the run, ms) of alerts over 100 ms
        stop, ready = asyncio.Event(), asyncio.Event()
        t0 = time.time()

        def seen(event) -> None:
            if event.event_id.startswith("warmup"):
                if event.kind == "compliance":
                    warmup.append(event.latency_ms)
            elif event.kind in latencies:
                latencies[event.kind].append(event.latency_ms)
                if event.kind == "compliance" and event.latency_ms > 100:
                    slow.append((round(event.ingested_at - t0, 1), round(event.latency_ms)))

        watcher = asyncio.create_task(watch_events(step, infra.kafka_bootstrap,
                                                   [topics.compliance, topics.recommendations], seen, stop, ready))
        producer = await start_producer(step, infra.kafka_bootstrap)
        try:
            await worker.wait_ready(120)
            await ready.wait()
            room_names = [f"cbench-{lang}-{r}" for lang in ("zh", "en") for r in range(rooms)]
            for n, room in enumerate(room_names):
                zh = "-zh-" in room
                tr = Transcript(room_id=room, event_id=f"warmup-{run}-{n}", stream_ms=0, segment_id=f"warm{n}",
                                is_final=True, start_ms=0, end_ms=900, text="全网最低价" if zh else "the best in the world",
                                language="zh" if zh else "en", processor="asr")
                tr.ingested_at = tr.emitted_at = time.time()
                await producer.send(topics.transcripts, tr.to_bytes(), key=tr.key)
            await producer.flush()
            deadline = time.time() + 60
            while len(warmup) < len(room_names) and time.time() < deadline:
                await asyncio.sleep(0.1)
            expected = 0
            t0 = time.time()
            for i in range(lines):
                e = examples[i % len(examples)]
                room = f"cbench-{e.lang}-{i % rooms}"
                await asyncio.sleep(max(0.0, t0 + i / rate_per_s - time.time()))
                tr = Transcript(room_id=room, event_id=f"{run}-{i}", stream_ms=1000 + i * 1000, segment_id=f"seg{i}",
                                is_final=True, start_ms=1000 + i * 1000, end_ms=1900 + i * 1000, text=e.text,
                                language=e.lang, processor="asr")
                tr.ingested_at = tr.emitted_at = time.time()  # as if the ASR emitted it now
                await producer.send(topics.transcripts, tr.to_bytes(), key=tr.key)
                expected += bool(e.kinds)
                if progress is not None:
                    progress(i + 1, lines)
            await producer.flush()
            deadline = time.time() + 30
            # every labelled violation line is flagged (held-out recall 1.0); wait for those alerts
            while len(latencies["compliance"]) < expected and time.time() < deadline:
                await asyncio.sleep(0.2)
        finally:
            stop.set()
            await watcher
            await producer.stop()
            worker.stop()
    alerts, tips = latencies["compliance"], latencies["recommendation"]
    return {
        "lines": lines, "rate_per_s": rate_per_s, "rooms": rooms * 2, "alerts": len(alerts),
        "expected_alerts_about": expected, "rephrase_tips": len(tips),
        "alert_latency_ms": {"p50": _pct(alerts, 50), "p99": _pct(alerts, 99),
                             "max": round(max(alerts), 1) if alerts else None},
        "tip_latency_ms": {"p50": _pct(tips, 50), "p99": _pct(tips, 99)},
        "warmup_alert_ms": {"alerts": len(warmup), "max": round(max(warmup), 1) if warmup else None},
        "budget_ms": settings.budgets.compliance,
        "slow_alerts_at_s_ms": slow,  # when in the run the alerts over 100 ms were sent, and their latency
        "worker_log": str(Path(run_dir / "logs" / "worker.log")),
    }
