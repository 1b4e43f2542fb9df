"""The selling-points processor through ``run_processor``: final sentences (zh and en) become
merged segments of the right class; what an open segment holds stays unacknowledged."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.selling_points import SellingPointsProcessor
from processors.testing import ProcessorRun
from streams.schemas import StreamMarker, Transcript
from streams.settings import Settings


@pytest.fixture(scope="module")
def processor() -> SellingPointsProcessor:
    p = SellingPointsProcessor(Settings(_env_file=None))
    p.load_models()  # the packaged multilingual encoder, once for the module
    return p


def _final(room: str, i: int, text: str, start_ms: int) -> Transcript:
    return Transcript(room_id=room, stream_ms=start_ms + 2_000, segment_id=f"{room}:{i}", is_final=True,
                      start_ms=start_ms, end_ms=start_ms + 2_000, text=text, language="zh")


def _end(room: str, ms: int):
    return ("segments", StreamMarker(room_id=room, stream_ms=ms, marker="end"))


@pytest.mark.parametrize(("room", "sentences", "labels"), [
    ("zh-room", ["这条裙子是百分之百桑蚕丝的面料", "二十二姆米的真丝，厚实不透", "今天直播间只要一百二十九元",
                 "再领十元优惠券"], ["fabric_material", "price_promotion"]),
    ("en-room", ["This dress is one hundred percent mulberry silk.", "Twenty two momme silk, thick and not see through.",
                 "Today in my live room it is only one hundred twenty nine!", "Grab the ten yuan coupon below the video."],
     ["fabric_material", "price_promotion"]),
])
def test_consecutive_sentences_of_a_class_merge_into_one_segment(processor, room, sentences, labels):
    run = ProcessorRun(processor)
    events = [_final(room, i, t, 2_000 * i) for i, t in enumerate(sentences)]
    outputs = run.feed(events + [_end(room, 10_000)])
    segments = [o.event for o in outputs if not o.event.chit_chat]
    assert [s.label for s in segments] == labels
    assert segments[0].start_ms == 0 and segments[0].end_ms == 4_000 and segments[1].start_ms == 4_000
    assert all(s.label_zh and s.label_en for s in segments)
    assert room not in run.states  # forgotten at the room's end


def test_an_open_segment_holds_its_sentences_and_partials_are_not_held(processor):
    run = ProcessorRun(processor)
    room = "held-room"
    run.feed([_final(room, 0, "这条裙子是百分之百桑蚕丝的面料", 0), _final(room, 1, "二十二姆米的真丝", 2_000)])
    state = run.states[room]
    assert processor.held_from_ms(state) == 0  # both sentences are in the open segment
    partial = Transcript(room_id=room, stream_ms=5_000, segment_id="p", is_final=False, start_ms=4_000, end_ms=5_000,
                         text="今天")
    assert processor.held_end_ms(run._input_for(partial)) is None
    closed = run.feed([_final(room, 2, "今天直播间只要一百二十九元", 4_000)])
    assert [o.event.label for o in closed] == ["fabric_material"] and processor.held_from_ms(state) == 4_000


def test_a_quiet_host_closes_the_open_segment(processor):
    run = ProcessorRun(processor)
    room = "quiet-room"
    first = _final(room, 0, "今天直播间只要一百二十九元", 0)
    run.feed([first], received_at=100.0)
    state = run.states[room]
    assert processor.close_quiet(room, state, now=101.0) == []  # not quiet yet
    outputs = processor.close_quiet(room, state, now=100.0 + processor.u.segment_max_gap_ms / 1000 + 2)
    assert [o.event.label for o in outputs] == ["price_promotion"]


# --- multi-label selling points and the product they are about ---------------------------------

SAMPLE_CATALOG = Path(__file__).resolve().parents[2] / "models" / "understanding" / "catalogs" / "sample_room.yaml"


@pytest.fixture(scope="module")
def catalog_processor(processor) -> SellingPointsProcessor:
    settings = Settings(_env_file=None)
    settings.understanding.catalog = SAMPLE_CATALOG
    p = SellingPointsProcessor(settings, classifier=processor.classifier)  # the same loaded encoder
    p.load_models()
    return p


@pytest.mark.parametrize(("room", "sentences", "product", "name"), [
    ("multi-zh", ["这条桑蚕丝连衣裙纯棉的，垂感好，今天到手价九十九"], "dress-01", "桑蚕丝中长款连衣裙"),
    ("multi-en", ["This cashmere cardigan is soft and warm, and today it is only ninety nine, grab the coupon."],
     "cardigan-02", "Cashmere Cardigan"),
])
def test_a_segment_lists_every_selling_point_with_its_span_and_names_the_product(
        catalog_processor, room, sentences, product, name):
    run = ProcessorRun(catalog_processor)
    outputs = run.feed([_final(room, i, t, 2_000 * i) for i, t in enumerate(sentences)] + [_end(room, 10_000)])
    (segment,) = [o.event for o in outputs]
    classes = [label.cls for label in segment.labels]
    assert len(classes) >= 2 and "price_promotion" in classes, classes
    assert segment.label in classes or segment.chit_chat
    for label in segment.labels:  # each span quotes the segment's own text
        assert 0 <= label.start < label.end <= len(segment.text) and 0 < label.score <= 1
    assert segment.product_id == product and name in (segment.product_name_zh, segment.product_name_en)
    wire = segment.model_dump(mode="json")  # what the sinks write: {"class": ...}
    assert wire["labels"][0]["class"] == classes[0] and wire["product_id"] == product


def test_a_named_product_carries_into_the_next_segments_until_another_is_named(catalog_processor):
    room = "carry-zh"
    run = ProcessorRun(catalog_processor)
    sentences = ["这条连衣裙是百分之百桑蚕丝的面料", "今天直播间只要一百二十九元", "再看三号链接牛仔裤，高腰显腿长"]
    outputs = run.feed([_final(room, i, t, 2_000 * i) for i, t in enumerate(sentences)] + [_end(room, 10_000)])
    products = [(o.event.label, o.event.product_id) for o in outputs]
    assert products[0] == ("fabric_material", "dress-01") and products[1] == ("price_promotion", "dress-01")
    assert products[-1][1] == "jeans-03"


def test_without_a_catalog_no_product_and_a_bad_catalog_is_one_logged_line(processor, tmp_path, caplog):
    run = ProcessorRun(processor)
    outputs = run.feed([_final("plain", 0, "这条连衣裙是百分之百桑蚕丝的面料", 0), _end("plain", 5_000)])
    assert outputs[0].event.product_id == "" and outputs[0].event.labels
    bad = tmp_path / "bad.yaml"
    bad.write_text("products:\n  - id: ''\n    name: {zh: x}\n", encoding="utf-8")
    settings = Settings(_env_file=None)
    settings.understanding.catalog = bad
    p = SellingPointsProcessor(settings, classifier=processor.classifier)
    p.load_models()
    assert p.room_linker("any") is None
    assert any("bad.yaml" in r.getMessage() for r in caplog.records)
