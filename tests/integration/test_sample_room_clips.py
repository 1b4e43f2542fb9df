"""The whole speech chain on the sample room: audio → ASR → selling points → clips.

Slow by nature (the room's 87 s of speech are transcribed at 2x real time), so it runs once, with
both worker pools of production: heavy (asr) and light (selling_points, clipper, Redis sink).
"""

from __future__ import annotations

import json

import av
import pytest

from livelens.demo import room_report
from streams.ingest.publisher import Publisher
from streams.ingest.runner import run_ingest
from streams.topics import TopicNames
from tests.integration.helpers import wait_for, wait_stable

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _class_at(sentences, start_ms, end_ms):
    """Script classes of the sentences a span overlaps (the generator knows what it said)."""
    return {s["label"] for s in sentences if s["start"] * 1000 < end_ms and s["end"] * 1000 > start_ms}


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_sample_room_produces_the_expected_selling_point_clips(
        settings, producer, worker_factory, redis_client, request, lang):
    # the room declares its language at ingest; the workers have no per-room override (default en)
    sample_room_dir = request.getfixturevalue("sample_room_zh_dir" if lang == "zh" else "sample_room_dir")
    room = f"clips-room-{lang}"  # one Redis key space per room: the Redis is shared by the session
    clips_dir = settings.data_dir / "clips"
    settings.clips.out_dir = clips_dir  # the worker process gets exactly these settings
    # this test checks understanding, not speed: a loaded machine must not degrade the session
    # (shorter utterances, fitted finals, dropped backlog) into a different transcript
    settings.asr.lag_budget_ms, settings.asr.degrade_rtf = 1e9, 1e9
    await worker_factory(["asr"], name="heavy")
    settings.app_id += "-light"
    await worker_factory(["selling_points", "clipper"], name="light")
    publisher = Publisher(producer, TopicNames(settings.topic_prefix))
    await run_ingest(str(sample_room_dir / "room.mp4"), room, settings, publisher.publish, realtime=True, speed=2.0,
                     language=lang)
    await publisher.flush()
    script = json.loads((sample_room_dir / "script.json").read_text())["sentences"]

    async def clips():
        rows = await redis_client.xrange(f"livelens:{{{room}}}:stream:clip")
        latest: dict[str, dict] = {}  # a clip's vertical variant comes as a later revision
        for event in (json.loads(f["event"]) for _id, f in rows):
            if event["revision"] >= latest.get(event["clip_id"], {"revision": -1})["revision"]:
                latest[event["clip_id"]] = event
        got = list(latest.values())
        return got if len([c for c in got if c["status"] != "skipped"]) >= 4 else None

    async def transcribed_to_the_end():
        # on a loaded machine ASR runs behind the ingest: the report needs the whole transcript
        rows = await redis_client.xrange(f"livelens:{{{room}}}:stream:transcript")
        ends = [e["end_ms"] for e in (json.loads(f["event"]) for _id, f in rows) if e.get("is_final")]
        return max(ends, default=0) >= script[-1]["start"] * 1000

    await wait_for(transcribed_to_the_end, timeout=600, what="finals up to the room's last sentence")
    await wait_for(clips, timeout=240, what="clips of the sample room's selling points")

    async def outputs():
        return [await redis_client.xlen(f"livelens:{{{room}}}:stream:{kind}")
                for kind in ("transcript", "selling_point", "clip")]

    await wait_stable(outputs, stable_s=8, timeout=300, what="ASR, selling points and the clipper to finish")
    got = [c for c in await clips() if c["status"] != "skipped"]
    points = [json.loads(f["event"]) for _id, f in await redis_client.xrange(f"livelens:{{{room}}}:stream:selling_point")]
    # every class of a selling point: a long final spans several of the host's sentences
    labels = {c for p in points if not p["chit_chat"] for c in {p["label"]} | {x["class"] for x in p.get("labels") or []}}
    # the host's main selling points are recognised from speech (tiny.en on espeak voice)
    assert len(labels & {"fabric_material", "drape", "skin_feel", "fit_cut", "size_guidance", "price_promotion"}) >= 3, labels
    for clip in got:
        assert clip["label"] != "chit_chat"
        said = _class_at(script, clip["start_ms"], clip["end_ms"])
        assert said - {"chit_chat"}, f"clip {clip['title']} covers only chit-chat: {said}"
        path = clips_dir / room / clip["clip_id"] / "clip.mp4"
        with av.open(str(path)) as c:  # a real, decodable file of the stated length
            duration_ms = float(c.duration) / 1000 if c.duration else 0
            assert c.streams.video and c.streams.audio
        assert abs(duration_ms - (clip["end_ms"] - clip["start_ms"])) <= 200, (clip["status"], clip["reason"])
        assert (path.parent / "clip.srt").read_text().strip()
    # understood in the room's language, against the room's own ground truth (script.json)
    events = {kind: [json.loads(f["event"]) for _id, f in await redis_client.xrange(f"livelens:{{{room}}}:stream:{kind}")]
              for kind in ("transcript", "selling_point", "clip", "recommendation")}
    report = room_report(sample_room_dir, events)
    assert report["transcript_languages"] == [lang]
    assert report["error"] <= (0.25 if lang == "zh" else 0.35), report  # CER (zh) / WER (en), numbers normalised
    assert report["selling_found"] >= 0.7 * report["selling_sentences"], report
    if lang == "zh":
        assert all(_has_cjk(t) for t in report["clip_titles"]) and report["clip_titles"], report["clip_titles"]

