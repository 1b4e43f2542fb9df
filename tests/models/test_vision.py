"""Vision features on real frames (../shared/data/video) and on synthetic edge cases."""

from __future__ import annotations

import sys

from pathlib import Path

import cv2
import numpy as np
import pytest

from models.vision import FrameAnalyzer, FrameFeatures, VisionAnalyzer, VisionConfig, decode_jpeg, parse_prices

VIDEO_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "video"


def _frames(name: str, step: int = 5, limit: int = 20) -> list[tuple[int, np.ndarray]]:
    av = pytest.importorskip("av", reason="PyAV is needed to decode the sample videos")
    path = VIDEO_DIR / f"{name}.mp4"
    if not path.exists():
        pytest.skip(f"../shared/data/video/{name}.mp4 missing: real talking-head video for the vision tests")
    out: list[tuple[int, np.ndarray]] = []
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % step == 0:
                out.append((int(frame.time * 1000), frame.to_ndarray(format="bgr24")))
            if len(out) >= limit:
                break
    return out


@pytest.fixture(scope="module")
def talking() -> dict[str, list[tuple[int, np.ndarray]]]:
    return {"talking_1": _frames("talking_1"), "talking_2": _frames("talking_2")}


def check_frame_analyzer(analyzer: FrameAnalyzer, frames: list[tuple[int, np.ndarray]]) -> None:
    """The contract every FrameAnalyzer meets (river's check_estimator idea)."""
    results = [analyzer.analyze(frame, t_ms) for t_ms, frame in frames]
    for result in results:
        assert isinstance(result, FrameFeatures)
        assert result.cost_ms > 0
        assert 0.0 <= result.motion <= 1.0 and 0.0 <= result.closeup <= 1.0
        assert result.faces >= 0 and result.persons >= 0
        if result.face_box is not None:
            assert all(0.0 <= v <= 1.0 for v in result.face_box)
    assert results[0].motion == 0.0 and not results[0].scene_cut  # nothing to compare the first frame with
    analyzer.reset()
    again = analyzer.analyze(frames[1][1], frames[1][0])
    assert again.motion == 0.0, "reset() must forget the previous frame"


def test_contract(talking):
    check_frame_analyzer(VisionAnalyzer(), talking["talking_1"][:4])


@pytest.mark.parametrize("name", ["talking_1", "talking_2"])
def test_faces_found_in_most_frames_in_a_plausible_place(talking, name):
    analyzer = VisionAnalyzer()
    results = [analyzer.analyze(frame, t) for t, frame in talking[name]]
    with_face = [r for r in results if r.face_box is not None]
    assert len(with_face) >= 0.8 * len(results)
    for r in with_face:
        x, y, w, h = r.face_box
        centre_x, centre_y = x + w / 2, y + h / 2
        # a host talking to camera: face in the middle band, upper two-thirds, a sizeable part of the frame
        assert 0.2 < centre_x < 0.8 and 0.1 < centre_y < 0.7
        assert 0.15 < w < 0.7
        assert r.host_present


def test_scene_cut_only_between_videos_and_motion_low_for_talking_heads(talking):
    analyzer = VisionAnalyzer()
    first = [analyzer.analyze(frame, t) for t, frame in talking["talking_1"]]
    offset = first[-1].t_ms + 200
    second = [analyzer.analyze(frame, offset + t) for t, frame in talking["talking_2"]]
    assert not any(r.scene_cut for r in first[1:]), [round(r.scene_distance, 3) for r in first]
    assert second[0].scene_cut, "switching to another video must be a cut"
    assert not any(r.scene_cut for r in second[1:])
    within = [r.motion for r in first[1:] + second[1:]]
    assert float(np.median(within)) < 0.03  # a talking head moves little between sampled frames
    assert second[0].motion > 5 * float(np.median(within))


def test_black_frame_and_repeated_frame(talking):
    analyzer = VisionAnalyzer()
    t0, frame = talking["talking_1"][0]
    assert not analyzer.analyze(frame, t0).black
    repeated = analyzer.analyze(frame.copy(), t0 + 1000)
    assert repeated.frozen and repeated.motion == 0.0
    moving = analyzer.analyze(talking["talking_1"][5][1], t0 + 2000)
    assert not moving.frozen
    black = np.full_like(frame, 3)
    black_result = analyzer.analyze(black, t0 + 3000)
    assert black_result.black and black_result.faces == 0
    # a dark but not black frame (noise around low luma) is not flagged
    rng = np.random.default_rng(0)
    dark = np.clip(rng.normal(40, 25, frame.shape), 0, 255).astype(np.uint8)
    assert not analyzer.analyze(dark, t0 + 4000).black


def test_jpeg_round_trip_keeps_the_features(talking):
    t, frame = talking["talking_2"][0]
    ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    decoded = decode_jpeg(encoded.tobytes())
    assert decoded.shape == frame.shape and decoded.dtype == np.uint8
    result = VisionAnalyzer().analyze(decoded, t)
    assert result.faces >= 1
    with pytest.raises(ValueError):
        decode_jpeg(b"not a jpeg")
    # the same JPEG decoded twice is a repeat
    analyzer = VisionAnalyzer()
    analyzer.analyze(decode_jpeg(encoded.tobytes()), 0)
    assert analyzer.analyze(decode_jpeg(encoded.tobytes()), 1000).frozen


def test_rgb_input_matches_bgr(talking):
    t, frame = talking["talking_2"][3]
    bgr = VisionAnalyzer().analyze(frame, t)
    rgb = VisionAnalyzer().analyze(np.ascontiguousarray(frame[:, :, ::-1]), t, rgb=True)
    assert bgr.faces == rgb.faces and bgr.face_box == rgb.face_box


def test_closeup_cue_rises_when_a_detailed_object_is_held_up(talking):
    """A printed, high-detail patch (a stand-in for a product held to the camera) in the lower centre."""
    frames = talking["talking_2"]
    analyzer = VisionAnalyzer()
    plain = [analyzer.analyze(frame, t).closeup for t, frame in frames[:6]]
    t, frame = frames[6]
    held = frame.copy()
    h, w = held.shape[:2]
    rng = np.random.default_rng(1)
    patch = (rng.integers(0, 2, size=(h // 16, w // 16)) * 255).astype(np.uint8)
    patch = cv2.resize(patch, (int(0.5 * w), int(0.35 * h)), interpolation=cv2.INTER_NEAREST)
    held[int(0.62 * h):int(0.62 * h) + patch.shape[0], int(0.25 * w):int(0.25 * w) + patch.shape[1]] = patch[:, :, None]
    with_product = analyzer.analyze(held, t).closeup
    assert with_product > max(plain) + 0.3


def test_persons_measured_every_nth_frame(talking):
    analyzer = VisionAnalyzer(VisionConfig(person_every=3))
    measured = [analyzer.analyze(frame, t).persons_measured for t, frame in talking["talking_1"][:7]]
    assert measured == [True, False, False, True, False, False, True]


def test_cost_is_reported_per_frame(talking):
    analyzer = VisionAnalyzer()
    costs = [analyzer.analyze(frame, t).cost_ms for t, frame in talking["talking_1"][:5]]
    assert all(c > 0 for c in costs)
    print(f"vision cost per frame (ms): {[round(c, 1) for c in costs]}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("限时价 ¥199", [(199.0, "CNY")]),
        ("到手价199元 原价299元", [(199.0, "CNY"), (299.0, "CNY")]),
        ("Now $29.99!", [(29.99, "USD")]),
        ("￥59.9包邮", [(59.9, "CNY")]),
        ("¥199元", [(199.0, "CNY")]),
        ("库存 300 件", []),
    ],
)
def test_parse_prices(text, expected):
    assert [(p.amount, p.currency) for p in parse_prices(text)] == expected


def test_ocr_flag_without_rapidocr_says_how_to_install(talking, monkeypatch):
    monkeypatch.setitem(sys.modules, "rapidocr", None)  # as if the optional package were not installed
    analyzer = VisionAnalyzer(VisionConfig(ocr=True))
    t, frame = talking["talking_1"][0]
    with pytest.raises(RuntimeError, match="rapidocr"):
        analyzer.analyze(frame, t)


def test_ocr_reads_prices_when_rapidocr_is_installed():
    # setup installs the optional ocr extra, so this runs everywhere the tests do
    frame = np.full((360, 640, 3), 255, np.uint8)
    cv2.putText(frame, "Now $29.99", (40, 120), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (0, 0, 255), 4)
    cv2.putText(frame, "RMB 199", (40, 260), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (0, 0, 0), 4)
    result = VisionAnalyzer(VisionConfig(ocr=True)).analyze(frame, 0)
    assert {(p.amount, p.currency) for p in result.prices} == {(29.99, "USD"), (199.0, "CNY")}
