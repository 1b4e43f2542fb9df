"""``livelens bench kafka-compat`` measures real round trips on both paths (a short run)."""

from __future__ import annotations

import shutil

import pytest

from livelens.bench.kafka_compat import _api_versions, _heartbeat, _kcat_produce, _raw
from streams.embedded import EmbeddedBroker


@pytest.fixture
def broker(tmp_path):
    b = EmbeddedBroker(log_file=tmp_path / "tansu.log").start()
    yield b
    b.stop()


def test_both_paths_answer_every_request_kind(broker):
    for make in (_heartbeat, _api_versions):
        result = _raw(broker, make, 50)
        assert set(result) == {"direct", "proxy"}
        assert all(0 < path["p50_ms"] <= path["p99_ms"] for path in result.values()), result


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed: scripts/setup.sh installs it")
def test_kcat_produces_through_the_proxy(broker):
    result = _kcat_produce(broker, 200)
    assert result["records"] == 200 and result["records_per_s"] > 0
