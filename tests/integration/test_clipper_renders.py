"""Live platform renders end to end: real talking-head footage ingested into the segment store, a
zh and an en room's selling points on the real broker, a worker running the clipper with
``clips.platforms = douyin, tiktok``. Each room's clip is announced, then its vertical variant,
then its render for the platform of the room's language (zh: douyin, en: tiktok), at the profile's
full 1080x1920, with sound, of the clip's length; served by the clip-file API."""

from __future__ import annotations

import json

import av
import pytest
from fastapi.testclient import TestClient

from livelens.sample_room import shared_data_dir
from streams.ingest.publisher import Publisher
from streams.ingest.runner import run_ingest
from streams.schemas import SellingPoint, Word
from streams.topics import TopicNames
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.integration

VIDEO = shared_data_dir() / "video" / "talking_1.mp4"
ROOMS = {  # room -> (language, platform, what the host says in the clip)
    "render-zh": ("zh", "douyin", "这款真丝连衣裙百分之百有效，垂感特别好，穿着很凉快。"),
    "render-en": ("en", "tiktok", "This silk dress drapes beautifully and feels cool on the skin."),
}


def _words(start_ms: int, end_ms: int, text: str, lang: str) -> list[Word]:
    tokens = list(text) if lang == "zh" else text.split()
    step = (end_ms - start_ms) // len(tokens)
    return [Word(start_ms=start_ms + i * step, end_ms=start_ms + (i + 1) * step - 10, text=t)
            for i, t in enumerate(tokens)]


async def test_each_room_gets_its_platform_render_as_a_revision_of_the_clip(
        settings, producer, worker_factory, redis_client, tmp_path):
    if not VIDEO.is_file():
        pytest.fail(f"real talking-head footage missing: {VIDEO} (../shared/data, or set LIVELENS_SHARED_DATA)")
    clips_dir = tmp_path / "clips"
    settings.clips.out_dir = clips_dir  # the worker process gets exactly these settings
    settings.clips.min_s = 3.0
    settings.clips.platforms = ["douyin", "tiktok"]
    settings.clips.render_concurrency = 2
    settings.asr.room_languages = {room: lang for room, (lang, _p, _t) in ROOMS.items()}
    await worker_factory(["clipper"])

    topics = TopicNames(settings.topic_prefix)
    publisher = Publisher(producer, topics)
    for room in ROOMS:
        await run_ingest(str(VIDEO), room, settings, publisher.publish, realtime=False)
    await publisher.flush()
    for room, (lang, _platform, text) in ROOMS.items():
        sp = SellingPoint(room_id=room, stream_ms=5_000, segment_id=f"{room}-sp", category="apparel",
                          label="fabric_material", label_zh="面料材质", label_en="Fabric / material",
                          start_ms=800, end_ms=4_800, text=text, confidence=0.9,
                          words=_words(800, 4_800, text, lang))
        await producer.send_and_wait(topics.selling_points, key=sp.key, value=sp.to_bytes())

    async def rendered(room: str):
        rows = await redis_client.xrange(f"livelens:{{{room}}}:stream:clip")
        events = [json.loads(f["event"]) for _id, f in rows]
        return events if any(e["revision"] == 2 for e in events) else None

    for room, (lang, platform, _text) in ROOMS.items():
        events = await wait_for(lambda: rendered(room), timeout=300, what=f"the {platform} render of {room}'s clip")
        by_revision = {e["revision"]: e for e in events}
        first, vertical, render = by_revision[0], by_revision[1], by_revision[2]
        assert first["pending"] == ["vertical", f"render:{platform}"] and first["status"] == "ready"
        assert vertical["pending"] == [f"render:{platform}"] and "vertical" in vertical["files"]
        assert render["pending"] == [] and f"render:{platform}" in render["files"], render["reason"]
        assert first["emitted_at"] <= vertical["emitted_at"] <= render["emitted_at"]
        assert not any(k.startswith("render:") and platform not in k for k in render["files"])  # one language's

        folder = clips_dir / room / first["clip_id"] / "renders" / platform
        with av.open(str(folder / "clip.mp4")) as c:
            v = c.streams.video[0]
            assert (v.codec_context.width, v.codec_context.height) == (1080, 1920)
            assert c.streams.audio and sum(f.samples for f in c.decode(audio=0)) > 48_000 * 2
            duration_s = float(c.duration) / av.time_base
        assert abs(duration_s - (first["end_ms"] - first["start_ms"]) / 1000) < 0.3
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        assert meta["platform"] == platform and meta["lang"] == lang and meta["title"]
        listing = " ".join([meta["title"], meta["description"], *meta["tags"]])
        assert "百分之百" not in listing  # the compliance rules dropped the absolute claim
        if lang == "zh":
            assert any("\u4e00" <= ch <= "\u9fff" for ch in meta["title"])

    from sinks.web.app import create_api

    api_settings = settings.model_copy(update={"api_token": None, "clips": settings.clips.model_copy(
        update={"out_dir": clips_dir})})
    app = create_api(api_settings, settings.redis_url.get_secret_value(), None)
    token = (settings.data_dir / "api-token").read_text().strip()
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {token}"}
        for room, (_lang, platform, _text) in ROOMS.items():
            listed = client.get(f"/api/rooms/{room}/clips", headers=auth).json()
            files = listed[0]["files"]
            r = client.get(files[f"render:{platform}"], headers=auth)
            assert r.status_code == 200 and r.headers["content-type"] == "video/mp4" and len(r.content) > 10_000
            assert client.get(files[f"render:{platform}:cover"], headers=auth).headers["content-type"] == "image/jpeg"
            assert client.get(files[f"render:{platform}"]).status_code == 401
