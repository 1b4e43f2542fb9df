"""The clipper through run_processor: real media in a segment store, real cuts and platform renders
(profiles shrunk for speed), decoded back with PyAV. A zh room gets its Chinese platform, an en
room TikTok; renders come after the clip and its vertical variant, as revisions of the same clip."""

from __future__ import annotations

import json

import av
import pytest

from media.decode import MediaIngest
from media.platforms import ProfileError
from media.segment_store import LocalSegmentStore
from processors.clipper import ClipperProcessor
from processors.testing import ProcessorRun
from streams.schemas import ComplianceAlert, ComplianceViolation, FusedWindow, SellingPoint, VisionFeatures, Word
from streams.settings import Settings
from tests.media.media_samples import make_clip
from tests.media.test_render import small

ZH = ("zh-room", "这款连衣裙是真丝面料，垂感特别好，穿着很凉快。", "fabric_material", "面料材质")
EN = ("en-room", "This dress is pure silk, it drapes beautifully and feels cool.", "fabric_material",
      "Fabric / material")


@pytest.fixture(scope="module")
def segments(tmp_path_factory):
    """Both rooms' media: 8 s of a test pattern with a tone, ingested into 2 s segments."""
    root = tmp_path_factory.mktemp("clipper")
    source = make_clip(root / "source.mp4", 8.0, size=(320, 180))
    store = LocalSegmentStore(root / "segments")
    for room in (ZH[0], EN[0]):
        for _ in MediaIngest(str(source), room, store, segment_s=2.0, realtime=False, prune=False).events():
            pass
    return store


def _settings(tmp_path, **clips) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, clips={"min_s": 2.0, "platforms": ["douyin", "tiktok"],
                                                             "max_wait_s": 0.5, **clips})


def _processor(settings, store) -> ClipperProcessor:
    proc = ClipperProcessor(settings, store)
    proc.profiles = [small(p.name) for p in proc.profiles]  # same platforms and languages, a small frame
    return proc


DRESS = ("dress-01", "桑蚕丝连衣裙", "Silk Midi Dress")


def _point(room: str, text: str, label: str, name: str, start_ms=1_000, end_ms=5_000,
           product: tuple[str, str, str] = DRESS) -> SellingPoint:
    tokens = list(text) if room.startswith("zh") else text.split()
    step = (end_ms - start_ms) // len(tokens)
    words = [Word(start_ms=start_ms + i * step, end_ms=start_ms + (i + 1) * step - 10, text=t)
             for i, t in enumerate(tokens)]
    return SellingPoint(room_id=room, stream_ms=end_ms, segment_id=f"{room}-sp", category="apparel", label=label,
                        label_zh=name, label_en=name, start_ms=start_ms, end_ms=end_ms, text=text,
                        confidence=0.9, words=words, closed=True, product_id=product[0],
                        product_name_zh=product[1], product_name_en=product[2])


@pytest.mark.parametrize("room, text, label, name, platform", [(*ZH, "douyin"), (*EN, "tiktok")],
                         ids=["zh", "en"])
def test_a_clip_then_its_vertical_then_the_rooms_platform_render(segments, tmp_path, room, text, label, name,
                                                                 platform):
    settings = _settings(tmp_path)
    outputs = ProcessorRun(_processor(settings, segments)).feed([_point(room, text, label, name)])
    clips = [o.event for o in outputs]
    assert [o.topic for o in outputs] == ["clips"] * 3
    first, vertical, rendered = clips
    assert [c.revision for c in clips] == [0, 1, 2] and len({c.clip_id for c in clips}) == 1
    assert first.status == "ready" and first.pending == ["vertical", f"render:{platform}"]
    assert "mp4" in first.files and not any(k.startswith("render:") for k in first.files)
    assert vertical.pending == [f"render:{platform}"] and "vertical" in vertical.files
    assert rendered.pending == [] and "render" not in rendered.reason
    roles = {f"render:{platform}", f"render:{platform}:cover", f"render:{platform}:meta"}
    assert roles <= set(rendered.files) and not any("douyin" in k for k in rendered.files if platform == "tiktok")
    assert rendered.files[f"render:{platform}"] == f"/api/rooms/{room}/clips/{first.clip_id}/files/render:{platform}"

    folder = settings.clips_dir / room / first.clip_id / "renders" / platform
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    assert meta["platform"] == platform and meta["title"] and meta["lang"] == room[:2]
    # the clip names the product its selling point is about, and the render's listing uses it
    product = DRESS[1] if room.startswith("zh") else DRESS[2]
    assert first.product_id == "dress-01" and meta["product"] == product
    assert product in meta["title"] + meta["description"]
    with av.open(str(folder / "clip.mp4")) as c:
        v = c.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height) == (180, 320)
        assert c.streams.audio, "the render has sound"
        duration = float(c.duration) / av.time_base
    assert abs(duration - (first.end_ms - first.start_ms) / 1000) < 0.3
    assert (folder / "cover.jpg").stat().st_size > 1000
    # the clip's own meta.json lists the render once it is done
    clip_meta = json.loads((folder.parents[1] / "meta.json").read_text(encoding="utf-8"))
    assert f"render:{platform}" in clip_meta["files"]


def test_a_failed_render_says_why_and_leaves_nothing_that_looks_done(segments, tmp_path):
    settings = _settings(tmp_path, platforms=["douyin"])
    proc = _processor(settings, segments)
    proc.profiles = [small("douyin", duration={"min_s": 30})]  # a 4 s clip is too short for it
    *_, rendered = [o.event for o in ProcessorRun(proc).feed([_point(*ZH)])]
    assert rendered.pending == [] and "no douyin render" in rendered.reason
    assert not any(k.startswith("render:") for k in rendered.files)
    assert not (settings.clips_dir / ZH[0] / rendered.clip_id / "renders" / "douyin" / "meta.json").exists()


def test_no_platforms_no_renders_and_unknown_platform_is_refused(segments, tmp_path):
    outputs = ProcessorRun(_processor(_settings(tmp_path, platforms=[]), segments)).feed([_point(*EN)])
    assert [o.event.revision for o in outputs] == [0, 1] and outputs[-1].event.pending == []
    with pytest.raises(ProfileError):
        ClipperProcessor(_settings(tmp_path, platforms=["myspace"]), segments)


def test_state_from_vision_fused_and_compliance(segments, tmp_path):
    proc = _processor(_settings(tmp_path, platforms=[]), segments)
    run = ProcessorRun(proc, restore_every=1)  # the table round trip after every input
    room = ZH[0]
    v = ComplianceViolation(kind="absolute", rule="r", term="最好", start=0, end=2, severity="critical", law="l",
                            suggestion="s", start_ms=2_000, end_ms=2_500)
    assert run.feed([
        VisionFeatures(room_id=room, stream_ms=500, frame_seq=1, face_box=[0.5, 0.2, 0.2, 0.3]),
        FusedWindow(room_id=room, stream_ms=900, start_ms=0, end_ms=900, highlight_score=0.7,
                    conversion_forecast=0.1),
        ComplianceAlert(room_id=room, stream_ms=2_600, source="host", source_id="t1", text="最好", severity="critical",
                        start_ms=2_000, end_ms=2_500, violations=[v]),
    ]) == []
    assert proc.face_x[room] == pytest.approx(0.6)
    state = run.states[room]
    assert state.highlights == [[0, 900, 0.7]] and state.violations[0]["term"] == "最好"
    first, *_ = [o.event for o in run.feed([_point(*ZH)])]
    assert first.hold and [c.term for c in first.compliance] == ["最好"]
    # a redelivered selling point is not cut again
    assert run.feed([_point(*ZH)]) == []


def _first_frame(path):  # -> a BGR numpy frame
    with av.open(str(path)) as c:
        return next(c.decode(video=0)).to_ndarray(format="bgr24")


@pytest.mark.parametrize("room, text, label, name, platform", [
    ("zh-room", "这款连衣裙是真丝面料。垂感特别好，穿着很凉快。今天直播间到手价一百二十九元。", "fabric_material", "面料材质",
     "douyin"),
    ("en-room", "This dress is pure silk. It drapes beautifully and feels cool. Today it is only 129 dollars.",
     "fabric_material", "Fabric", "tiktok")], ids=["zh", "en"])
def test_the_clip_matrix_variants_open_title_and_cover_differently(segments, tmp_path, room, text, label, name,
                                                                    platform):
    import numpy as np

    settings = _settings(tmp_path, variants=2)
    outputs = ProcessorRun(_processor(settings, segments)).feed([_point(room, text, label, name)])
    first, *_, last = [o.event for o in outputs]
    assert first.pending == ["vertical", f"render:{platform}", f"render:{platform}:v1"]
    assert [o.event.revision for o in outputs] == [0, 1, 2, 3] and last.pending == []
    assert {f"render:{platform}", f"render:{platform}:v1", f"render:{platform}:v1:cover"} <= set(last.files)
    base = settings.clips_dir / room / first.clip_id / "renders" / platform
    metas = [json.loads((folder / "meta.json").read_text(encoding="utf-8")) for folder in (base, base / "v1")]
    assert [m["variant"] for m in metas] == [0, 1]
    assert metas[0]["title"] != metas[1]["title"], [m["title"] for m in metas]  # another hook
    assert abs(metas[0]["cover_t"] - metas[1]["cover_t"]) >= 1.0  # another moment on the cover
    # the variant opens with its hook as a banner at the top; the plain render does not
    top = slice(0, 320 // 3)
    plain, variant = _first_frame(base / "clip.mp4")[top], _first_frame(base / "v1" / "clip.mp4")[top]
    assert np.abs(plain.astype(int) - variant.astype(int)).mean() > 10


def test_renders_still_queued_for_a_superseded_clip_are_not_made(segments, tmp_path):
    from processors.runtime import Input, Later

    settings = _settings(tmp_path, platforms=["douyin"])
    proc = _processor(settings, segments)
    state = proc.load_state(None)
    room, text = ZH[0], "这款连衣裙是真丝面料，垂感特别好。"

    def handle(sp):
        outs = list(proc.handle(Input("selling_points", sp), state))
        return [o.event for o in outs if not isinstance(o, Later)], [o for o in outs if isinstance(o, Later)]

    first = _point(room, text, "fabric_material", "面料材质", 1_000, 3_600).model_copy(update={"segment_id": "a"})
    clips, (queued,) = handle(first)  # its render waits in the pool (the runtime runs it later)
    # a longer, better selling point over the same words replaces the first clip before its render ran
    more = _point(room, "穿着很凉快，夏天也不闷，皮肤感觉特别舒服滑滑的。", "skin_feel", "肤感", 1_200, 7_200).model_copy(
        update={"segment_id": "b"})
    better, later = handle(more)
    assert better[0].supersedes == [clips[0].clip_id]
    update, = [o.event for o in queued.work()]
    assert update.clip_id == clips[0].clip_id and update.pending == [] and "superseded" in update.reason
    assert update.revision > clips[-1].revision
    assert not (settings.clips_dir / room / clips[0].clip_id / "renders").exists()  # no CPU spent on it
    rendered = [o.event for work in later for o in work.work()]
    assert rendered[-1].clip_id == better[0].clip_id and "render:douyin" in rendered[-1].files
