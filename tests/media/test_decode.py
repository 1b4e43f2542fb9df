from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from media.decode import MediaIngest, MediaOpenError
from streams.schemas import AudioChunk, SegmentRef, VideoFrame
from media.segment_store import LocalSegmentStore
from tests.media.media_samples import SHARED_DATA, make_clip

TALKING_1 = SHARED_DATA / "video" / "talking_1.mp4"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("media") / "pattern_tone.mp4", seconds=3.0)


@pytest.fixture
def talking() -> Path:
    if not TALKING_1.exists():
        pytest.skip("../shared/data/video/talking_1.mp4 missing: real H.264+AAC talking-head clip")
    return TALKING_1


def media_duration_ms(path: Path) -> float:
    with av.open(str(path)) as c:
        return c.duration / 1000  # container duration is in microseconds


def run(source: Path, store_root: Path, **kw) -> tuple[MediaIngest, list]:
    ingest = MediaIngest(str(source), "room-1", LocalSegmentStore(store_root, 3600), realtime=False, **kw)
    return ingest, list(ingest.events())


def check_audio(chunks: list[AudioChunk], chunk_ms: int, duration_ms: float) -> None:
    assert chunks, "no audio chunks"
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    for c in chunks[:-1]:
        assert c.duration_ms == chunk_ms and len(c.pcm) == chunk_ms * 32  # 16 kHz mono s16
    assert 0 < chunks[-1].duration_ms <= chunk_ms and len(chunks[-1].pcm) == chunks[-1].duration_ms * 32
    assert all(c.sample_rate == 16_000 and c.channels == 1 for c in chunks)
    for a, b in zip(chunks, chunks[1:]):
        assert b.stream_ms == a.stream_ms + a.duration_ms
    total = sum(c.duration_ms for c in chunks)
    assert abs(total - duration_ms) <= chunk_ms, (total, duration_ms)


def check_frames(frames: list[VideoFrame], fps: float, width: int, duration_ms: float, src_aspect: float) -> None:
    assert abs(len(frames) - duration_ms / 1000 * fps) <= 1.0
    assert [f.seq for f in frames] == list(range(len(frames)))
    ticks = [int(f.stream_ms * fps / 1000) for f in frames]  # one frame per 1/fps tick
    assert ticks == sorted(set(ticks))
    for f in frames:
        img = cv2.imdecode(np.frombuffer(f.jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert img is not None and img.shape[:2] == (f.height, f.width)
        assert f.width == width and abs(f.width / f.height - src_aspect) < 0.05


def check_segments(refs: list[SegmentRef], store_root: Path, duration_ms: float, video: bool = True) -> None:
    store = LocalSegmentStore(store_root, 3600)
    listed = store.list_segments("room-1")
    assert [s.seq for s in listed] == [r.seq for r in refs] == list(range(len(refs)))
    assert [(s.start_ms, s.duration_ms) for s in listed] == [(r.stream_ms, r.duration_ms) for r in refs]
    assert listed[0].start_ms <= 50
    for a, b in zip(listed, listed[1:]):
        assert b.start_ms == a.end_ms  # segments tile stream time
    assert abs(listed[-1].end_ms - duration_ms) <= 150
    for s in listed:
        with av.open(str(s.path)) as c:  # each segment decodes on its own
            if video:
                first = next(p for p in c.demux(c.streams.video[0]) if p.size)
                assert first.is_keyframe, f"segment {s.seq} does not start with a keyframe"
        with av.open(str(s.path)) as c:
            decoded = list(c.decode(video=0)) if video else list(c.decode(audio=0))
            assert decoded and not any(f.is_corrupt for f in decoded)
            if video:
                # timestamps inside a segment are stream time
                assert s.start_ms - 2 <= decoded[0].time * 1000 <= s.start_ms + 100


def by_kind(events: list) -> tuple[list[AudioChunk], list[VideoFrame], list[SegmentRef]]:
    return ([e for e in events if isinstance(e, AudioChunk)], [e for e in events if isinstance(e, VideoFrame)],
            [e for e in events if isinstance(e, SegmentRef)])


def test_generated_clip(clip: Path, tmp_path: Path) -> None:
    ingest, events = run(clip, tmp_path, audio_chunk_ms=200, frame_fps=2.0, frame_width=160, segment_s=1.0)
    audio, frames, refs = by_kind(events)
    duration = media_duration_ms(clip)
    check_audio(audio, 200, duration)
    check_frames(frames, 2.0, 160, duration, 320 / 240)
    check_segments(refs, tmp_path, duration)
    assert len(refs) == 3
    assert ingest.errors == [] and ingest.stats.decode_errors == 0
    # the tone survives resampling: its energy is at 440 Hz
    pcm = np.frombuffer(b"".join(c.pcm for c in audio), np.int16).astype(np.float32)
    spectrum = np.abs(np.fft.rfft(pcm[16_000:32_000]))
    assert abs(np.argmax(spectrum) - 440) <= 2


def test_real_talking_clip(talking: Path, tmp_path: Path) -> None:
    ingest, events = run(talking, tmp_path)
    audio, frames, refs = by_kind(events)
    duration = media_duration_ms(talking)
    check_audio(audio, 250, duration)
    check_frames(frames, 1.0, 320, duration, 1.0)
    check_segments(refs, tmp_path, duration)
    assert all(r.has_audio and r.has_video for r in refs)
    assert ingest.errors == []


def test_audio_only_and_video_only(tmp_path: Path) -> None:
    audio_only = make_clip(tmp_path / "tone.m4a", seconds=2.5, video=False)
    _, events = run(audio_only, tmp_path / "a")
    audio, frames, refs = by_kind(events)
    check_audio(audio, 250, media_duration_ms(audio_only))
    assert frames == [] and refs and all(r.has_audio and not r.has_video for r in refs)
    check_segments(refs, tmp_path / "a", media_duration_ms(audio_only), video=False)

    video_only = make_clip(tmp_path / "pattern.mp4", seconds=2.5, audio=False)
    _, events = run(video_only, tmp_path / "v")
    audio, frames, refs = by_kind(events)
    assert audio == [] and len(frames) == 3 and all(r.has_video and not r.has_audio for r in refs)
    check_segments(refs, tmp_path / "v", media_duration_ms(video_only))


def write_pcm_wav(path: Path, seconds: float, rate: int = 16_000) -> Path:
    """A 16-bit PCM WAV (a 440 Hz tone), the format speech recorders and TTS write."""
    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=rate, layout="mono")
        t = np.arange(int(seconds * rate)) / rate
        pcm = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
        for i in range(0, len(pcm), 1024):
            frame = av.AudioFrame.from_ndarray(pcm[None, i:i + 1024], format="s16", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def test_a_16khz_pcm_wav_is_segmented_without_errors(tmp_path: Path) -> None:
    # PCM frames used to fail the AAC encoder ("audio encode: Invalid argument") on every frame
    wav = write_pcm_wav(tmp_path / "speech.wav", seconds=3.0)
    ingest, events = run(wav, tmp_path / "s")
    audio, frames, refs = by_kind(events)
    assert ingest.errors == []
    check_audio(audio, 250, media_duration_ms(wav))
    assert frames == [] and refs and all(r.has_audio and not r.has_video for r in refs)
    check_segments(refs, tmp_path / "s", media_duration_ms(wav), video=False)


def test_corrupt_media_reports_errors_and_keeps_going(talking: Path, tmp_path: Path) -> None:
    data = bytearray(talking.read_bytes())
    moov = data.find(b"moov")
    rng = random.Random(7)
    for _ in range(150):  # garble the middle of the media data, keep the headers
        pos = rng.randrange(len(data) // 4, min(moov, 3 * len(data) // 4))
        data[pos:pos + 64] = rng.randbytes(64)
    bad = tmp_path / "garbled.mp4"
    bad.write_bytes(bytes(data))
    reported = []
    ingest, events = run(bad, tmp_path / "store", on_error=reported.append)
    audio, frames, refs = by_kind(events)
    assert ingest.errors and reported == ingest.errors
    assert all(0 <= e.stream_ms <= 7000 and e.reason for e in ingest.errors)
    assert any("decode" in e.reason for e in ingest.errors)
    # ingest went on to the end: audio still spans the media (gaps filled with silence)
    check_audio(audio, 250, media_duration_ms(talking))
    assert frames and refs


def test_unopenable_sources_raise_a_clear_error(clip: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(clip.read_bytes()[:2000])
    for source in (truncated, tmp_path / "missing.mp4"):
        with pytest.raises(MediaOpenError, match="cannot open media source"):
            run(source, tmp_path)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not media at all " * 100)
    with pytest.raises(MediaOpenError):
        run(garbage, tmp_path)


async def test_async_realtime_pacing_keeps_the_loop_responsive(clip: Path, tmp_path: Path) -> None:
    ingest = MediaIngest(str(clip), "room-1", LocalSegmentStore(tmp_path, 3600), realtime=True, speed=20.0)
    gaps: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        last = time.monotonic()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    t0 = time.monotonic()
    events = [e async for e in ingest]
    wall = time.monotonic() - t0
    stop.set()
    await tick
    audio, frames, refs = by_kind(events)
    check_audio(audio, 250, media_duration_ms(clip))
    assert frames and refs
    assert wall >= 3.0 / 20 - 0.02  # paced: 3 s of stream at 20x
    # decoding/encoding never blocked the event loop for long (generous: CI machines are shared)
    assert max(gaps) < 0.5


async def test_async_consumer_can_stop_early(clip: Path, tmp_path: Path) -> None:
    ingest = MediaIngest(str(clip), "room-1", LocalSegmentStore(tmp_path, 3600), realtime=False, queue_size=2)
    got = []
    async for event in ingest:
        got.append(event)
        if len(got) == 3:
            break
    assert len(got) == 3
    deadline = time.monotonic() + 30  # the producer thread aborts its open segment
    while list(tmp_path.rglob("*.part")):
        assert time.monotonic() < deadline, "the producer thread left a partial segment behind"
        await asyncio.sleep(0.02)
