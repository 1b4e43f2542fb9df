"""Frames and commerce of the sample room through the broker: vision features and fused windows."""

from __future__ import annotations

import json

import pytest

from models.fusion import OnlineFusionLearner
from streams.ingest.publisher import Publisher
from streams.ingest.runner import run_ingest
from streams.topics import TopicNames
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.integration
ROOM = "vf-room"


async def test_sample_room_yields_vision_features_and_fused_windows(
        settings, producer, worker_factory, redis_client, sample_room_dir):
    await worker_factory(["vision", "fusion"])
    publisher = Publisher(producer, TopicNames(settings.topic_prefix))
    await run_ingest(str(sample_room_dir / "room.mp4"), ROOM, settings, publisher.publish,
                     replay=[sample_room_dir / "commerce.jsonl"], realtime=True, speed=8.0)
    await publisher.flush()
    duration_ms = json.loads((sample_room_dir / "manifest.json").read_text())["duration"] * 1000

    async def fused():
        rows = await redis_client.xrange(f"livelens:{{{ROOM}}}:stream:fused_window")
        windows = [json.loads(f["event"]) for _id, f in rows]
        return windows if windows and windows[-1]["end_ms"] >= duration_ms - 2 * settings.fusion.hop_ms else None

    windows = await wait_for(fused, timeout=120, what="fused windows up to the end of the room")
    ends = [w["end_ms"] for w in windows]
    assert ends == sorted(ends) and len(ends) == len(set(ends))
    assert all(b - a == settings.fusion.hop_ms for a, b in zip(ends, ends[1:]))
    for w in windows:
        assert 0.0 <= w["highlight_score"] <= 1.0 and w["conversion_forecast"] >= 0
        present = set(w["modalities"])
        assert "commerce" in present
        assert all(w["attention"].get(m, 0.0) == 0.0 for m in w["attention"] if m not in present)  # masked
        assert set(w["influence"]) == present  # what moved the forecast: one value per present modality
        assert sum(w["attention"].values()) == pytest.approx(1.0, abs=1e-3)
    assert any("vision" in w["modalities"] for w in windows)

    rows = await redis_client.xrange(f"livelens:{{{ROOM}}}:stream:vision")
    frames = [json.loads(f["event"]) for _id, f in rows]
    assert len(frames) >= 10
    # the generator's shot list says when the real talking-head footage is on screen
    shots = json.loads((sample_room_dir / "labels.json").read_text())["shots"]

    def visual_at(ms):
        return [sh["visual"] for sh in shots if sh["start"] * 1000 <= ms][-1]

    host = [v for v in frames if visual_at(v["stream_ms"]) == "host"]
    cards = [v for v in frames if visual_at(v["stream_ms"]) != "host"]
    assert host and cards
    assert sum(v["faces"] >= 1 for v in host) >= 0.7 * len(host)     # the host is found on real footage
    assert sum(v["faces"] == 0 for v in cards) >= 0.7 * len(cards)   # and not on rendered product cards
    assert all(0 <= x <= 1 for v in host if v["face_box"] for x in v["face_box"])
    assert any(v["scene_cut"] for v in frames)  # product cards cut in
    checkpoint = settings.data_dir / "fusion" / f"{ROOM}.pt"
    await wait_for(checkpoint.exists, timeout=30, what="the room's fusion checkpoint, saved at the end of the stream")
    # the room's model learned online from its windows (queued steps run before the save)
    assert OnlineFusionLearner.load(checkpoint).updates >= 1
