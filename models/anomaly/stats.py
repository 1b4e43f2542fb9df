"""Small online statistics used by the detectors: a ring buffer with robust statistics,
a time-bounded window, and an exponentially weighted mean/variance."""

from __future__ import annotations

import math
from collections import deque

import numpy as np

#: MAD × this ≈ standard deviation for Gaussian data
MAD_TO_SIGMA = 1.4826


class RingBuffer:
    """The last ``size`` samples (values and times); median/MAD/min over them."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("size must be >= 1")
        self.size = size
        self._values = np.zeros(size, dtype=np.float64)
        self._times = np.zeros(size, dtype=np.int64)
        self._next = 0
        self.count = 0

    def push(self, t_ms: int, value: float) -> None:
        self._values[self._next] = value
        self._times[self._next] = t_ms
        self._next = (self._next + 1) % self.size
        self.count = min(self.count + 1, self.size)

    def values(self) -> np.ndarray:
        return self._values[: self.count] if self.count < self.size else self._values

    def span_ms(self) -> int:
        """Time covered by the buffered samples."""
        if self.count == 0:
            return 0
        times = self._times[: self.count] if self.count < self.size else self._times
        return int(times.max() - times.min())

    def median_mad(self) -> tuple[float, float]:
        v = self.values()
        med = float(np.median(v))
        return med, float(np.median(np.abs(v - med)))

    def min(self) -> float:
        return float(self.values().min())


class TimeWindow:
    """Samples from the last ``window_ms`` of the clock: sum, count, quantile."""

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self._items: deque[tuple[int, float]] = deque()
        self._sum = 0.0

    def push(self, t_ms: int, value: float) -> None:
        self._items.append((t_ms, value))
        self._sum += value
        self.expire(t_ms)

    def expire(self, now_ms: int) -> None:
        while self._items and self._items[0][0] <= now_ms - self.window_ms:
            self._sum -= self._items.popleft()[1]
        if not self._items:
            self._sum = 0.0  # no float drift from repeated add/subtract

    def __len__(self) -> int:
        return len(self._items)

    @property
    def total(self) -> float:
        return self._sum

    def quantile(self, q: float) -> float:
        if not self._items:
            return math.nan
        return float(np.quantile(np.fromiter((v for _, v in self._items), dtype=np.float64), q))


class Ewm:
    """Exponentially weighted mean and variance (West's incremental form), ``alpha`` per sample."""

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self.mean: float | None = None
        self.var = 0.0

    def push(self, value: float) -> None:
        if self.mean is None:
            self.mean = value
            return
        diff = value - self.mean
        incr = self.alpha * diff
        self.mean += incr
        self.var = (1 - self.alpha) * (self.var + diff * incr)
