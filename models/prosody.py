"""Host-voice prosody per window (torchaudio, CPU, pure-Python parts only).

Features per window: energy (dB RMS), pitch (median F0 of voiced frames, Hz) and its standard
deviation, voiced ratio, and speaking rate estimated as syllable nuclei per second: peaks of
the smoothed speech-band energy envelope that stand out by ``nucleus_prominence_db`` from the
surrounding dips (de Jong & Wempe's Praat method, simplified). Only
``torchaudio.functional`` is used: see ``scripts/install_torchaudio.sh`` for why.

Two shapes: ``analyze(pcm) -> ProsodyFeatures`` for one buffer, and the incremental
``ProsodyAnalyzer`` (insert_audio_chunk / process_iter / finish) emitting one ``ProsodyWindow``
per ``window_ms`` of stream time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16_000
_FRAME = 400  # 25 ms
_HOP = 160  # 10 ms
SILENCE_DB = -60.0


@dataclass(frozen=True)
class ProsodyFeatures:
    energy_db: float
    pitch_hz: float
    pitch_std_hz: float
    voiced_ratio: float
    speaking_rate: float  # syllable nuclei per second of the window


@dataclass(frozen=True)
class ProsodyWindow:
    start_ms: int
    end_ms: int
    features: ProsodyFeatures


def _spectrogram(pcm: np.ndarray) -> np.ndarray:
    """Power spectrogram (freq bins x 10 ms frames) with torchaudio."""
    import torch
    import torchaudio.transforms as T

    spec = T.Spectrogram(n_fft=512, win_length=_FRAME, hop_length=_HOP, power=2.0)
    return spec(torch.from_numpy(np.ascontiguousarray(pcm, dtype=np.float32))).numpy()


def _speaking_rate(band_db: np.ndarray, duration_s: float, prominence_db: float, min_db: float) -> float:
    """Syllable nuclei per second from the 300–3000 Hz energy envelope (dB per 10 ms frame)."""
    kernel = np.hanning(7)
    kernel /= kernel.sum()
    env = np.convolve(band_db, kernel, mode="same")  # ~70 ms smoothing: one hump per syllable
    floor = max(min_db, float(np.percentile(env, 95)) - 25.0)  # ignore peaks far below the loudest
    peaks = 0
    last_peak = -10
    for i in range(1, len(env) - 1):
        if env[i] < floor or not (env[i] >= env[i - 1] and env[i] > env[i + 1]):
            continue
        left_dip = env[max(0, i - 15) : i].min(initial=env[i])
        right_dip = env[i + 1 : i + 16].min(initial=env[i])
        if env[i] - max(left_dip, right_dip) >= prominence_db and i - last_peak >= 8:  # ≥ 80 ms apart
            peaks += 1
            last_peak = i
    return peaks / duration_s


def analyze(pcm: np.ndarray, nucleus_prominence_db: float = 3.0, voiced_min_db: float = -45.0,
            max_flatness: float = 0.3) -> ProsodyFeatures:
    """Prosody of one float32 mono 16 kHz buffer (≥ 0.1 s)."""
    import torch

    # one intra-op thread: these ops are small, and torch's thread pool on a loaded 2-core box
    # turned 0.35 s into 18 s for 11 s of audio (measured, load average 10). Process-global:
    # restored afterwards.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _analyze(pcm, nucleus_prominence_db, voiced_min_db, max_flatness)
    finally:
        torch.set_num_threads(threads)


def _analyze(pcm: np.ndarray, nucleus_prominence_db: float, voiced_min_db: float, max_flatness: float) -> ProsodyFeatures:
    import torch
    import torchaudio.functional as F

    pcm = np.asarray(pcm, dtype=np.float32)
    if pcm.ndim != 1 or len(pcm) < SAMPLE_RATE // 10:
        raise ValueError("need ≥ 0.1 s of mono samples")
    rms = float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)))
    energy_db = max(SILENCE_DB, 20 * np.log10(rms + 1e-10))
    if energy_db <= SILENCE_DB + 1:
        return ProsodyFeatures(SILENCE_DB, 0.0, 0.0, 0.0, 0.0)
    power = _spectrogram(pcm) + 1e-12  # (runs in ~10 ms for 11 s; pitch dominates)  # (257 bins, frames)
    freqs = np.linspace(0, SAMPLE_RATE / 2, power.shape[0])
    # per-frame level in dB relative to full scale (Hann window power ≈ 3/8, n_fft/2 bins)
    frame_db = 10 * np.log10(power.sum(axis=0) / (_FRAME * _FRAME * 0.375 / 2) + 1e-12)
    band = (freqs >= 300) & (freqs <= 3000)
    band_db = 10 * np.log10(power[band].sum(axis=0) / (_FRAME * _FRAME * 0.375 / 2) + 1e-12)
    # spectral flatness (geometric / arithmetic mean) in the speech band: harmonic voice is
    # peaky (low), noise is flat (high) — detect_pitch_frequency alone answers for noise too
    flatness = np.exp(np.mean(np.log(power[band]), axis=0)) / np.mean(power[band], axis=0)
    pitch = F.detect_pitch_frequency(torch.from_numpy(pcm).unsqueeze(0), SAMPLE_RATE,
                                     frame_time=0.02, win_length=5, freq_low=70, freq_high=500)[0].numpy()
    # align the 10 ms frame features to the pitch frames
    pos = np.linspace(0, 1, len(pitch))
    loud = np.interp(pos, np.linspace(0, 1, len(frame_db)), frame_db) > voiced_min_db
    harmonic = np.interp(pos, np.linspace(0, 1, len(flatness)), flatness) < max_flatness
    voiced = loud & harmonic & (pitch >= 70) & (pitch <= 500)
    voiced_ratio = float(voiced.mean()) if len(voiced) else 0.0
    f0 = pitch[voiced]
    return ProsodyFeatures(
        energy_db=float(energy_db),
        pitch_hz=float(np.median(f0)) if len(f0) else 0.0,
        pitch_std_hz=float(np.std(f0)) if len(f0) > 1 else 0.0,
        voiced_ratio=voiced_ratio,
        speaking_rate=_speaking_rate(band_db, len(pcm) / SAMPLE_RATE, nucleus_prominence_db, voiced_min_db)
        if voiced_ratio > 0 else 0.0,
    )


class ProsodyAnalyzer:
    """Incremental prosody: one window per ``window_ms`` of stream time (gaps are silence)."""

    def __init__(self, window_ms: int = 2000) -> None:
        if window_ms < 200:
            raise ValueError("window_ms must be ≥ 200")
        self.window_ms = window_ms
        self._buffer = np.zeros(0, np.float32)
        self._start_ms: int | None = None  # stream time of _buffer[0]
        self.dropped_chunks = 0

    def insert_audio_chunk(self, pcm: np.ndarray, stream_ms: int) -> None:
        pcm = np.asarray(pcm, dtype=np.float32)
        if pcm.ndim != 1 or not np.all(np.isfinite(pcm)):
            raise ValueError("mono finite float samples expected")
        if self._start_ms is None:
            self._start_ms = stream_ms - stream_ms % self.window_ms  # windows aligned to stream time
            self._buffer = np.zeros((stream_ms - self._start_ms) * SAMPLE_RATE // 1000, np.float32)
        end_ms = self._start_ms + len(self._buffer) * 1000 // SAMPLE_RATE
        if stream_ms + 20 < end_ms:
            self.dropped_chunks += 1  # duplicate / out of order: already covered
            return
        if stream_ms > end_ms:
            self._buffer = np.concatenate([self._buffer, np.zeros((stream_ms - end_ms) * SAMPLE_RATE // 1000, np.float32)])
        self._buffer = np.concatenate([self._buffer, pcm])

    def process_iter(self) -> list[ProsodyWindow]:
        out: list[ProsodyWindow] = []
        win = self.window_ms * SAMPLE_RATE // 1000
        while self._start_ms is not None and len(self._buffer) >= win:
            out.append(ProsodyWindow(self._start_ms, self._start_ms + self.window_ms, analyze(self._buffer[:win])))
            self._buffer = self._buffer[win:]
            self._start_ms += self.window_ms
        return out

    def finish(self) -> list[ProsodyWindow]:
        out = self.process_iter()
        if self._start_ms is not None and len(self._buffer) >= SAMPLE_RATE // 10:
            end = self._start_ms + len(self._buffer) * 1000 // SAMPLE_RATE
            out.append(ProsodyWindow(self._start_ms, end, analyze(self._buffer)))
        self._buffer = np.zeros(0, np.float32)
        return out
