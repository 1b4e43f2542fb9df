"""A real Redis (embedded Valkey) for the web app's tests: sessions, decisions and feeds live there."""

from __future__ import annotations

import pytest
import redis

from streams.embedded import EmbeddedRedis


@pytest.fixture(scope="module")
def valkey():
    server = EmbeddedRedis().start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(valkey) -> str:
    """The module's Redis, emptied for each test."""
    sync = redis.Redis.from_url(valkey.url)
    sync.flushall()
    sync.close()
    return valkey.url
