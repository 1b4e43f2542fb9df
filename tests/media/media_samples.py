"""Short synthetic media files made with PyAV, so media tests don't depend only on shared data."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tests.conftest import SHARED_DATA  # noqa: F401 - ../shared/data, or LIVELENS_SHARED_DATA


def make_clip(path: Path, seconds: float = 3.0, *, video: bool = True, audio: bool = True,
              fps: int = 25, size: tuple[int, int] = (320, 240), sample_rate: int = 44_100,
              container_format: str | None = None) -> Path:
    """A moving test pattern (H.264) and/or a 440 Hz tone (AAC), ``seconds`` long."""
    out = av.open(str(path), "w", format=container_format)
    vs = as_ = None
    if video:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        vs.options = {"preset": "ultrafast"}
    if audio:
        as_ = out.add_stream("aac", rate=sample_rate, layout="mono")
    if vs is not None:
        w, h = size
        xx = np.arange(w)[None, :]
        yy = np.arange(h)[:, None]
        for i in range(int(seconds * fps)):
            img = np.zeros((h, w, 3), np.uint8)
            img[..., 0] = (xx + 8 * i) % 256
            img[..., 1] = (yy + 4 * i) % 256
            img[..., 2] = ((xx // 32 + yy // 32 + i // 5) % 2) * 255
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    if as_ is not None:
        total = int(seconds * sample_rate)
        n = 1024
        for start in range(0, total, n):
            t = np.arange(start, min(total, start + n)) / sample_rate
            samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
            frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = sample_rate, start, Fraction(1, sample_rate)
            out.mux(as_.encode(frame))
        out.mux(as_.encode(None))
    out.close()
    return path
