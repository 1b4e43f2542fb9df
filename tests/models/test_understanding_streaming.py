"""SellingPointSegmenter merge/split behaviour and ChatAggregator windows."""

from __future__ import annotations

import pytest

from models.taxonomy import load_taxonomy
from models.understanding.chat import ChatAnalyzer
from models.understanding.classification import Classification
from models.understanding.segment_classifier import SegmentClassifier
from models.understanding.streaming import ChatAggregator, SellingPointSegmenter, normalise_question


@pytest.fixture(scope="module")
def classifier() -> SegmentClassifier:
    # lexical only: fast and its decisions follow directly from the keywords in each sentence
    return SegmentClassifier(load_taxonomy("apparel"), encoder=None)


def _feed(segmenter, sentences, step_ms=2500, length_ms=2000, start_ms=0):
    out, t = [], start_ms
    for text in sentences:
        out += segmenter.insert_sentence(text, t, t + length_ms, words=[{"text": text, "start_ms": t}])
        t += step_ms
    return out


def test_consecutive_sentences_of_one_class_merge(classifier):
    segmenter = SellingPointSegmenter(classifier)
    sentences = ["面料是纯棉的", "纯棉面料透气", "版型是修身的", "收腰显瘦的版型"]
    labels = [classifier.classify(s).label for s in sentences]
    assert labels == ["fabric_material", "fabric_material", "fit_cut", "fit_cut"]  # premise of this test
    closed = _feed(segmenter, sentences)
    assert [s.label for s in closed] == ["fabric_material"]  # emitted when the class changed
    assert (closed[0].start_ms, closed[0].end_ms, closed[0].sentences) == (0, 4500, 2)
    assert closed[0].text == "面料是纯棉的纯棉面料透气"
    assert len(closed[0].words) == 2
    assert segmenter.current().label == "fit_cut" and segmenter.current().closed is False
    final = segmenter.finish()
    assert [(s.label, s.start_ms, s.end_ms, s.closed) for s in final] == [("fit_cut", 5000, 9500, True)]
    assert segmenter.finish() == [] and segmenter.current() is None


def test_a_long_gap_splits_one_class(classifier):
    segmenter = SellingPointSegmenter(classifier, max_gap_ms=3000)
    closed = _feed(segmenter, ["面料是纯棉的", "纯棉面料透气"], step_ms=6000)
    assert [(s.start_ms, s.end_ms) for s in closed] == [(0, 2000)]
    assert [(s.start_ms, s.end_ms) for s in segmenter.finish()] == [(6000, 8000)]


def test_max_segment_length_forces_a_cut(classifier):
    segmenter = SellingPointSegmenter(classifier, max_segment_ms=5000)
    closed = _feed(segmenter, ["面料是纯棉的"] * 4)
    assert closed and all(s.end_ms - s.start_ms <= 5000 for s in closed + segmenter.finish())


def test_chit_chat_segments_are_flagged(classifier):
    segmenter = SellingPointSegmenter(classifier)
    segments = _feed(segmenter, ["欢迎宝宝们点点关注", "面料是纯棉的"]) + segmenter.finish()
    assert [s.is_chit_chat for s in segments] == [True, False]
    assert segments[1].label_zh == "面料材质" and segments[1].category == "apparel"


def test_english_sentences_join_with_spaces():
    class Fixed:
        labels = ["fabric_material", "chit_chat"]
        taxonomy = load_taxonomy("apparel")

        def classify(self, text):
            return Classification("fabric_material", 0.8, {"fabric_material": 0.8, "chit_chat": 0.2}, [])

    segmenter = SellingPointSegmenter(Fixed())
    segmenter.insert_sentence("pure cotton", 0, 1000)
    segmenter.insert_sentence("very soft", 1200, 2000)
    assert segmenter.finish()[0].text == "pure cotton very soft"


def test_chat_windows_mix_and_questions():
    analyzer = ChatAnalyzer()
    aggregator = ChatAggregator(window_ms=10_000)
    messages = ["多少钱", "这个多少钱啊？", "主播多少钱呀", "160 100斤穿什么码", "155 90斤穿什么码？", "已拍", "好看😍"]
    closed = []
    for i, text in enumerate(messages + messages):
        closed += aggregator.add(i * 1000, text, analyzer.analyze(text))
    closed += aggregator.flush()
    assert [(w.start_ms, w.end_ms) for w in closed] == [(0, 10_000), (10_000, 20_000)]
    first = closed[0]
    assert first.messages == 10
    assert abs(sum(first.sentiment_mix.values()) - 1.0) < 1e-3
    assert abs(sum(first.emotion_mix.values()) - 1.0) < 1e-3
    assert sum(first.intent_counts.values()) == 10
    # window 1 = the 7 messages + the first 3 again: 6 price questions as one, 2 size questions as another
    assert first.top_questions[0][1] == 6 and "多少钱" in first.top_questions[0][0]
    assert first.top_questions[1][1] == 2
    assert aggregator.flush() == []


def test_normalised_questions():
    assert normalise_question("主播，这个多少钱啊？？😍") == normalise_question("这个多少钱")
    assert normalise_question("<b>多少钱</b>") != ""


def test_chat_aggregator_state_round_trips_through_json():
    import json

    analyzer = ChatAnalyzer()
    original = ChatAggregator(window_ms=10_000)
    for i, text in enumerate(["多少钱", "这个多少钱啊？", "已拍"]):
        original.add(i * 1000, text, analyzer.analyze(text))
    restored = ChatAggregator.from_state(json.loads(json.dumps(original.to_state(), ensure_ascii=False)))
    for agg in (original, restored):
        agg.add(4000, "多少钱呀", analyzer.analyze("多少钱呀"))
    assert original.flush() == restored.flush()
