"""Integration fixtures: a real Kafka-protocol broker (Tansu), a real Redis, real workers.

One broker and one Redis per test session (each starts in ~0.1 s); every test gets a fresh
topic prefix and app id (Tansu keeps everything in memory and consumer groups must be new).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from livelens.worker import ready_key
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


class WorkerProcess:
    """A real ``livelens worker`` subprocess."""

    def __init__(self, settings: Settings, log_path: Path, processors: list[str] | None = None):
        self.settings = settings
        self.log_path = log_path
        self.processors = processors or settings.processors
        self.proc: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        s = self.settings
        return {**os.environ, "LIVELENS_KAFKA_BOOTSTRAP": s.kafka_bootstrap,
                "LIVELENS_REDIS_URL": s.redis_url.get_secret_value(), "LIVELENS_APP_ID": s.app_id,
                "LIVELENS_TOPIC_PREFIX": s.topic_prefix, "LIVELENS_PARTITIONS": str(s.partitions),
                "LIVELENS_PROCESSORS": json.dumps(self.processors), "LIVELENS_METRICS_PORT": "0",
                "LIVELENS_IDLE_FLUSH_S": str(s.idle_flush_s), "LIVELENS_DATA_DIR": str(s.data_dir),
                "LIVELENS_SEGMENT_STORE": s.segment_store}

    async def start(self, timeout: float = 60) -> "WorkerProcess":
        client = aioredis.from_url(self.settings.redis_url.get_secret_value())
        await client.delete(*(await client.keys(ready_key(self.settings.app_id)) or ["_"]))
        self.proc = subprocess.Popen([sys.executable, "-m", "livelens.cli", "worker", "--loglevel", "info"],
                                     env=self.env(), stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT)
        t0 = time.time()
        try:
            while time.time() - t0 < timeout:
                assert self.proc.poll() is None, f"worker exited early: {self.log_tail()}"
                if await client.keys(ready_key(self.settings.app_id, self.proc.pid)):
                    return self
                await asyncio.sleep(0.2)
        finally:
            await client.aclose()
        raise TimeoutError(f"worker not ready in {timeout} s: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, no final commit."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""


@pytest.fixture
async def worker_factory(settings, tmp_path):
    workers: list[WorkerProcess] = []

    async def start(processors: list[str] | None = None, name: str = "worker") -> WorkerProcess:
        w = WorkerProcess(settings, tmp_path / f"{name}-{len(workers)}.log", processors)
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
