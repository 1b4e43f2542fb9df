"""A worker that starts before its broker retries with backoff and a clear message, then gives up cleanly."""

from __future__ import annotations

import logging
import time

import pytest

from streams.embedded import free_port
from streams.kafka import ensure_topics
from streams.settings import Settings


async def test_unreachable_broker_is_retried_then_reported(caplog):
    bootstrap = f"127.0.0.1:{free_port()}"
    t0 = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="streams.kafka"):
        with pytest.raises(ConnectionError, match="LIVELENS_KAFKA_BOOTSTRAP"):
            await ensure_topics(Settings(_env_file=None), bootstrap, ["t"], wait_s=1.5)
    waited = time.monotonic() - t0
    assert 1.4 < waited < 5
    retries = [r.getMessage() for r in caplog.records if "not reachable" in r.getMessage()]
    assert len(retries) >= 3 and all(bootstrap in m and "retrying in" in m for m in retries)
