"""Live selling points with every class and the product they are about, zh and en: real broker,
real worker (the packaged encoder), real Redis; the room's catalog is the sample catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.ingest.publisher import Publisher
from streams.schemas import Transcript
from streams.topics import TopicNames
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.integration
CATALOG = Path(__file__).resolve().parents[2] / "models" / "understanding" / "catalogs" / "sample_room.yaml"

ROOMS = {  # room -> (language, sentences, the product named, its name in the room's language)
    "spp-zh": ("zh", ["这条桑蚕丝连衣裙垂感特别好，今天到手价只要一百二十九"], "dress-01", "桑蚕丝中长款连衣裙"),
    "spp-en": ("en", ["This cashmere cardigan is so soft, and today it is only ninety nine, grab the coupon."],
               "cardigan-02", "Cashmere Cardigan"),
}


async def test_selling_points_carry_every_class_and_the_product_zh_and_en(
        settings, producer, worker_factory, redis_client):
    settings.understanding.catalog = CATALOG  # the worker process gets exactly these settings
    await worker_factory(["selling_points"])
    topics = TopicNames(settings.topic_prefix)
    markers = Publisher(producer, topics, input_topics=("segments",))
    for room, (lang, sentences, _product, _name) in ROOMS.items():
        for i, text in enumerate(sentences):
            said = Transcript(room_id=room, stream_ms=3_000 * i + 2_500, segment_id=f"{room}:{i}", is_final=True,
                              start_ms=3_000 * i, end_ms=3_000 * i + 2_500, text=text, language=lang, processor="asr")
            await producer.send_and_wait(topics.transcripts, key=said.key, value=said.to_bytes())
        await markers.marker(room, "end", 3_000 * len(sentences))
    await markers.flush()

    for room, (_lang, _sentences, product, name) in ROOMS.items():
        async def points(r=room):
            rows = await redis_client.xrange(f"livelens:{{{r}}}:stream:selling_point")
            return [json.loads(f["event"]) for _id, f in rows] or None

        (point,) = await wait_for(points, timeout=120, what=f"{room}'s selling point")
        classes = [label["class"] for label in point["labels"]]
        assert len(classes) >= 2 and "price_promotion" in classes, point
        for label in point["labels"]:
            assert 0 <= label["start"] < label["end"] <= len(point["text"])
        assert point["product_id"] == product and name in (point["product_name_zh"], point["product_name_en"])
