"""Live clips end to end: real media ingest -> segment store; selling points on the real broker ->
a worker running the clipper -> Clip events, clip files that decode, the Redis index, the API."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from livelens.sample_room import shared_data_dir
from media.cutter import probe_clip
from streams.ingest.publisher import Publisher
from streams.ingest.runner import run_ingest
from streams.schemas import SellingPoint, Transcript, Word
from streams.topics import TopicNames
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.integration

VIDEO = shared_data_dir() / "video" / "talking_1.mp4"
ROOM = "clip-room"


def _words(start_ms: int, end_ms: int, text: str) -> list[Word]:
    tokens = text.split()
    step = (end_ms - start_ms) // len(tokens)
    return [Word(start_ms=start_ms + i * step, end_ms=start_ms + i * step + step - 60, text=t)
            for i, t in enumerate(tokens)]


async def test_selling_points_become_clips_in_files_redis_and_api(
        settings, producer, worker_factory, redis_client, monkeypatch, tmp_path):
    if not VIDEO.is_file():
        pytest.skip(f"../shared/data/video/talking_1.mp4 missing ({VIDEO}): real talking-head footage")
    clips_dir = tmp_path / "clips"
    settings.clips.out_dir = clips_dir  # the worker process gets exactly these settings
    settings.clips.min_s = 1.5  # the footage is 6 s long
    await worker_factory(["clipper", "compliance"])

    topics = TopicNames(settings.topic_prefix)
    # the host says something a platform bans inside the second clip's span: that clip is held
    said = Transcript(room_id=ROOM, stream_ms=5600, segment_id="t1", is_final=True, start_ms=3800, end_ms=5000,
                      text="the best in the world", language="en", words=_words(3800, 5000, "the best in the world"),
                      processor="asr")
    await producer.send_and_wait(topics.transcripts, key=said.key, value=said.to_bytes())
    publisher = Publisher(producer, topics)
    await run_ingest(str(VIDEO), ROOM, settings, publisher.publish, realtime=False)
    await publisher.flush()

    spans = [("fabric_material", 400, 2600, "This silk is soft and cool on the skin."),
             ("price_promotion", 3200, 5600, "Today only one hundred twenty nine yuan.")]
    for i, (label, start, end, text) in enumerate(spans):
        sp = SellingPoint(room_id=ROOM, stream_ms=end, segment_id=f"sp{i}", category="apparel", label=label,
                          label_en=label.replace("_", " "), start_ms=start, end_ms=end, text=text,
                          confidence=0.9, words=_words(start, end, text))
        await producer.send_and_wait(topics.selling_points, key=sp.key, value=sp.to_bytes())

    async def clip_events():
        rows = await redis_client.xrange(f"livelens:{{{ROOM}}}:stream:clip")
        events = [json.loads(f["event"]) for _id, f in rows]
        # each clip is announced with its MP4, then again (revision 1) with the vertical variant
        return events if sum(e["revision"] == 1 for e in events) >= 2 else None

    events = await wait_for(clip_events, timeout=120, what="two clips and their vertical updates in Redis")
    announced = {e["clip_id"]: e for e in events if e["revision"] == 0}
    clips = [e for e in events if e["revision"] == 1]
    assert sorted(announced) == sorted(c["clip_id"] for c in clips)
    for c in clips:
        first = announced[c["clip_id"]]
        assert first["pending"] == ["vertical"] and "vertical" not in first["files"] and "mp4" in first["files"]
        assert first["emitted_at"] <= c["emitted_at"] and not c["pending"] and "vertical" in c["files"]
        assert (first["start_ms"], first["end_ms"]) == (c["start_ms"], c["end_ms"])
    assert {c["label"] for c in clips} == {"fabric_material", "price_promotion"}
    held = {c["label"]: c for c in clips}
    assert held["price_promotion"]["hold"] and [v["term"] for v in held["price_promotion"]["compliance"]] == [
        "best in the world"]
    assert not held["fabric_material"]["hold"] and held["fabric_material"]["compliance"] == []
    for c in clips:
        assert c["status"] == "ready", c["reason"]
        assert c["emitted_at"] > c["ingested_at"]
        folder = clips_dir / ROOM / c["clip_id"]
        for name in ("clip.mp4", "vertical.mp4", "clip.srt", "clip.vtt", "thumb.jpg", "meta.json"):
            assert (folder / name).is_file(), name
        info = probe_clip(folder / "clip.mp4")
        assert abs(info["video_frames"] * 1000 / 22.1 - (c["end_ms"] - c["start_ms"])) < 100  # 1350/61 fps
        assert info["audio_samples"] > 0
        vertical = probe_clip(folder / "vertical.mp4")
        assert vertical["width"] / vertical["height"] == pytest.approx(9 / 16, abs=0.01)
        assert "-->" in (folder / "clip.srt").read_text()

    index = await redis_client.zrange(f"livelens:{{{ROOM}}}:clips", 0, -1)
    assert sorted(index) == sorted(c["clip_id"] for c in clips)

    from sinks.web.app import create_api

    api_settings = settings.model_copy(update={"api_token": None, "clips": settings.clips.model_copy(
        update={"out_dir": clips_dir})})
    app = create_api(api_settings, settings.redis_url.get_secret_value(), None)
    token = (settings.data_dir / "api-token").read_text().strip()
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {token}"}
        listed = client.get(f"/api/rooms/{ROOM}/clips", headers=auth)
        assert listed.status_code == 200 and len(listed.json()) == 2
        first = listed.json()[0]
        r = client.get(first["files"]["mp4"], headers=auth)
        assert r.status_code == 200 and r.headers["content-type"] == "video/mp4" and len(r.content) > 1000
        assert client.get(first["files"]["mp4"]).status_code == 401
        assert client.get(f"/api/rooms/{ROOM}/clips").status_code == 401
