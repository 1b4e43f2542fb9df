"""ASR state survives a SIGKILL: the restarted worker does not emit the old finals again."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest

from streams.ingest.publisher import Publisher
from streams.schemas import AudioChunk
from streams.topics import TopicNames
from tests.integration.helpers import committed_total, wait_for, wait_stable

pytestmark = pytest.mark.integration
ROOM = "asr-restart"


def _speech(path) -> np.ndarray:
    with av.open(str(path)) as c:
        rs = av.AudioResampler(format="s16", layout="mono", rate=16000)
        return np.concatenate([f.to_ndarray().reshape(-1) for fr in c.decode(audio=0) for f in rs.resample(fr)])


async def _finals(redis_client):
    rows = await redis_client.xrange(f"livelens:{{{ROOM}}}:stream:transcript")
    return [e for e in (json.loads(f["event"]) for _id, f in rows) if e["is_final"]]


async def test_restarted_asr_worker_does_not_repeat_finals(settings, producer, worker_factory, redis_client, shared_data):
    silence = np.zeros(16000 * 2, dtype=np.int16)
    en = shared_data / "speech" / "en"
    pcm = np.concatenate([_speech(en / "jfk.flac"), silence, _speech(en / "librispeech-1995-1837-0001.wav"), silence])
    half = len(pcm) // 2 // 4000 * 4000
    publisher = Publisher(producer, TopicNames(settings.topic_prefix), input_topics=("audio",))

    async def send(start: int, stop: int) -> None:
        for s in range(start, stop, 4000):
            part = pcm[s:s + 4000]
            await publisher.publish("audio", AudioChunk(room_id=ROOM, stream_ms=s // 16, seq=s // 4000,
                                                        duration_ms=len(part) // 16, pcm=part.astype("<i2").tobytes()))
        await publisher.flush()

    first = await worker_factory(["asr"], name="first")
    await send(0, half)
    await wait_for(lambda: _finals(redis_client), timeout=90, what="finals from the first worker")
    # let it commit offsets (its table state is written first, at each commit)
    audio_topic = TopicNames(settings.topic_prefix).audio

    async def committed() -> int:
        return await committed_total(settings.kafka_bootstrap, settings.app_id, audio_topic, settings.partitions)

    await wait_for(committed, timeout=60, what="the first worker's first commit")
    await wait_stable(committed, stable_s=2, timeout=90, what="the first worker's commits to catch up")
    before = await wait_stable(lambda: _finals(redis_client), stable_s=3, what="the first worker to settle")
    first.kill()
    second = await worker_factory(["asr"], name="second")
    await send(half, len(pcm))
    await publisher.marker(ROOM, "end", len(pcm) // 16)
    await publisher.flush()
    # wait for content, not for a quiet spell: the restarted worker replays the unacked audio
    # and loads its model first, and on a busy machine its first new final can take over 8 s
    async def transcribed_to_the_end():
        finals = await _finals(redis_client)
        return len(finals) > len(before) and any("sorrow" in f["text"].lower() for f in finals)

    try:
        await wait_for(transcribed_to_the_end, timeout=180, what="new finals through the second utterance (\"sorrow\")")
    except AssertionError as exc:  # say what the second worker is stuck on
        raise AssertionError(f"{exc}\n--- second worker log tail:\n{second.log_tail(6000)}"
                             f"\n--- its tasks:\n{await second.dump_tasks()}") from None
    after = await wait_stable(lambda: _finals(redis_client), stable_s=5, what="the second worker to settle")

    assert len(after) > len(before), "the second worker transcribed the rest"
    ids = [f["segment_id"] for f in after]
    assert len(ids) == len(set(ids))
    last_before = max(f["end_ms"] for f in before)
    for f in after[len(before):]:  # everything the restarted worker emitted is new speech
        assert f["end_ms"] > last_before, (f["text"], f["end_ms"], last_before)
    text = " ".join(f["text"] for f in after).lower()
    assert "country" in text and "sorrow" in text  # both utterances made it, once
    assert text.count("ask not") + text.count("ask what you can do") <= 2
