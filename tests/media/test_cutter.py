"""Cut accuracy, checked by decoding the output.

The source is generated here: each video frame carries its own index as a row of black/white
blocks (a visible frame counter that survives H.264), and the audio is silence with a short beep
every 500 ms. It goes through the real ingest path (MediaIngest -> LocalSegmentStore), so the cuts
read the same 2 s MPEG-TS segments a live room produces.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from media.cutter import CutOutput, LiveCut, cut_clip, cut_clips, probe_clip
from media.decode import MediaIngest
from media.segment_store import LocalSegmentStore

FPS = 25
FRAME_MS = 1000 // FPS
SECONDS = 7
BITS = 10
BLOCK = 24
W, H = BITS * BLOCK + 16, 192
RATE = 48_000
BEEP_EVERY_MS, BEEP_MS = 500, 30
ROOM = "cut-room"


def _frame_image(index: int) -> np.ndarray:
    img = np.full((H, W, 3), 128, np.uint8)
    for bit in range(BITS):
        value = 255 if (index >> bit) & 1 else 0
        img[8:8 + BLOCK, 8 + bit * BLOCK: 8 + (bit + 1) * BLOCK] = value
    return img


def frame_index(frame: av.VideoFrame) -> int:
    gray = frame.to_ndarray(format="gray")
    index = 0
    for bit in range(BITS):
        x = 8 + bit * BLOCK + BLOCK // 2
        if gray[8 + BLOCK // 2, x] > 128:
            index |= 1 << bit
    return index


def _write_source(path: Path) -> None:
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=FPS)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        v.options = {"preset": "ultrafast", "crf": "18"}
        a = out.add_stream("aac", rate=RATE, layout="mono")
        for i in range(SECONDS * FPS):
            frame = av.VideoFrame.from_ndarray(_frame_image(i), format="rgb24")
            frame.pts = i
            out.mux(v.encode(frame))
        t = np.arange(SECONDS * RATE) / RATE
        beeps = ((t * 1000) % BEEP_EVERY_MS) < BEEP_MS
        samples = (0.5 * np.sin(2 * np.pi * 1000 * t) * beeps).astype(np.float32)
        for pos in range(0, len(samples), 1024):
            chunk = samples[pos:pos + 1024][None, :]
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="mono")
            af.sample_rate, af.pts, af.time_base = RATE, pos, Fraction(1, RATE)
            out.mux(a.encode(af))
        out.mux(v.encode(None))
        out.mux(a.encode(None))


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> LocalSegmentStore:
    root = tmp_path_factory.mktemp("cutter")
    source = root / "counter.mp4"
    _write_source(source)
    store = LocalSegmentStore(root / "segments")
    ingest = MediaIngest(str(source), ROOM, store, segment_s=2.0, realtime=False, prune=False)
    for _ in ingest.events():
        pass
    assert not ingest.errors, ingest.errors
    assert len(store.list_segments(ROOM)) >= 3
    return store


def _decoded(path: Path) -> tuple[list[int], list[float], np.ndarray, int]:
    indices, times, audio, rate = [], [], [], RATE
    with av.open(str(path)) as c:
        for frame in c.decode(c.streams.video[0]):
            indices.append(frame_index(frame))
            times.append(float(frame.time) * 1000)
    with av.open(str(path)) as c:
        for frame in c.decode(c.streams.audio[0]):
            audio.append(frame.to_ndarray()[0])
            rate = frame.sample_rate
    return indices, times, np.concatenate(audio), rate


def _beep_onsets_ms(samples: np.ndarray, rate: int) -> list[float]:
    env = np.abs(samples) > 0.1
    onsets = np.flatnonzero(env[1:] & ~env[:-1]) + 1
    out: list[float] = []
    for i in onsets:
        t = i * 1000 / rate
        if not out or t - out[-1] > BEEP_EVERY_MS / 2:
            out.append(t)
    return out


@pytest.mark.parametrize("start_ms,end_ms", [(1130, 4210), (2000, 5000), (3570, 6390)])
def test_reencode_is_frame_accurate_in_video_and_audio(store, tmp_path, start_ms, end_ms):
    segments = store.segments_between(ROOM, start_ms, end_ms)
    out = tmp_path / "clip.mp4"
    result = cut_clip(segments, start_ms, end_ms, out, thumbnail_path=tmp_path / "thumb.jpg")
    assert result.status == "ready", result.reason
    indices, times, audio, rate = _decoded(out)
    # first and last frames within one frame of the requested times (source frame i is at i*40 ms)
    assert start_ms <= indices[0] * FRAME_MS < start_ms + FRAME_MS
    assert end_ms - FRAME_MS <= indices[-1] * FRAME_MS < end_ms
    assert indices == list(range(indices[0], indices[-1] + 1)), "frames dropped or repeated"
    assert times[0] == pytest.approx(0, abs=1), "output timestamps start at 0"
    assert result.video_frames == len(indices)
    # audio: each beep sits where it was in the source, relative to the first frame, within a frame
    clip_origin = indices[0] * FRAME_MS
    expected = [t - clip_origin for t in range(0, SECONDS * 1000, BEEP_EVERY_MS) if clip_origin <= t < end_ms - BEEP_MS]
    onsets = _beep_onsets_ms(audio, rate)
    assert len(onsets) == len(expected)
    assert max(abs(a - b) for a, b in zip(onsets, expected)) < FRAME_MS
    audio_ms = len(audio) * 1000 / rate
    assert abs(audio_ms - len(indices) * FRAME_MS) < FRAME_MS
    assert (tmp_path / "thumb.jpg").read_bytes()[:2] == b"\xff\xd8"


def test_copy_mode_starts_at_the_preceding_keyframe(store, tmp_path):
    start_ms, end_ms = 3130, 5210
    segments = store.segments_between(ROOM, start_ms, end_ms)
    keyframe_ms = max(s.start_ms for s in segments if s.start_ms <= start_ms)  # segments start on a keyframe
    result = cut_clip(segments, start_ms, end_ms, tmp_path / "copy.mp4", mode="copy")
    assert result.status == "ready" and "keyframe" in result.reason
    indices, times, _audio, _rate = _decoded(tmp_path / "copy.mp4")
    assert indices[0] * FRAME_MS == keyframe_ms == result.start_ms
    assert end_ms - FRAME_MS <= indices[-1] * FRAME_MS < end_ms
    assert times[0] == pytest.approx(0, abs=1)


def test_vertical_variant_is_9_16_and_centred_on_the_face(store, tmp_path):
    segments = store.segments_between(ROOM, 1000, 4000)
    outputs = [CutOutput(tmp_path / "v_left.mp4", vertical=True, crop_center_x=0.0),
               CutOutput(tmp_path / "v_mid.mp4", vertical=True)]
    result = cut_clips(segments, 1000, 4000, outputs)
    assert result.status == "ready"
    for o in outputs:
        info = probe_clip(o.path)
        assert info["width"] / info["height"] == pytest.approx(9 / 16, abs=0.01)
    # The first frame is source frame 25 (0b11001): bit 0's block (x 8..32) is white, bit 2's
    # (x 56..80) black. crop_center_x=0 puts the column at the left edge, so column x shows
    # source x; the centred column (108 px of 256) starts at source x 74, inside bit 2's block.
    with av.open(str(tmp_path / "v_left.mp4")) as c:
        left = next(c.decode(video=0)).to_ndarray(format="gray")
    with av.open(str(tmp_path / "v_mid.mp4")) as c:
        mid = next(c.decode(video=0)).to_ndarray(format="gray")
    assert left.shape == mid.shape == (H, 108)
    assert left[20, 20] > 200 and left[20, 68] < 50
    assert mid[20, 2] < 50 and mid[20, 20] > 200  # source x 74 (bit 2: 0) and x 94 (bit 3: 1)


def _copy_store(store: LocalSegmentStore, root: Path) -> LocalSegmentStore:
    new = LocalSegmentStore(root)
    for seg in store.list_segments(ROOM):
        new.write(ROOM, seg.seq, seg.start_ms, seg.duration_ms, seg.path.read_bytes(), seg.has_audio, seg.has_video)
    return new


def test_missing_and_pruned_segments_shorten_with_reason(store, tmp_path):
    damaged = _copy_store(store, tmp_path / "s")
    segments = damaged.list_segments(ROOM)
    segments[2].path.unlink()  # pruned under the reader's feet (index still lists it)
    result = cut_clip(segments, 500, 6000, tmp_path / "clip.mp4")
    assert result.status == "shortened"
    assert "expired" in result.reason
    assert result.start_ms >= 500 and result.end_ms <= segments[2].start_ms + FRAME_MS
    assert probe_clip(tmp_path / "clip.mp4")["video_frames"] == result.video_frames

    without = [s for s in segments if s.seq != 1]  # a missing seq in the index
    result = cut_clip(without, 500, 6000, tmp_path / "clip2.mp4", min_duration_ms=1000)
    assert result.status in ("shortened", "skipped") and "missing" in result.reason


def test_corrupt_segment_is_never_a_broken_file(store, tmp_path):
    damaged = _copy_store(store, tmp_path / "s")
    segments = damaged.list_segments(ROOM)
    for seg in segments:
        seg.path.write_bytes(np.random.default_rng(seg.seq).integers(0, 255, 50_000, dtype=np.uint8).tobytes())
    out = tmp_path / "clip.mp4"
    result = cut_clip(segments, 500, 4000, out)
    assert result.status == "skipped"
    assert "unreadable" in result.reason or "corrupt" in result.reason
    assert not out.exists()
    assert list(tmp_path.glob("*.part*")) == []


def test_expired_media_is_skipped(tmp_path):
    result = cut_clip([], 1000, 5000, tmp_path / "clip.mp4")
    assert result.status == "skipped" and "expired" in result.reason
    assert not (tmp_path / "clip.mp4").exists()


def test_audio_that_stops_shortens_the_clip_to_where_both_exist(store, tmp_path):
    damaged = _copy_store(store, tmp_path / "s")
    segments = damaged.list_segments(ROOM)
    # segment 1 loses its audio (a drifting / dropping audio feed): remux its video alone
    seg = segments[1]
    with av.open(str(seg.path)) as src:
        packets = [p for p in src.demux(src.streams.video[0]) if p.size]
        tmp = seg.path.with_suffix(".tmp")
        with av.open(str(tmp), "w", format="mpegts") as dst:
            out_stream = dst.add_stream_from_template(src.streams.video[0])
            for p in packets:
                p.stream = out_stream
                dst.mux(p)
    tmp.replace(seg.path)
    result = cut_clip(segments, 500, 5500, tmp_path / "clip.mp4")
    assert result.status == "shortened" and "audio" in result.reason
    info = probe_clip(tmp_path / "clip.mp4")
    assert info["audio_end_ms"] == pytest.approx(info["last_ms"] + FRAME_MS, abs=FRAME_MS)


@pytest.mark.parametrize("start_ms,end_ms", [(1130, 4210), (2000, 6000), (3570, 6390)])
def test_live_cut_fed_segment_by_segment_equals_the_batch_cut(store, tmp_path, start_ms, end_ms):
    segments = store.segments_between(ROOM, start_ms, end_ms)
    live = LiveCut(start_ms, end_ms, [CutOutput(tmp_path / "live.mp4")], thumbnail_path=tmp_path / "live.jpg")
    for n in range(1, len(segments) + 1):  # the store grows one segment at a time; feeds repeat
        assert not live.covered
        live.feed(segments[:n])
        live.feed(segments[:n])
    assert live.covered
    result = live.finish()
    assert result is not None and result.status == "ready", live.failed
    batch = cut_clip(segments, start_ms, end_ms, tmp_path / "batch.mp4")
    assert (result.start_ms, result.end_ms, result.video_frames) == (batch.start_ms, batch.end_ms, batch.video_frames)
    live_idx, live_times, live_audio, rate = _decoded(tmp_path / "live.mp4")
    batch_idx, batch_times, batch_audio, _ = _decoded(tmp_path / "batch.mp4")
    assert live_idx == batch_idx and live_times == batch_times
    assert start_ms <= live_idx[0] * FRAME_MS < start_ms + FRAME_MS
    assert end_ms - FRAME_MS <= live_idx[-1] * FRAME_MS < end_ms
    assert len(live_audio) == len(batch_audio)
    assert _beep_onsets_ms(live_audio, rate) == _beep_onsets_ms(batch_audio, rate)
    assert (tmp_path / "live.jpg").read_bytes()[:2] == b"\xff\xd8"
    assert list(tmp_path.glob(".*part*")) == []


def test_live_cut_hands_anything_irregular_back_to_the_batch_cut(store, tmp_path):
    segments = store.segments_between(ROOM, 500, 6000)
    out = tmp_path / "clip.mp4"
    gap = LiveCut(500, 6000, [CutOutput(out)])
    gap.feed(segments[:1])
    gap.feed(segments[2:])  # seq 1 never arrives
    assert gap.failed and gap.finish() is None
    short = LiveCut(500, 6000, [CutOutput(out)])
    short.feed(segments[:2])  # the end is not written yet: finishing now would shorten the clip
    assert not short.covered and short.finish() is None
    late = LiveCut(500, 6000, [CutOutput(out)])
    late.feed(segments[1:])  # the start expired
    assert late.failed and late.finish() is None
    assert not out.exists() and list(tmp_path.glob(".*part*")) == []
