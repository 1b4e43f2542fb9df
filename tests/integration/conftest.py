"""Integration fixtures: a real Kafka-protocol broker (Tansu), a real Redis, real workers.

One broker and one Redis per test session (each starts in ~0.1 s); every test gets a fresh
topic prefix and app id (Tansu keeps everything in memory and consumer groups must be new).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from livelens import workers as livelens_workers
from streams.embedded import EmbeddedBroker, EmbeddedRedis
from streams.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    b = EmbeddedBroker(log_file=tmp_path_factory.mktemp("tansu") / "tansu.log").start()
    yield b
    b.stop()


@pytest.fixture(scope="session")
def redis_server():
    r = EmbeddedRedis().start()
    yield r
    r.stop()


@pytest.fixture
async def redis_client(redis_server):
    client = aioredis.from_url(redis_server.url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
def settings(broker, redis_server, tmp_path) -> Settings:
    run = uuid.uuid4().hex[:8]
    return Settings(
        kafka_bootstrap=broker.bootstrap, redis_url=redis_server.url, topic_prefix=f"t{run}",
        app_id=f"livelens-test-{run}", partitions=4, data_dir=tmp_path / "var",
        segment_store=str(tmp_path / "segments"), metrics_port=0, idle_flush_s=3.0,
        _env_file=None,
    )


class WorkerProcess(livelens_workers.WorkerProcess):
    """The tests' flavour of a real ``livelens worker`` process: processors given explicitly,
    ``await start()`` returns once it holds partitions."""

    def __init__(self, settings: Settings, log_path: Path, processors: list[str] | None = None,
                 extra_env: dict[str, str] | None = None):
        super().__init__(settings.model_copy(update={"processors": processors or settings.processors}),
                         log_path, loglevel="info", extra_env=extra_env)

    async def start(self, timeout: float = 60) -> "WorkerProcess":  # type: ignore[override]
        super().start()
        await self.wait_ready(timeout)
        return self


@pytest.fixture
async def worker_factory(settings, tmp_path):
    workers: list[WorkerProcess] = []

    async def start(processors: list[str] | None = None, name: str = "worker",
                    extra_env: dict[str, str] | None = None) -> WorkerProcess:
        w = WorkerProcess(settings, tmp_path / f"{name}-{len(workers)}.log", processors, extra_env)
        workers.append(w)
        return await w.start()

    yield start
    for w in workers:
        w.stop()


@pytest.fixture
async def producer(settings):
    from streams.kafka import ensure_topics, start_producer
    from streams.topics import TopicNames

    await ensure_topics(settings, settings.kafka_bootstrap, TopicNames(settings.topic_prefix).all())
    p = await start_producer(settings, settings.kafka_bootstrap)
    yield p
    await p.stop()
