"""Loudness to a platform's target: integrated loudness (ITU-R BS.1770-4 / EBU R128, measured with
pyloudnorm) brought to ``target_lufs`` by one gain, and the true peak (4x oversampled) kept under
``true_peak_db`` by a short look-ahead limiter where the gain alone would clip.

Pure numpy in, numpy out: ``samples`` are float32, shape (channels, n).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyloudnorm
from scipy.ndimage import maximum_filter1d, uniform_filter1d
from scipy.signal import resample_poly

#: BS.1770 gating needs at least one 400 ms block; quieter than this is silence (no gain applied)
_SILENCE_LUFS = -70.0


@dataclass(frozen=True)
class LoudnessResult:
    samples: np.ndarray
    input_lufs: float | None  # None: too short or silent to measure
    output_lufs: float | None
    output_true_peak_db: float | None
    gain_db: float
    limited: bool  # the limiter had to act to keep the true peak


def integrated_lufs(samples: np.ndarray, rate: int) -> float | None:
    """Integrated loudness in LUFS, or None when the audio is shorter than one 400 ms block or silent."""
    if samples.shape[-1] < int(0.4 * rate):
        return None
    value = pyloudnorm.Meter(rate).integrated_loudness(np.ascontiguousarray(samples.T, dtype=np.float64))
    return float(value) if np.isfinite(value) and value > _SILENCE_LUFS else None


def true_peak_db(samples: np.ndarray, block: int = 48_000) -> float | None:
    """True peak (dBTP) from 4x oversampling, as BS.1770-4 Annex 2 describes; in blocks (with a
    little context either side for the filter), so a long clip never needs a 4x copy of itself."""
    if samples.size == 0:
        return None
    n, context = samples.shape[-1], 64
    peak = 0.0
    for lo in range(0, n, block):
        a, b = max(0, lo - context), min(n, lo + block + context)
        up = resample_poly(samples[..., a:b], 4, 1, axis=-1)
        inner = up[..., 4 * (lo - a):4 * (min(n, lo + block) - a)]
        if inner.size:
            peak = max(peak, float(np.max(np.abs(inner))))
    return 20 * np.log10(peak) if peak > 0 else None


def _limit(samples: np.ndarray, ceiling: float, rate: int) -> np.ndarray:
    """Gain reduction that holds |x| under ``ceiling``: the needed reduction is spread over a
    5 ms look-ahead window (no hard clipping) and released over ~50 ms."""
    level = np.max(np.abs(samples), axis=0)
    need = np.minimum(1.0, ceiling / np.maximum(level, 1e-9))  # gain that would just fit, per sample
    window = max(1, int(0.005 * rate))
    gain = -maximum_filter1d(-need, size=2 * window + 1)  # the lowest gain nearby (look-ahead + hold)
    gain = uniform_filter1d(gain, size=window)  # smooth the attack
    release = max(1, int(0.05 * rate))
    gain = -maximum_filter1d(-gain, size=release, origin=-(release // 2) + 0)  # hold through the release
    gain = np.minimum(gain, -maximum_filter1d(-need, size=2 * window + 1))  # never above what fits
    return samples * gain[None, :].astype(np.float32)


def normalize(samples: np.ndarray, rate: int, target_lufs: float, true_peak_limit_db: float) -> LoudnessResult:
    """``samples`` at ``target_lufs`` with the true peak at or below ``true_peak_limit_db``."""
    samples = np.asarray(samples, dtype=np.float32)
    measured = integrated_lufs(samples, rate)
    if measured is None:
        return LoudnessResult(samples, None, None, true_peak_db(samples), 0.0, False)
    gain_db = target_lufs - measured
    out = samples * np.float32(10 ** (gain_db / 20))
    limited = False
    # the sample-peak ceiling a little under the true-peak limit: inter-sample peaks sit above samples
    ceiling = 10 ** ((true_peak_limit_db - 0.5) / 20)
    for attempt in range(8):
        peak = true_peak_db(out)
        if peak is not None and peak > true_peak_limit_db:
            out = _limit(out, ceiling, rate)
            limited = True
            if (true_peak_db(out) or -99.0) > true_peak_limit_db:
                ceiling *= 10 ** (-0.5 / 20)  # a stubborn inter-sample peak: a lower ceiling next time
                continue
        # limiting lowers the loudness a little: make it up, then limit what that pushes over again
        again = integrated_lufs(out, rate)
        if again is None or again >= target_lufs - 0.2 or attempt == 7:
            break
        out = out * np.float32(10 ** ((target_lufs - again) / 20))
    peak = true_peak_db(out)
    if peak is not None and peak > true_peak_limit_db:  # last resort: plain gain down to the limit
        out = out * np.float32(10 ** ((true_peak_limit_db - peak - 0.05) / 20))
    return LoudnessResult(out, measured, integrated_lufs(out, rate), true_peak_db(out), gain_db, limited)
