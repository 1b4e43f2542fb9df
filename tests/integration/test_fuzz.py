"""Malformed input at every entry point (CI-sized ``livelens fuzz``): no crash, every input rejected.

The full run (``livelens fuzz --count 10000``) is the same code with more inputs.
"""

from __future__ import annotations

import pytest

from livelens.commands.fuzz import run_fuzz
from streams.embedded import EmbeddedRedis

pytestmark = pytest.mark.integration


@pytest.fixture
def fuzz_redis():
    """A Redis of its own: the fuzz fills it with thousands of dead letters."""
    server = EmbeddedRedis().start()
    yield server
    server.stop()


async def test_a_thousand_malformed_inputs_are_all_rejected_and_the_worker_survives(settings, fuzz_redis, tmp_path):
    settings = settings.model_copy(update={"redis_url": type(settings.redis_url)(fuzz_redis.url)})
    report = await run_fuzz(settings, settings.kafka_bootstrap, fuzz_redis.url,
                            count=1000, processors=["metrics", "chat", "asr", "vision"], work_dir=tmp_path,
                            timeout_s=120)
    summary = report.as_dict()
    assert not report.crashes, summary["crashes"]
    assert report.worker_alive, "the worker died"
    assert report.canary_ok, "the worker no longer processes a valid room after the fuzz"
    for entry in ("kafka", "http", "replay", "media"):
        assert report.inputs(entry) > 0, f"no {entry} inputs generated"
        assert report.rejected[entry] == report.inputs(entry), (entry, summary["not_rejected"].get(entry))
    # every processor reading a topic dead-lettered each input on it exactly once
    assert report.expected_dead_letters, "no Kafka input was expected to be rejected"
    for key, expected in report.expected_dead_letters.items():
        assert report.dead_letters[key] == expected, (key, summary["dead_letters"])
    # HTTP rejects are kept on the dead-letter topic too
    assert report.dead_letters["http/ingest"] > 0
    # each kind of malformed input the generator knows came through at least once
    labels = {label.split("/", 1)[1] for label in report.sent["kafka"]}
    assert {"not_json", "invalid_utf8", "missing_field", "wrong_type", "oversized",
            "audio_truncated_pcm", "frame_corrupt_jpeg"} <= labels, labels
