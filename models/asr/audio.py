"""Audio input checks and conversion for the ASR session and prosody (pure numpy).

The wire contract is PCM16 little-endian, mono, 16 kHz; these helpers accept what real sources
send instead (other rates, stereo) and reject what cannot be audio, with a reason.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16_000
#: one chunk longer than this is not a live chunk (the schema caps duration at 10 s)
MAX_CHUNK_SECONDS = 30.0


class BadAudio(ValueError):
    """A chunk that cannot be audio. ``reason`` is short and stable (a metric label)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def pcm16_to_float(data: bytes, channels: int = 1) -> np.ndarray:
    """PCM16 LE bytes → float32 in [-1, 1], shape (samples,) or (samples, channels)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BadAudio("not_bytes", type(data).__name__)
    if channels < 1:
        raise BadAudio("bad_channels", str(channels))
    if len(data) == 0:
        raise BadAudio("empty")
    frame_bytes = 2 * channels
    if len(data) % frame_bytes:
        raise BadAudio("truncated", f"{len(data)} bytes is not a multiple of {frame_bytes} (PCM16 x {channels} ch)")
    samples = np.frombuffer(bytes(data), dtype="<i2").astype(np.float32) / 32768.0
    return samples.reshape(-1, channels) if channels > 1 else samples


def to_mono_16k(pcm: np.ndarray, sample_rate: int = SAMPLE_RATE, channels: int = 1) -> np.ndarray:
    """Float or int16 samples at any rate/channel count → float32 mono 16 kHz.

    ``pcm`` may be interleaved 1-D (``channels`` > 1) or shaped (samples, channels).
    Channels are averaged; resampling is polyphase (scipy), which keeps speech bands intact.
    """
    arr = np.asarray(pcm)
    if arr.dtype == np.int16:
        arr = arr.astype(np.float32) / 32768.0
    elif not np.issubdtype(arr.dtype, np.floating):
        raise BadAudio("bad_dtype", str(arr.dtype))
    arr = arr.astype(np.float32, copy=False)
    if channels > 1 and arr.ndim == 1:
        if arr.size % channels:
            raise BadAudio("truncated", f"{arr.size} samples is not a multiple of {channels} channels")
        arr = arr.reshape(-1, channels)
    if arr.ndim == 2:
        arr = arr.mean(axis=1)
    if arr.ndim != 1:
        raise BadAudio("bad_shape", str(arr.shape))
    if sample_rate <= 0:
        raise BadAudio("bad_sample_rate", str(sample_rate))
    if sample_rate != SAMPLE_RATE and arr.size:
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(SAMPLE_RATE, int(sample_rate))
        arr = resample_poly(arr, SAMPLE_RATE // g, int(sample_rate) // g).astype(np.float32)
    return arr


def check_chunk(pcm: np.ndarray) -> np.ndarray:
    """Validate a mono 16 kHz float chunk; return it as contiguous float32 clipped to [-1, 1]."""
    arr = np.asarray(pcm)
    if arr.ndim != 1:
        raise BadAudio("bad_shape", f"expected mono 1-D samples, got shape {arr.shape}")
    if arr.size == 0:
        raise BadAudio("empty")
    if arr.size > MAX_CHUNK_SECONDS * SAMPLE_RATE:
        raise BadAudio("too_long", f"{arr.size / SAMPLE_RATE:.1f} s in one chunk")
    if not np.issubdtype(arr.dtype, np.floating):
        raise BadAudio("bad_dtype", f"{arr.dtype}: convert with to_mono_16k")
    if not np.all(np.isfinite(arr)):
        raise BadAudio("not_finite", "NaN or inf samples")
    return np.ascontiguousarray(np.clip(arr, -1.0, 1.0), dtype=np.float32)


def decode_chunk(data: bytes, sample_rate: int = SAMPLE_RATE, channels: int = 1) -> np.ndarray:
    """Wire bytes of one AudioChunk → checked float32 mono 16 kHz samples (or BadAudio)."""
    return check_chunk(to_mono_16k(pcm16_to_float(data, channels), sample_rate, channels))


def load_media(path: str, start_s: float = 0.0, max_s: float | None = None) -> np.ndarray:
    """Decode the first audio stream of any media file (PyAV) to float32 mono 16 kHz."""
    import av

    parts: list[np.ndarray] = []
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise BadAudio("no_audio", str(path))
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                parts.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            parts.append(out.to_ndarray().reshape(-1))
    audio = np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
    first = int(start_s * SAMPLE_RATE)
    last = None if max_s is None else first + int(max_s * SAMPLE_RATE)
    return audio[first:last]
