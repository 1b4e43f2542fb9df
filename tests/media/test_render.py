"""The platform renderer on real media, decoded back with PyAV.

Profiles are shrunk for speed (a 180x320 or 270x480 frame, 15 fps, ultrafast) except in the one
test that renders a real profile at its full 1080x1920; the checks read the output files, never the
renderer's own bookkeeping, except where meta.json is the thing under test.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pyloudnorm
import pytest

from livelens.sample_room import shared_data_dir
from media.platforms import ProfileError, load_profile, with_overrides
from media.reframe import SubjectDetector
from media.render import RenderError, render_clip
from models.clips.subtitles import TimedWord

SMALL = {"video": {"width": 180, "height": 320, "fps": 15, "preset": "ultrafast"}, "duration": {"min_s": 1}}


def _talking() -> Path:
    path = shared_data_dir() / "video" / "talking_1.mp4"
    if not path.is_file():
        pytest.skip(f"real footage missing: {path} (../shared/data/video, or set LIVELENS_SHARED_DATA)")
    return path


def small(name: str = "douyin", **extra) -> object:
    overrides = json.loads(json.dumps(SMALL))
    for key, value in extra.items():
        overrides.setdefault(key, {}).update(value)
    return with_overrides(load_profile(name), overrides)


def decode(path: Path) -> tuple[list[np.ndarray], np.ndarray, av.container.InputContainer]:
    """All video frames (BGR) and the audio (channels, n) at its rate."""
    frames, audio = [], []
    with av.open(str(path)) as c:
        info = {"fps": c.streams.video[0].average_rate, "rate": c.streams.audio[0].rate if c.streams.audio else None,
                "duration": float(c.duration) / av.time_base}
        for f in c.decode(video=0):
            frames.append(f.to_ndarray(format="bgr24"))
    with av.open(str(path)) as c:
        for f in c.decode(audio=0):
            audio.append(f.to_ndarray())
    return frames, (np.concatenate(audio, axis=1) if audio else np.zeros((1, 0))), info


@pytest.fixture(scope="module")
def off_centre(tmp_path_factory) -> Path:
    """talking_1 (face near the middle of a square frame) pasted at the right of a wide grey
    canvas with its audio: a centre crop would miss the face, a subject crop must not."""
    return _pasted(tmp_path_factory.mktemp("media") / "off_centre.mp4", lambda t: 380)


@pytest.fixture(scope="module")
def panning(tmp_path_factory) -> Path:
    """The same host sliding from the left to the right of the canvas (70 px/s): the crop must follow."""
    return _pasted(tmp_path_factory.mktemp("media") / "panning.mp4", lambda t: int(20 + 70 * t))


def _pasted(out: Path, x_at) -> Path:
    src = _talking()
    with av.open(str(src)) as inp, av.open(str(out), "w") as dst:
        vin, ain = inp.streams.video[0], inp.streams.audio[0]
        vout = dst.add_stream("libx264", rate=25)
        vout.width, vout.height, vout.pix_fmt = 640, 280, "yuv420p"
        vout.options = {"preset": "ultrafast"}
        aout = dst.add_stream("aac", rate=ain.rate, layout="mono")
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=ain.rate)
        n = 0
        for frame in inp.decode(vin, ain):
            if frame.time is None or frame.time >= 4.5:
                continue
            if isinstance(frame, av.AudioFrame):
                for a in resampler.resample(frame):
                    a.pts = None
                    dst.mux(aout.encode(a))
                continue
            while n / 25 <= frame.time:  # constant 25 fps
                canvas = np.full((280, 640, 3), 90, np.uint8)
                x = x_at(n / 25)
                canvas[:, x:x + 280][:, :640 - x] = cv2.resize(frame.to_ndarray(format="bgr24"), (280, 280))[:, :640 - x]
                vf = av.VideoFrame.from_ndarray(canvas, format="bgr24")
                vf.pts = n
                dst.mux(vout.encode(vf))
                n += 1
        dst.mux(vout.encode(None))
        dst.mux(aout.encode(None))
    return out


@pytest.fixture(scope="module")
def no_face(tmp_path_factory) -> Path:
    """A moving gradient with a 440 Hz tone: nothing to follow."""
    out = tmp_path_factory.mktemp("media") / "no_face.mp4"
    with av.open(str(out), "w") as dst:
        v = dst.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 320, 180, "yuv420p"
        a = dst.add_stream("aac", rate=48000, layout="mono")
        x = np.linspace(0, 255, 320, dtype=np.float32)
        for i in range(75):
            img = np.tile(((x + 6 * i) % 255).astype(np.uint8)[None, :, None], (180, 1, 3))
            f = av.VideoFrame.from_ndarray(img, format="bgr24")
            f.pts = i
            dst.mux(v.encode(f))
        t = np.arange(48000 * 3) / 48000
        tone = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
        for k in range(0, tone.shape[1], 1024):
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, k:k + 1024]), format="fltp", layout="mono")
            af.sample_rate, af.pts = 48000, k
            dst.mux(a.encode(af))
        dst.mux(v.encode(None))
        dst.mux(a.encode(None))
    return out


def test_output_matches_the_profile_and_loudness_target(off_centre, tmp_path):
    profile = small("xiaohongshu")  # -16 LUFS, unlike the -14 of most
    result = render_clip(off_centre, 0.5, 3.5, profile, tmp_path / "out", lang="en", product="Silk Dress")
    frames, audio, info = decode(result.video)
    assert frames[0].shape[:2] == (320, 180)
    assert info["fps"] == Fraction(15)
    assert len(frames) == 45  # 3 s at 15 fps
    assert abs(info["duration"] - 3.0) < 0.1
    assert info["rate"] == 48000 and audio.shape[0] == 2
    measured = pyloudnorm.Meter(48000).integrated_loudness(audio.T.astype(np.float64))
    assert abs(measured - profile.loudness.integrated_lufs) <= 1.0, measured
    meta = json.loads(result.meta_path.read_text())
    assert abs(meta["loudness_lufs"] - profile.loudness.integrated_lufs) <= 1.0
    assert {"platform", "title", "description", "tags", "start", "end", "subtitles", "loudness_lufs",
            "reframe"} <= meta.keys()
    assert meta["platform"] == "xiaohongshu" and meta["start"] == 0.5 and meta["end"] == 3.5
    cover = cv2.imread(str(result.cover))
    assert cover.shape[:2] == (profile.cover.height, profile.cover.width)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["clip.mp4", "cover.jpg", "meta.json"]


def _crop_centres(video: Path, rendered: Path, start_s: float, every: int) -> tuple[list[float], list[float | None]]:
    """For every ``every``-th output frame: where its window sits in the source (template matching:
    the window is full height, 9:16 wide), and the face centre found in that source frame."""
    frames, _, _ = decode(rendered)
    detector = SubjectDetector(person=False)
    with av.open(str(video)) as c:
        source = {round(f.time * 25): f.to_ndarray(format="bgr24") for f in c.decode(video=0)}
    centres, faces = [], []
    for i in range(0, len(frames), every):
        src = source[min(source, key=lambda k: abs(k / 25 - (start_s + i / 15)))]
        window_w = round(src.shape[0] * 9 / 16)
        template = cv2.resize(frames[i], (window_w, src.shape[0]), interpolation=cv2.INTER_AREA)
        x0 = int(np.argmax(cv2.matchTemplate(src, template, cv2.TM_CCOEFF_NORMED)[0]))
        centres.append((x0 + window_w / 2) / src.shape[1])
        point = detector.detect(src, 0.0)
        faces.append(point.centre[0] if point is not None else None)
    return centres, faces


def test_crop_follows_the_face_without_jitter(off_centre, tmp_path):
    result = render_clip(off_centre, 0.5, 3.5, small("douyin"), tmp_path / "out", lang="en")
    assert result.meta["reframe"] == "subject"
    centres, found = _crop_centres(off_centre, result.video, 0.5, 5)
    faces = [f for f in found if f is not None]
    assert faces, "the detector finds the face in the source"
    face_x = float(np.median(faces))
    assert face_x > 0.65, "the fixture puts the face right of centre"
    assert all(abs(c - face_x) < 0.08 for c in centres), (centres, face_x)
    assert max(abs(np.diff(centres))) < 0.02, "the crop does not jump between frames"


def test_crop_pans_smoothly_with_a_moving_host(panning, tmp_path):
    result = render_clip(panning, 0.5, 4.0, small("douyin"), tmp_path / "out", lang="en")
    assert result.meta["reframe"] == "subject"
    centres, faces = _crop_centres(panning, result.video, 0.5, 2)
    assert centres[-1] - centres[0] > 0.25, "the crop moved with the host"
    near = [abs(c - f) for c, f in zip(centres, faces) if f is not None]
    assert len(near) > len(centres) / 2 and float(np.median(near)) < 0.05 and max(near) < 0.1
    steps = np.diff(centres)
    assert steps.min() > -0.01, "no jerk backwards while the host walks one way"
    assert steps.max() < 0.03, "no jump (the host moves ~0.015 of the width per two output frames)"


def test_subtitles_are_drawn_while_their_cue_is_active(off_centre, tmp_path):
    profile = small("douyin", video={"width": 270, "height": 480})
    words = [TimedWord(1500, 1800, "桑蚕丝"), TimedWord(1800, 2100, "面料"), TimedWord(2100, 2400, "很舒服")]
    plain = render_clip(off_centre, 0.5, 3.5, profile, tmp_path / "plain", lang="zh")
    subbed = render_clip(off_centre, 0.5, 3.5, profile, tmp_path / "subbed", words=words, lang="zh")
    assert [c["text"] for c in subbed.meta["subtitles"]] == ["桑蚕丝面料很舒服"]
    cue = subbed.meta["subtitles"][0]
    assert cue["start"] == pytest.approx(1.0) and cue["end"] == pytest.approx(1.9)
    a, _, _ = decode(plain.video)
    b, _, _ = decode(subbed.video)
    bottom = int(480 * (1 - profile.safe_area.bottom))
    band = slice(bottom - int(480 * 0.12), bottom)

    def diff(i: int, rows: slice) -> float:
        return float(np.abs(a[i][rows].astype(int) - b[i][rows].astype(int)).mean())

    active = [i for i in range(len(a)) if 1.0 + 0.05 <= i / 15 < 1.9 - 0.05]
    idle = [i for i in range(len(a)) if i / 15 < 0.9 or i / 15 > 2.1]
    assert min(diff(i, band) for i in active) > 8, "the cue's text changes the subtitle band"
    assert max(diff(i, band) for i in idle) < 3, "no text outside the cue's time"
    assert max(diff(i, slice(0, bottom - int(480 * 0.2))) for i in active) < 3, "text stays in its band"
    assert max(diff(i, slice(bottom + 2, 480)) for i in active) < 3, "nothing under the platform's caption area"
    right = int(270 * (1 - profile.safe_area.right))
    assert max(float(np.abs(a[i][band, right + 2:].astype(int) - b[i][band, right + 2:].astype(int)).mean())
               for i in active) < 3, "nothing under the platform's buttons on the right"


def test_letterbox_when_no_subject_and_marked_in_meta(no_face, tmp_path):
    result = render_clip(no_face, 0.0, 2.5, small("tiktok"), tmp_path / "out", lang="en")
    assert result.meta["reframe"] == "letterbox"
    assert any("letterbox" in w for w in result.meta["warnings"])
    frames, _, _ = decode(result.video)
    assert frames[0].shape[:2] == (320, 180)
    # the whole 16:9 frame is shown, fitted to the width in the middle (rows 109-210 of 320), over a
    # darkened fill: compare with the source frame shown at that moment (output frame 10 = 0.667 s)
    with av.open(str(no_face)) as c:
        source = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    shown = cv2.resize(source[16], (180, 101), interpolation=cv2.INTER_AREA).astype(int)
    assert np.abs(frames[10][110:210].astype(int) - shown[1:101]).mean() < 12
    # the fill: the middle 9:16 window of the frame, blurred and darkened
    assert frames[10][:100].mean() < 0.6 * source[16][:, 109:210].mean(), "the fill is darkened"


def test_segment_store_source(tmp_path):
    from media.decode import MediaIngest
    from media.segment_store import LocalSegmentStore

    store = LocalSegmentStore(tmp_path / "segments")
    for _ in MediaIngest(str(_talking()), "room-1", store, segment_s=2.0, realtime=False, prune=False).events():
        pass
    segments = store.segments_between("room-1", 1500, 4500)
    assert len(segments) >= 2
    result = render_clip(segments, 1.5, 4.5, small("douyin"), tmp_path / "out", lang="en")
    frames, audio, info = decode(result.video)
    assert len(frames) == 45 and audio.shape[1] >= 48000 * 2.9
    assert result.meta["reframe"] == "subject"


def test_full_size_profile(no_face, tmp_path):
    profile = load_profile("douyin")  # as shipped: veryfast, High profile
    result = render_clip(no_face, 0.0, 3.0, profile, tmp_path / "out", lang="zh",
                         words=[TimedWord(1000, 2000, "今天直播间特价")])
    with av.open(str(result.video)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height) == (1080, 1920)
        assert v.average_rate == 30 and v.codec_context.profile == "High"
        assert v.frames == 90


# ---------------------------------------------------------------- bad input


def test_range_outside_the_video_is_refused_and_leaves_nothing(no_face, tmp_path):
    out = tmp_path / "out"
    for start, end in ((5.0, 8.0), (2.0, 5.0), (-1.0, 2.0), (2.0, 2.0)):  # the video is 3 s long
        with pytest.raises(RenderError) as err:
            render_clip(no_face, start, end, small(), out)
        assert "\n" not in str(err.value)
    assert not out.exists() or not any(out.iterdir())


def test_clip_outside_the_platform_duration_is_refused(no_face, tmp_path):
    with pytest.raises(RenderError, match="outside douyin's 5-60 s"):
        render_clip(no_face, 0.5, 2.5, small(duration={"min_s": 5}), tmp_path / "out")


def test_corrupt_and_missing_files(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    with pytest.raises(RenderError, match="cannot decode|no video"):
        render_clip(bad, 0, 2, small(), tmp_path / "out")
    with pytest.raises(RenderError, match="no such file"):
        render_clip(tmp_path / "missing.mp4", 0, 2, small(), tmp_path / "out")


def test_video_without_audio_gets_a_marked_silent_track(tmp_path):
    path = tmp_path / "silent.mp4"
    with av.open(str(path), "w") as dst:
        v = dst.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 160, 90, "yuv420p"
        for i in range(60):
            f = av.VideoFrame.from_ndarray(np.full((90, 160, 3), i * 4, np.uint8), format="bgr24")
            f.pts = i
            dst.mux(v.encode(f))
        dst.mux(v.encode(None))
    result = render_clip(path, 0, 2, small(), tmp_path / "out")
    assert result.meta["loudness_lufs"] is None
    assert any("no audio" in w for w in result.meta["warnings"])
    _, audio, _ = decode(result.video)
    assert audio.shape[1] > 0 and float(np.abs(audio).max()) < 1e-4


def test_unknown_platform():
    with pytest.raises(ProfileError, match="unknown platform 'myspace'; known: douyin"):
        load_profile("myspace")


def test_a_failed_render_leaves_no_file_that_looks_done(no_face, tmp_path, monkeypatch):
    import media.render as render_module

    out = tmp_path / "out"
    render_clip(no_face, 0.5, 2.5, small(), out)  # an earlier, finished render
    assert (out / "meta.json").exists()

    def broken_cover(*args, **kwargs):
        raise RenderError("disk full")

    monkeypatch.setattr(render_module, "_write_cover", broken_cover)
    with pytest.raises(RenderError):
        render_clip(no_face, 1.0, 2.5, small(), out)
    assert not (out / "meta.json").exists(), "the old meta.json must not vouch for a failed re-render"
    assert not [p for p in out.iterdir() if ".part" in p.name], "temporary files are removed"


def test_the_audio_is_the_span_s_audio(off_centre, tmp_path):
    """The clip's sound starts at the clip's start: cross-correlating with the source finds no lag."""
    result = render_clip(off_centre, 1.3, 3.8, small(), tmp_path / "out", lang="en")

    def mono(path: Path) -> np.ndarray:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=48000)
        with av.open(str(path)) as c:
            return np.concatenate([o.to_ndarray().reshape(-1) for f in c.decode(audio=0) for o in resampler.resample(f)])

    src = mono(off_centre)[int(1.3 * 48000):int(3.8 * 48000)]
    out = mono(result.video)[:len(src)]
    n = min(len(src), len(out))
    a, b = src[:n] / np.abs(src).max(), out[:n] / np.abs(out).max()

    def match(lag: int) -> float:
        return float(np.dot(a[max(0, lag):n + min(0, lag)], b[max(0, -lag):n - max(0, lag)]))

    best = max(range(-4800, 4801, 24), key=match)
    assert abs(best) <= 48, f"audio off by {best / 48:.1f} ms"
