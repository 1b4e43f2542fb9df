"""A room's language through the real broker: declared at ingest (on its events or its start
marker) or identified (``auto``), and the ASR stage transcribes each room in its own language.

Before rooms declared their language, a Chinese room that did not set a worker-side override was
transcribed by the English model ("I'm a pal pal man, …"): these rooms set no override at all.
"""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from models.asr import load_media
from models.asr.metrics import cer, read_kaldi_text
from streams.ingest.publisher import Publisher
from streams.ingest.runner import run_ingest
from streams.schemas import AudioChunk
from streams.topics import TopicNames
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.integration


def _cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


async def _finals(redis_client, room: str) -> list[dict]:
    rows = await redis_client.xrange(f"livelens:{{{room}}}:stream:transcript")
    return [e for e in (json.loads(f["event"]) for _id, f in rows) if e["is_final"] and e["text"]]


def _spanish(path):
    """Speech in neither zh nor en (espeak-ng, installed by setup)."""
    import subprocess

    text = ("Hola a todos, bienvenidos a la transmisión en vivo. Este vestido es de seda natural "
            "y hoy tiene un descuento muy especial para todos ustedes.")
    subprocess.run(["espeak-ng", "-v", "es", text, "-w", str(path)], check=True)
    subprocess.run(["sox", str(path), str(path.with_suffix(".long.wav")), "repeat", "1"], check=True)
    return path.with_suffix(".long.wav")


async def test_each_room_is_transcribed_in_the_language_it_declares_or_speaks(
        settings, producer, worker_factory, redis_client, shared_data, tmp_path):
    zh_dir, en_dir = shared_data / "speech" / "zh", shared_data / "speech" / "en"
    reference = read_kaldi_text(zh_dir / "text")
    await worker_factory(["asr"])  # default language en, no per-room override: rooms must say
    publisher = Publisher(producer, TopicNames(settings.topic_prefix))
    aishell = "BAC009S0764W0121"

    # 1) declared at ingest (livelens ingest --lang zh): every audio chunk carries it
    # 2) auto: identified from the first seconds of speech (a Chinese and an English room)
    ingests = [
        run_ingest(str(zh_dir / f"{aishell}.wav"), "zh-declared", settings, publisher.publish, realtime=False,
                   language="zh"),
        run_ingest(str(zh_dir / "TEST_MEETING_T0000000001_S00000.wav"), "zh-auto", settings, publisher.publish,
                   realtime=False, language="auto"),
        run_ingest(str(en_dir / "jfk.flac"), "en-auto", settings, publisher.publish, realtime=False,
                   language="auto"),
        # 4) auto, but the host speaks Spanish: an alert says so, no transcript is made up
        run_ingest(str(_spanish(tmp_path / "es.wav")), "es-auto", settings, publisher.publish, realtime=False,
                   language="auto"),
    ]
    await asyncio.gather(*ingests)
    # 3) declared only on the start marker (HTTP ``/start {"language": "zh"}``), chunks say nothing
    pcm = (load_media(str(zh_dir / "IT0011W0001.wav")) * 32767).astype("<i2")
    pcm = np.concatenate([pcm, np.zeros(16000, "<i2")])
    await publisher.marker("zh-marker", "start", 0, source="http", language="zh")
    for seq, start in enumerate(range(0, len(pcm), 4000)):
        part = pcm[start:start + 4000]
        await publisher.publish("audio", AudioChunk(room_id="zh-marker", stream_ms=start // 16, seq=seq,
                                                    duration_ms=len(part) // 16, pcm=part.tobytes()))
    await publisher.marker("zh-marker", "end", len(pcm) // 16)
    await publisher.flush()

    rooms = ("zh-declared", "zh-auto", "en-auto", "zh-marker")

    async def all_rooms_have_finals():
        got = {room: await _finals(redis_client, room) for room in rooms}
        return got if all(got.values()) else None

    finals = await wait_for(all_rooms_have_finals, timeout=240, what="final transcripts of every room")
    for room in ("zh-declared", "zh-auto", "zh-marker"):
        assert all(e["language"] == "zh" and _cjk(e["text"]) for e in finals[room]), (room, finals[room])
    assert all(e["language"] == "en" and not _cjk(e["text"]) for e in finals["en-auto"]), finals["en-auto"]
    async def unsupported_alert():
        rows = await redis_client.xrange("livelens:{es-auto}:stream:alert")
        alerts = [json.loads(f["event"]) for _id, f in rows]
        return [a for a in alerts if a["alert_type"] == "unsupported_language"]

    alert = (await wait_for(unsupported_alert, timeout=120, what="the es room's unsupported-language alert"))[0]
    assert alert["evidence"]["heard"] not in ("zh", "en") and alert["severity"] == "warning"
    assert await _finals(redis_client, "es-auto") == []
    heard = "".join(e["text"] for e in finals["zh-declared"])
    assert cer(reference[aishell], heard) <= 0.35, heard
    assert "换" in "".join(e["text"] for e in finals["zh-marker"]) or "歌" in "".join(e["text"] for e in finals["zh-marker"])
