"""Subject-aware 9:16 reframing: where to put the crop window in every output frame.

1. **Detect** on sampled frames (a few per second, downscaled): the host's face with OpenCV's Haar
   frontal-face cascade (the settings of :class:`models.vision.VisionConfig`), else a standing person
   with OpenCV's HOG people detector. The live clipper can pass the vision processor's face boxes
   instead (:class:`SubjectPoint` list), so nothing is detected twice.
2. **Smooth** the subject centre over time into a camera path: missing samples hold the nearest
   detection, a running median (1 s) removes single wrong detections, a Gaussian (sigma 0.6 s)
   makes the motion slow, and when the whole path fits in a small dead zone the crop does not
   move at all (a host standing still should not produce a drifting picture).
3. **Fallback**: too few detections (< ``min_coverage`` of the samples) -> no crop path; the
   renderer letterboxes the whole frame over a blurred copy of itself and says so in meta.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d, median_filter

from models.vision import VisionConfig


@dataclass(frozen=True)
class SubjectPoint:
    """The subject at one moment: box ``(x, y, w, h)`` as fractions of the frame; ``kind`` face|person."""

    t_s: float
    box: tuple[float, float, float, float]
    kind: str = "face"

    @property
    def centre(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2, y + h / 2


class SubjectDetector:
    """Largest frontal face (Haar), else the most confident standing person (HOG), on a small frame."""

    def __init__(self, config: VisionConfig | None = None, person: bool = True) -> None:
        self.config = config or VisionConfig()
        self._faces = cv2.CascadeClassifier(cv2.data.haarcascades + self.config.face_cascade)
        if self._faces.empty():
            raise RuntimeError("could not load OpenCV's Haar face cascade (needs opencv 4.x)")
        self._hog = None
        if person:
            self._hog = cv2.HOGDescriptor()
            self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def detect(self, bgr: np.ndarray, t_s: float) -> SubjectPoint | None:
        height, width = bgr.shape[:2]
        grey = cv2.equalizeHist(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
        side = int(min(height, width) * self.config.face_min_size)
        faces = self._faces.detectMultiScale(grey, scaleFactor=self.config.face_scale_factor,
                                             minNeighbors=self.config.face_min_neighbors, minSize=(side, side))
        if len(faces):
            x, y, w, h = max((tuple(int(v) for v in f) for f in faces), key=lambda b: b[2] * b[3])
            return SubjectPoint(t_s, (x / width, y / height, w / width, h / height), "face")
        if self._hog is not None:
            boxes, weights = self._hog.detectMultiScale(bgr, winStride=(8, 8), padding=(8, 8), scale=1.1)
            scored = [(float(w), tuple(int(v) for v in b)) for b, w in zip(boxes, np.ravel(weights)) if w > 0.5]
            if scored:
                x, y, w, h = max(scored)[1]
                # aim at the upper part of the body: that is where the face is
                return SubjectPoint(t_s, (x / width, y / height, w / width, h * 0.4 / height), "person")
        return None


@dataclass(frozen=True)
class CropPath:
    """Crop window centres (fractions of the source frame) at ``times_s``; the window's size is fixed.
    ``letterbox``: clip-time intervals without a subject (a product card, a cutaway), shown whole."""

    times_s: np.ndarray
    centre_x: np.ndarray
    centre_y: np.ndarray
    coverage: float  # share of the samples with a detection
    static: bool  # the path did not move (dead zone)
    letterbox: tuple[tuple[float, float], ...] = ()

    def at(self, t_s: float) -> tuple[float, float] | None:
        """The window centre at ``t_s``, or None where the clip is letterboxed."""
        if any(a <= t_s < b for a, b in self.letterbox):
            return None
        return (float(np.interp(t_s, self.times_s, self.centre_x)),
                float(np.interp(t_s, self.times_s, self.centre_y)))

    @property
    def letterbox_s(self) -> float:
        return sum(b - a for a, b in self.letterbox)


def crop_box(src_w: int, src_h: int, out_w: int, out_h: int, centre: tuple[float, float]) -> tuple[int, int, int, int]:
    """The largest window of the output's aspect inside the source, centred on ``centre`` (clamped
    to the frame), as integer ``(x0, y0, w, h)``."""
    aspect = out_w / out_h
    if src_w / src_h > aspect:
        h, w = src_h, int(round(src_h * aspect))
    else:
        w, h = src_w, int(round(src_w / aspect))
    x0 = int(round(centre[0] * src_w - w / 2))
    y0 = int(round(centre[1] * src_h - h / 2))
    return min(max(0, x0), src_w - w), min(max(0, y0), src_h - h), w, h


def plan_path(samples: Sequence[tuple[float, SubjectPoint | None]], duration_s: float, *,
              min_coverage: float = 0.1, hold_s: float = 1.0, dead_zone: float = 0.06, median_s: float = 1.0,
              sigma_s: float = 0.6, head_room: float = 0.15) -> CropPath | None:
    """The smoothed crop path from sampled detections ``(t_s, point or None)``; None -> letterbox all.

    A detection holds for ``hold_s`` either side; stretches longer than that without one (the
    host off screen, a product card) are letterboxed, so a card is never cut in half.
    ``dead_zone``: when the path's whole range is below this fraction of the frame, the crop
    stays still at its median. ``head_room``: the window centre sits this fraction of the frame
    height below the face centre (the face lands in the upper third).
    """
    if not samples:
        return None
    times = np.array([t for t, _ in samples], dtype=float)
    found = [p for _, p in samples if p is not None]
    coverage = len(found) / len(samples)
    if not found or coverage < min_coverage:
        return None
    hit_t = np.array([p.t_s for p in found])
    hit_x = np.array([p.centre[0] for p in found])
    hit_y = np.array([p.centre[1] + head_room for p in found])
    # stretches without a subject: sample times farther than hold_s from any detection
    nearest = np.min(np.abs(times[:, None] - hit_t[None, :]), axis=1)
    missing = nearest > hold_s
    letterbox: list[tuple[float, float]] = []
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    i = 0
    while i < len(times):
        if missing[i]:
            j = i
            while j + 1 < len(times) and missing[j + 1]:
                j += 1
            a = 0.0 if i == 0 else (times[i - 1] + times[i]) / 2
            b = duration_s if j == len(times) - 1 else (times[j] + times[j + 1]) / 2
            letterbox.append((float(a), float(b)))
            i = j + 1
        else:
            i += 1
    # every sample time: hold the nearest detection (np.interp holds the ends)
    xs = np.interp(times, hit_t, hit_x)
    ys = np.interp(times, hit_t, hit_y)
    if len(times) >= 3:
        size = max(1, int(round(median_s / step)) | 1)
        xs, ys = median_filter(xs, size=size, mode="nearest"), median_filter(ys, size=size, mode="nearest")
        sigma = max(0.5, sigma_s / step)
        xs, ys = gaussian_filter1d(xs, sigma, mode="nearest"), gaussian_filter1d(ys, sigma, mode="nearest")
    static = bool(np.ptp(xs[~missing]) < dead_zone and np.ptp(ys[~missing]) < dead_zone)
    if static:
        xs, ys = np.full_like(xs, np.median(xs[~missing])), np.full_like(ys, np.median(ys[~missing]))
    # cover the whole clip: hold the first/last value out to 0 and the duration
    times = np.concatenate([[0.0], times, [max(duration_s, times[-1])]])
    xs = np.concatenate([[xs[0]], xs, [xs[-1]]])
    ys = np.concatenate([[ys[0]], ys, [ys[-1]]])
    return CropPath(times, xs, ys, coverage, static, tuple(letterbox))
