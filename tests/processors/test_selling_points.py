"""The selling-points processor through ``run_processor``: final sentences (zh and en) become
merged segments of the right class; what an open segment holds stays unacknowledged."""

from __future__ import annotations

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
