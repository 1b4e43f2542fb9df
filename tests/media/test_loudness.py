"""Loudness normalisation: reaches the target within 1 LU with the true peak under the limit."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest

from media.loudness import normalize, true_peak_db

RATE = 48000


def speechlike(seconds: float, level: float, seed: int = 1) -> np.ndarray:
    """Noise bursts with a syllable-rate envelope and a few sharp peaks (stereo)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 2
    x = rng.normal(0, level, n) * envelope
    x[rng.integers(0, n, 20)] = level * 8  # clicks: the gain alone would push these over the limit
    return np.stack([x, x * 0.8]).astype(np.float32)


@pytest.mark.parametrize("level, target", [(0.02, -14.0), (0.3, -16.0), (0.005, -14.0)])
def test_reaches_the_target_with_the_true_peak_limited(level, target):
    result = normalize(speechlike(4, level), RATE, target, -1.0)
    measured = pyloudnorm.Meter(RATE).integrated_loudness(result.samples.T.astype(np.float64))
    assert abs(measured - target) <= 1.0
    assert abs(result.output_lufs - measured) < 0.01
    assert true_peak_db(result.samples) <= -1.0 + 1e-6


def test_silence_and_too_short_are_left_alone():
    silent = np.zeros((2, RATE * 2), np.float32)
    result = normalize(silent, RATE, -14, -1)
    assert result.input_lufs is None and result.gain_db == 0 and np.array_equal(result.samples, silent)
    short = speechlike(0.2, 0.1)
    assert normalize(short, RATE, -14, -1).output_lufs is None
