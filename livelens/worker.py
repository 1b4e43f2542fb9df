"""``livelens worker``: one faust worker process running the configured processors and sinks."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import time

from sinks.redis import wait_for_redis
from streams.app import AppContext, create_app
from streams.framework import TaskDumpingWorker
from streams.kafka import ensure_topics, faust_internal_topics
from streams.observability import serve_metrics
from streams.settings import Settings
from streams.topics import TopicNames

log = logging.getLogger(__name__)


def build_context(settings: Settings, bootstrap: str, redis_url: str) -> AppContext:
    app = create_app(settings, bootstrap)
    ctx = AppContext(app=app, settings=settings, topics=TopicNames(settings.topic_prefix), redis_url=redis_url)
    for name in settings.processors:
        importlib.import_module(f"processors.{name}").register(ctx)
    ctx.start_dispatch()  # one agent for every processor that registered handlers (AppContext.on_event)
    for name in settings.sinks:
        importlib.import_module(f"sinks.{name}").register(ctx)
    ctx.models_loaded("the processors' models")  # the lazily loaded ones call it again

    @app.on_rebalance_complete.connect
    async def _announce_ready(sender, **_kwargs) -> None:
        # Readiness for demos, tests and health checks: this worker has its partitions.
        import redis.asyncio as aioredis

        client = aioredis.from_url(redis_url)
        try:
            await client.set(ready_key(settings.app_id, os.getpid()), str(time.time()), ex=3600)
        finally:
            await client.aclose()

    return ctx


def ready_key(app_id: str, pid: int | str = "*") -> str:
    return f"livelens:worker:{app_id}:{pid}:ready"


async def prepare_topics(settings: Settings, bootstrap: str, ctx: AppContext) -> None:
    names = ctx.topics.all() + faust_internal_topics(settings, ctx.tables)
    await ensure_topics(settings, bootstrap, names)


def use_event_loop(name: str) -> None:
    """Install the event loop implementation for the worker (its consumer thread gets one too).

    uvloop runs the loop and its sockets in C: the light worker's event loop (faust's dispatch,
    Kafka and Redis I/O) is its main-thread bottleneck under load (bench load, BENCHMARKS.md).
    """
    if name == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.warning("uvloop is not installed: using asyncio's event loop")
            return
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def run_worker(settings: Settings, bootstrap: str, redis_url: str, loglevel: str = "warning") -> None:
    """Blocks until the worker stops (SIGTERM/SIGINT)."""
    ctx = build_context(settings, bootstrap, redis_url)
    asyncio.run(prepare_topics(settings, bootstrap, ctx))
    asyncio.run(wait_for_redis(redis_url, settings.connect_wait_s))  # else faust logs a crash per try
    if settings.metrics_port:
        serve_metrics(settings.bind_host, settings.metrics_port)
        log.info("Prometheus metrics on http://%s:%d/metrics", settings.bind_host, settings.metrics_port)
    log.info("worker %s: processors=%s sinks=%s broker=%s", settings.app_id, settings.processors,
             settings.sinks, bootstrap)
    use_event_loop(settings.event_loop)
    worker = TaskDumpingWorker(ctx.app, loglevel=loglevel, quiet=True, redirect_stdouts=False,
                               override_logging=False)
    worker.execute_from_commandline()
