from __future__ import annotations

import json
from pathlib import Path

import pytest

from media.decode import MediaOpenError
from streams.ingest.runner import run_ingest
from streams.schemas import DeadLetter, Event, StreamMarker
from streams.settings import Settings
from streams.topics import INPUT_TOPICS
from tests.media.media_samples import make_clip


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(segment_store=str(tmp_path / "segments"), audio_chunk_ms=250, frame_fps=1.0)


async def test_run_ingest_publishes_markers_media_and_replay(tmp_path: Path, settings: Settings) -> None:
    clip = make_clip(tmp_path / "clip.mp4", seconds=2.0)
    replay = tmp_path / "replay.jsonl"
    replay.write_text("\n".join([
        json.dumps({"t": 0.4, "kind": "chat", "user_id": "u1", "text": "多少钱"}),
        json.dumps({"t": 1.2, "kind": "commerce", "type": "order", "count": 1, "amount": 99.0}),
        "{broken",
    ]) + "\n")
    sent: list[tuple[str, Event]] = []

    async def publish(topic: str, event: Event) -> None:
        sent.append((topic, event))

    stats = await run_ingest(str(clip), "room-1", settings, publish, replay=replay, realtime=True, speed=20.0)

    for topic in INPUT_TOPICS:
        on_topic = [e for t, e in sent if t == topic]
        assert isinstance(on_topic[0], StreamMarker) and on_topic[0].marker == "start"
        assert isinstance(on_topic[-1], StreamMarker) and on_topic[-1].marker == "end"
        assert all(not isinstance(e, StreamMarker) for e in on_topic[1:-1])
        assert all(e.room_id == "room-1" for e in on_topic)
    kinds = {t: {e.kind for e in evs} for t in INPUT_TOPICS for evs in [[e for tt, e in sent if tt == t]]}
    assert kinds == {"audio": {"marker", "audio"}, "frames": {"marker", "frame"},
                     "segments": {"marker", "segment"}, "chat": {"marker", "chat"},
                     "commerce": {"marker", "commerce"}}
    dead = [e for t, e in sent if t == "dead_letters"]
    assert len(dead) == 1 and isinstance(dead[0], DeadLetter) and "line 3" in dead[0].reason
    assert stats.replay_rejects == 1 and stats.count("chat") == 3 and stats.media_errors == 0
    data = [e for _, e in sent if not isinstance(e, (StreamMarker, DeadLetter))]
    # the chat at 0.4 s went out between the media of its time, not after all media
    order = [e.kind for e in data]
    assert 0 < order.index("chat") < order.index("commerce") < len(order) - 1


async def test_run_ingest_fails_before_any_marker_on_an_unopenable_source(tmp_path: Path, settings: Settings) -> None:
    sent = []

    async def publish(topic: str, event: Event) -> None:
        sent.append((topic, event))

    with pytest.raises(MediaOpenError):
        await run_ingest(str(tmp_path / "missing.mp4"), "room-1", settings, publish)
    assert sent == []


async def test_run_ingest_declares_the_room_language_on_the_start_marker_and_every_audio_chunk(
        tmp_path: Path, settings: Settings) -> None:
    clip = make_clip(tmp_path / "clip.mp4", seconds=1.0)
    sent: list[tuple[str, Event]] = []

    async def publish(topic: str, event: Event) -> None:
        sent.append((topic, event))

    await run_ingest(str(clip), "room-zh", settings, publish, realtime=False, language="zh-CN")
    starts = [e for _, e in sent if isinstance(e, StreamMarker) and e.marker == "start"]
    assert len(starts) == len(INPUT_TOPICS) and all(m.language == "zh" for m in starts)
    audio = [e for t, e in sent if t == "audio" and e.kind == "audio"]
    assert audio and all(a.language == "zh" for a in audio)


async def test_run_ingest_refuses_an_unknown_language_before_sending_anything(tmp_path: Path, settings: Settings) -> None:
    clip = make_clip(tmp_path / "clip.mp4", seconds=1.0)
    sent = []

    async def publish(topic: str, event: Event) -> None:
        sent.append(event)

    with pytest.raises(ValueError, match="unknown language 'fr'"):
        await run_ingest(str(clip), "room", settings, publish, realtime=False, language="fr")
    assert sent == []
