"""The foundation end to end: sample room -> real broker -> worker -> Redis."""

from __future__ import annotations

import pytest

from streams.ingest.publisher import Publisher
from streams.ingest.runner import run_ingest
from streams.topics import TopicNames
from tests.integration.helpers import expected_metrics, metrics_windows, wait_for

pytestmark = pytest.mark.integration


async def test_sample_room_metrics_in_redis_equal_what_the_jsonl_implies(
        settings, producer, worker_factory, redis_client, sample_room_dir):
    await worker_factory(["metrics"])
    room = "sample-en"
    publisher = Publisher(producer, TopicNames(settings.topic_prefix))
    stats = await run_ingest(str(sample_room_dir / "room.mp4"), room, settings, publisher.publish,
                             replay=[sample_room_dir / "chat.jsonl", sample_room_dir / "commerce.jsonl"],
                             realtime=False)
    await publisher.flush()
    assert stats.count("audio") > 0 and stats.count("frames") > 0 and stats.count("segments") > 0

    state = await wait_for(lambda: _ended(redis_client, room), timeout=90, what="the final metrics window")
    expected = expected_metrics(sample_room_dir / "chat.jsonl", sample_room_dir / "commerce.jsonl",
                                settings.metrics_window_ms)
    assert int(state["total_messages"]) == expected["totals"]["messages"]
    assert int(state["total_orders"]) == expected["totals"]["orders"]
    assert float(state["total_gmv"]) == pytest.approx(expected["totals"]["gmv"], abs=0.01)
    assert int(state["viewers"]) == expected["totals"]["viewers"]

    windows = await metrics_windows(redis_client, room)
    by_index = {w["window_start_ms"] // settings.metrics_window_ms: w for w in windows}
    assert len(by_index) == len(windows), "a window was written twice"
    for index, exp in expected["windows"].items():
        got = by_index[index]
        assert got["messages"] == exp["messages"], f"window {index}"
        assert got["orders"] == exp["orders"], f"window {index}"
        assert got["unique_chatters"] == len(exp["chatters"]), f"window {index}"
        assert got["messages_per_s"] == pytest.approx(exp["messages"] / (settings.metrics_window_ms / 1000))
    assert all(w["late_events"] == 0 for w in windows)
    assert windows[-1]["final"] is True


async def _ended(redis_client, room):
    state = await redis_client.hgetall(f"livelens:{{{room}}}:state")
    return state if state.get("ended") == "1" else None
