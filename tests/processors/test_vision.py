"""The vision processor through ``run_processor``: real frames (PyAV-decoded) in, features with the
host's face out; a frame that waited past the budget is skipped; a corrupt JPEG raises (the runtime
dead-letters it)."""

from __future__ import annotations

import av
import cv2
import pytest

from processors.testing import ProcessorRun, run_processor
from processors.vision import VisionProcessor
from streams.schemas import VideoFrame
from streams.settings import Settings

ROOM = "v-room"
T0 = 1_700_000_000.0


@pytest.fixture(scope="module")
def frames(shared_data) -> list[VideoFrame]:
    path = shared_data / "video" / "talking_1.mp4"
    if not path.is_file():
        pytest.skip(f"{path} missing (real talking-head footage)")
    out = []
    with av.open(str(path)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i % 12:
                continue
            img = cv2.resize(frame.to_ndarray(format="bgr24"), (320, 320))
            ok, jpeg = cv2.imencode(".jpg", img)
            ms = int(frame.time * 1000)
            out.append(VideoFrame(room_id=ROOM, stream_ms=ms, ingested_at=T0 + ms / 1000, seq=len(out),
                                  width=320, height=320, jpeg=jpeg.tobytes()))
    return out[:8]


def test_frames_become_features_with_the_hosts_face(frames):
    outputs = run_processor(VisionProcessor(Settings(_env_file=None)), frames)
    assert [o.topic for o in outputs] == ["vision"] * len(frames)
    feats = [o.event for o in outputs]
    assert sum(f.faces >= 1 for f in feats) >= len(feats) * 0.75
    x, y, w, h = next(f.face_box for f in feats if f.face_box)
    assert 0.2 < x + w / 2 < 0.8 and 0 < y + h / 2 < 0.8  # a talking head: face near the centre, upper half
    assert [f.frame_seq for f in feats] == [fr.seq for fr in frames]


def test_a_frame_that_waited_past_the_budget_is_skipped(frames):
    run = ProcessorRun(VisionProcessor(Settings(_env_file=None)))
    late = frames[0].ingested_at + 1.0  # 1 s after ingest: over the 300 ms vision budget
    assert run.feed(frames[:2], received_at=late) == []
    assert len(run.feed(frames[2:4])) == 2


def test_a_corrupt_jpeg_raises_for_the_runtime_to_dead_letter():
    bad = VideoFrame(room_id=ROOM, stream_ms=0, ingested_at=T0, seq=0, width=320, height=320, jpeg=b"not a jpeg")
    with pytest.raises(ValueError):
        run_processor(VisionProcessor(Settings(_env_file=None)), [bad])
