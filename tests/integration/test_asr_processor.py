"""Speech through the broker: real speech in, partial and final transcripts + prosody out."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest

from streams.ingest.publisher import Publisher
from streams.schemas import AudioChunk
from streams.topics import TopicNames
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.integration
ROOM = "asr-room"


def _speech_16k(path) -> np.ndarray:
    with av.open(str(path)) as c:
        rs = av.AudioResampler(format="s16", layout="mono", rate=16000)
        return np.concatenate([f.to_ndarray().reshape(-1) for fr in c.decode(audio=0) for f in rs.resample(fr)])


async def test_real_speech_becomes_transcripts_with_words_and_prosody(
        settings, producer, worker_factory, redis_client, shared_data):
    speech_dir = shared_data / "speech" / "en"
    reference = dict(line.split(maxsplit=1) for line in (speech_dir / "text").read_text().splitlines() if line.strip())
    pcm = _speech_16k(speech_dir / "jfk.flac")
    speech_ms = len(pcm) // 16
    pcm = np.concatenate([pcm, np.zeros(4 * 16000, dtype=np.int16)])  # 4 s of silence after the speech
    await worker_factory(["asr"])
    publisher = Publisher(producer, TopicNames(settings.topic_prefix), input_topics=("audio",))
    chunk = 4000  # 250 ms
    # a chunk that is not PCM16 (an odd byte count): dead-lettered with its reason, the room carries on
    await publisher.publish("audio", AudioChunk(room_id=ROOM, stream_ms=0, seq=0, duration_ms=250, pcm=b"\x01\x02\x03"))
    for seq, start in enumerate(range(0, len(pcm), chunk)):
        part = pcm[start:start + chunk]
        await publisher.publish("audio", AudioChunk(room_id=ROOM, stream_ms=start // 16, seq=seq,
                                                    duration_ms=len(part) // 16, pcm=part.astype("<i2").tobytes()))
    await publisher.marker(ROOM, "end", len(pcm) // 16)
    await publisher.flush()

    async def finals():
        rows = await redis_client.xrange(f"livelens:{{{ROOM}}}:stream:transcript")
        events = [json.loads(f["event"]) for _id, f in rows]
        done = [e for e in events if e["is_final"]]
        return events if done and sum(len(e["text"]) for e in done) > 40 else None

    events = await wait_for(finals, timeout=120, what="final transcripts of the JFK speech")
    final = [e for e in events if e["is_final"]]
    text = " ".join(e["text"] for e in final).lower()
    ref_words = set(reference["jfk"].lower().replace(",", "").replace(".", "").split())
    got_words = set(text.replace(",", "").replace(".", "").replace(";", "").split())
    assert len(ref_words & got_words) / len(ref_words) >= 0.7, text
    ids = [e["segment_id"] for e in final]
    assert len(ids) == len(set(ids)), "a final was emitted twice"
    for e in final:
        starts = [w["start_ms"] for w in e["words"]]
        assert starts == sorted(starts) and all(0 <= w["start_ms"] <= w["end_ms"] <= len(pcm) // 16 + 50 for w in e["words"])
        assert e["processor"] == "asr" and e["emitted_at"] >= e["ingested_at"]
        assert e["display"]  # the text for people: numbers as digits

    async def dead_letters():
        rows = await redis_client.xrange(f"livelens:{{{ROOM}}}:stream:dead_letter")
        return [json.loads(f["event"]) for _id, f in rows] or None

    [letter] = await wait_for(dead_letters, timeout=30, what="the dead letter of the chunk that is not PCM16")
    assert letter["reason"].startswith("audio: truncated") and letter["processor"] == "asr", letter
    assert letter["source_topic"] == "audio"

    async def prosody_windows():
        rows = await redis_client.xrange(f"livelens:{{{ROOM}}}:stream:prosody")
        windows = [json.loads(f["event"]) for _id, f in rows]
        return windows if len(windows) >= len(pcm) // 32000 else None

    windows = await wait_for(prosody_windows, timeout=60, what="2-s prosody windows over the whole audio")
    speech = [w["energy_db"] for w in windows if w["end_ms"] <= speech_ms]
    silence = [w["energy_db"] for w in windows if w["start_ms"] >= speech_ms]
    assert speech and silence
    assert min(speech) - max(silence) > 10, (speech, silence)  # the host's voice vs the quiet after it
    assert any(w["pitch_hz"] > 60 for w in windows if w["end_ms"] <= speech_ms)
