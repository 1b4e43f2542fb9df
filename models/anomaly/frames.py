"""Cheap per-frame health features for the anomaly monitor: mean luma and change vs the last frame."""

from __future__ import annotations

import cv2
import numpy as np

THUMB_WIDTH = 64  # enough to tell black/frozen; decoding + resizing a 320 px JPEG costs ~1 ms


def gray_thumbnail(jpeg: bytes, width: int = THUMB_WIDTH) -> np.ndarray | None:
    """A small grayscale image from JPEG bytes, or None if they do not decode."""
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
    if img is None or img.size == 0:
        return None
    h = max(1, round(img.shape[0] * width / img.shape[1]))
    return cv2.resize(img, (width, h), interpolation=cv2.INTER_AREA)


def luma_and_diff(previous: np.ndarray | None, current: np.ndarray) -> tuple[float, float | None]:
    """(mean luma 0–255, mean absolute difference to ``previous`` or None if not comparable)."""
    luma = float(current.mean())
    if previous is None or previous.shape != current.shape:
        return luma, None
    return luma, float(np.abs(current.astype(np.int16) - previous.astype(np.int16)).mean())
