"""One contract every understanding classifier passes (river's check_estimator idea).

Run over: the segment classifier with each encoder (USE-multilingual in float32 and bfloat16, the
packaged MiniLM via transformers, none = lexical only) and the three chat heads (sentiment, emotion, intent), on the
encoder and as the lexicon + n-gram baseline.
"""

from __future__ import annotations

import json
import os

import pytest

from models.understanding import Classification, TextClassifier, safe_text

BAD_INPUTS = {
    "empty": "",
    "spaces": "   \t ",
    "emoji_only": "😍😍🔥🔥👍",
    "ten_kb": "这件衣服面料很好" * 1300 + "x" * 100,  # > 10 kB of UTF-8
    "mixed_scripts": "这件T恤 fabric is 纯棉 😍 100% cotton, размер M, サイズ",
    "html_script": "<script>alert('x')</script><b onclick=\"steal()\">多少钱</b>",
    "control_chars": "abc\x00\x1b[31m红色\x7f",
    "invalid_utf8": safe_text(b"\xff\xfe\xe4\xb8 \xe7\xba\xaf\xe6\xa3\x89 ok"),
}


def _segment(encoder_name: str | None, precision: str = "float32"):
    from models.taxonomy import load_taxonomy
    from models.understanding.encoders import make_encoder
    from models.understanding.segment_classifier import SegmentClassifier

    if encoder_name == "minilm":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the packaged model is local: never reach a hub
    encoder = make_encoder(encoder_name, precision) if encoder_name else None
    return SegmentClassifier(load_taxonomy("apparel"), encoder)


def _chat_head(head: str, encoder: str | None = "use-multilingual", precision: str = "float32"):
    from models.understanding.chat import ChatAnalyzer

    return getattr(ChatAnalyzer(encoder=encoder, encoder_precision=precision), head)


FACTORIES = {
    "segment-use": lambda: _segment("use-multilingual"),
    "segment-minilm": lambda: _segment("minilm"),
    "segment-lexical": lambda: _segment(None),
    # USE-multilingual's bfloat16 forward (understanding.encoder_precision)
    "segment-use-bf16": lambda: _segment("use-multilingual", "bfloat16"),
    "chat-emotion-bf16": lambda: _chat_head("emotion", precision="bfloat16"),
    "chat-sentiment": lambda: _chat_head("sentiment"),
    "chat-emotion": lambda: _chat_head("emotion"),
    "chat-intent": lambda: _chat_head("intent"),
    # the lexicon + n-gram baseline heads (ChatAnalyzer(encoder=None)) keep the contract too
    "chat-sentiment-lexicon": lambda: _chat_head("sentiment", None),
    "chat-emotion-lexicon": lambda: _chat_head("emotion", None),
    "chat-intent-lexicon": lambda: _chat_head("intent", None),
}


@pytest.fixture(scope="module", params=sorted(FACTORIES))
def classifier(request) -> TextClassifier:
    return FACTORIES[request.param]()


def check_classification(clf: TextClassifier, result: Classification) -> None:
    assert isinstance(result, Classification)
    assert result.label in clf.labels
    assert set(result.scores) == set(clf.labels), "scores must cover every class"
    for name, score in result.scores.items():
        assert isinstance(score, float) and 0.0 <= score <= 1.0, (name, score)
    assert 0.0 <= result.confidence <= 1.0
    assert all(isinstance(e, str) for e in result.evidence)
    # plain data only: serialisable as JSON without custom encoders
    json.dumps(result.to_dict(), ensure_ascii=False)


def test_is_a_text_classifier(classifier):
    assert isinstance(classifier, TextClassifier)
    assert len(classifier.labels) == len(set(classifier.labels)) >= 2


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_handles_bad_input(classifier, case):
    check_classification(classifier, classifier.classify(BAD_INPUTS[case]))


def test_deterministic(classifier):
    text = "这件纯棉T恤多少钱？质量好吗 😍"
    first, second = classifier.classify(text), classifier.classify(text)
    assert first == second


def test_html_is_not_interpreted(classifier):
    # markup is just characters: evidence names taxonomy/lexicon entries, never echoes the input
    result = classifier.classify(BAD_INPUTS["html_script"])
    assert not any("<script" in item.lower() or "onclick" in item.lower() for item in result.evidence)


def test_empty_text_is_not_a_confident_class(classifier):
    result = classifier.classify("")
    non_default = [v for k, v in result.scores.items() if k not in ("neutral", "none", "other")]
    assert max(non_default) <= 0.5
