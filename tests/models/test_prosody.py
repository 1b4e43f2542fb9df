"""Host-voice prosody (torchaudio, pure-Python parts) on synthetic tones and real speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.asr.audio import load_media
from models.prosody import SILENCE_DB, ProsodyAnalyzer, analyze
from tests.models.incremental_contract import check_incremental_model

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "speech"
SR = 16_000


def _tone(freq: float, seconds: float = 2.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _speech(name: str) -> np.ndarray:
    path = DATA / name
    if not path.is_file():
        pytest.skip(f"../shared/data/speech/{name} missing: real speech for prosody")
    return load_media(str(path))


def test_pitch_of_a_tone_and_energy_scale():
    for freq in (120.0, 220.0, 300.0):
        f = analyze(_tone(freq))
        assert abs(f.pitch_hz - freq) / freq < 0.05, (freq, f)
        assert f.pitch_std_hz < 5 and f.voiced_ratio > 0.9
    loud, quiet = analyze(_tone(200, amp=0.5)), analyze(_tone(200, amp=0.05))
    assert loud.energy_db - quiet.energy_db == pytest.approx(20.0, abs=0.5)


def test_silence_and_noise_are_unvoiced():
    s = analyze(np.zeros(2 * SR, np.float32))
    assert s.energy_db == SILENCE_DB and s.voiced_ratio == 0 and s.speaking_rate == 0
    noise = analyze((0.05 * np.random.default_rng(0).standard_normal(2 * SR)).astype(np.float32))
    assert noise.voiced_ratio < 0.1


def test_real_speech_has_speech_like_prosody():
    for name in ("en/librispeech-1995-1837-0001.wav", "zh/BAC009S0764W0121.wav"):
        f = analyze(_speech(name))
        assert 80 <= f.pitch_hz <= 350, f
        assert f.pitch_std_hz > 5  # intonation varies, unlike a tone
        assert 0.3 <= f.voiced_ratio <= 1.0
        assert 1.5 <= f.speaking_rate <= 8.0, f  # syllables per second of read speech


def test_speaking_rate_follows_syllable_count():
    # 250 ms "syllables" (tone bursts) separated by silence: 4 per second vs 2 per second
    def bursts(per_second: int) -> np.ndarray:
        period = SR // per_second
        # a voice-like harmonic complex (F0 180 Hz, energy up to ~2 kHz) of 120 ms
        burst = sum(_tone(180 * k, seconds=0.12, amp=0.3 / k) for k in range(1, 11))
        out = np.zeros(4 * SR, np.float32)
        for start in range(0, len(out) - len(burst), period):
            out[start : start + len(burst)] = burst * np.hanning(len(burst)).astype(np.float32)
        return out

    fast, slow = analyze(bursts(4)), analyze(bursts(2))
    assert fast.speaking_rate == pytest.approx(4.0, abs=0.75)
    assert slow.speaking_rate == pytest.approx(2.0, abs=0.5)


def test_windows_in_stream_time_and_contract():
    speech = _speech("en/librispeech-1995-1837-0001.wav")
    check_incremental_model(lambda: ProsodyAnalyzer(window_ms=1000), speech[: 3 * SR])
    analyzer = ProsodyAnalyzer(window_ms=2000)
    step = SR // 4
    windows = []
    for i in range(0, len(speech), step):
        analyzer.insert_audio_chunk(speech[i : i + step], 10_000 + i * 1000 // SR)
        windows.extend(analyzer.process_iter())
    windows.extend(analyzer.finish())
    starts = [w.start_ms for w in windows]
    assert starts == sorted(starts) and starts[0] == 10_000
    assert all(w.end_ms - w.start_ms == 2000 for w in windows[:-1])
    assert windows[-1].end_ms == 10_000 + len(speech) * 1000 // SR
