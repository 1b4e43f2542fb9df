"""The compliance processor through ``run_processor``: final transcripts and chat → alerts + rephrase tips."""

from __future__ import annotations

import pytest

from processors.compliance import ComplianceProcessor, phrase_time, word_offsets
from processors.testing import ProcessorRun, run_processor
from streams.schemas import ChatMessage, StreamMarker, Transcript, Word
from streams.settings import Settings

ROOM = "c-room"


def _settings(**compliance) -> Settings:
    return Settings(compliance={"platform": "douyin", **compliance}, _env_file=None)


def _final(text: str, seg: str = "s1", language: str = "zh", start_ms: int = 10_000, end_ms: int = 14_000,
           words: list[Word] | None = None, final: bool = True) -> Transcript:
    return Transcript(room_id=ROOM, event_id=f"{seg}:{'f' if final else 'p'}", stream_ms=end_ms, segment_id=seg,
                      is_final=final, start_ms=start_ms, end_ms=end_ms, text=text, language=language,
                      words=words or [])


def test_a_seeded_absolute_term_in_host_speech_is_an_alert_and_a_rephrase_tip():
    words = [Word(start_ms=10_000, end_ms=10_800, text="这款"), Word(start_ms=10_800, end_ms=12_000, text="全网最低"),
             Word(start_ms=12_000, end_ms=13_000, text="价")]
    outputs = run_processor(ComplianceProcessor(_settings()), [_final("这款全网最低价", words=words)])
    assert [o.topic for o in outputs] == ["compliance", "recommendations"]
    alert, tip = outputs[0].event, outputs[1].event
    assert alert.source == "host" and alert.source_id == "s1" and alert.severity == "critical"
    v = alert.violations[0]
    assert v.kind == "absolute_term" and alert.text[v.start:v.end] == v.term and "全网最低" in v.term
    assert v.law and v.suggestion
    assert (v.start_ms, v.end_ms) == (10_800, 13_000)  # the words the phrase covers (全网最低 + 价)
    assert (alert.start_ms, alert.end_ms) == (10_000, 14_000)
    assert alert.ingested_at == outputs[0].event.ingested_at  # latency is measured from the transcript
    assert tip.rec_type == "rephrase" and v.term in tip.message_zh and v.suggestion in tip.message_zh
    assert v.term in tip.message_en and tip.priority >= 90 and tip.expires_ms > alert.end_ms


def test_english_efficacy_claim_is_flagged_in_an_english_room():
    outputs = run_processor(ComplianceProcessor(_settings(platform="tiktok", category="food")),
                            [_final("This tea will cure your diabetes, guaranteed", language="en")])
    alert = outputs[0].event
    assert alert.language == "en" and {v.kind for v in alert.violations} == {"efficacy_claim"}
    assert "cure" in alert.violations[0].term.lower()
    assert outputs[1].event.message_en.startswith("Rephrase")


@pytest.mark.parametrize("text,language", [
    ("这是最新款，第一批到货，第一件半价", "zh"),
    ("我不能说是最好的，大家自己试试", "zh"),
    ("This jacket keeps you warm on windy days", "en"),
])
def test_harmless_sentences_are_not_flagged(text, language):
    assert run_processor(ComplianceProcessor(_settings()), [_final(text, language=language)]) == []


def test_partial_transcripts_are_ignored_only_the_final_is_checked():
    run = ProcessorRun(ComplianceProcessor(_settings()))
    assert run.feed([_final("全网最低", final=False), _final("全网最低价", final=False)]) == []
    assert [o.topic for o in run.feed([_final("全网最低价")])] == ["compliance", "recommendations"]


def test_chat_diversion_is_an_alert_without_a_host_tip_also_when_masked():
    chats = [ChatMessage(room_id=ROOM, event_id="m1", stream_ms=5_000, user_id="a1b2", text="加微信[微信号]私聊便宜"),
             ChatMessage(room_id=ROOM, event_id="m2", stream_ms=6_000, user_id="c3d4", text="这件有黑色吗")]
    outputs = run_processor(ComplianceProcessor(_settings()), chats)
    assert [o.topic for o in outputs] == ["compliance"]
    alert = outputs[0].event
    assert alert.source == "chat" and alert.source_id == "m1" and alert.user_id == "a1b2"
    assert "diversion" in {v.kind for v in alert.violations}


def test_room_packs_come_from_the_per_room_override():
    settings = _settings(rooms={ROOM: {"category": "food"}})
    run = ProcessorRun(ComplianceProcessor(settings))
    alert = run.feed([_final("喝了能降血压")])[0].event
    assert alert.category == "food" and alert.platform == "douyin"
    assert {v.kind for v in alert.violations} == {"efficacy_claim"}


def test_room_state_is_forgotten_at_the_chat_end_marker():
    run = ProcessorRun(ComplianceProcessor(_settings()))
    run.feed([_final("全网最低价")])
    assert ROOM in run.states
    run.feed([("chat", StreamMarker(room_id=ROOM, stream_ms=20_000, marker="end"))])
    assert ROOM not in run.states


def test_phrase_time_interpolates_without_words():
    text = "abcdefghij"
    assert phrase_time(5, 10, text, 1_000, 2_000, word_offsets(text, [])) == (1_500, 2_000)
