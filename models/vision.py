"""Per-frame vision features for a live room, with OpenCV 4.x (headless).

One ``VisionAnalyzer`` per room: it keeps the previous frame (for motion, scene cut and frozen
detection) and a slow running baseline of centre detail (for the close-up cue). Frames are the
downscaled JPEGs ingest samples at ~1-2 fps (``decode_jpeg`` turns the bytes into an array).

What each feature is, honestly:

- ``faces``/``face_box``: OpenCV's Haar frontal-face cascade (ships in ``cv2.data`` with 4.x; the
  5.0 wheels do not ship it). Frontal faces only; profiles and heads turned away are missed.
  ``face_box`` is the largest face, ``(x, y, w, h)`` as fractions of the frame (for 9:16 reframing).
- ``persons``: OpenCV's HOG people detector (Dalal-Triggs, full standing bodies of >= 64x128 px).
  It does NOT fire on a head-and-shoulders close-up, which is the usual live-commerce framing, so
  host presence is ``faces > 0 or persons > 0``. It adds ~5-10 ms per 320 px frame here (the
  face pass costs ~20-40 ms); it runs every ``person_every`` frames and the count in between is
  the last one measured.
- ``motion``: mean absolute grey-level difference to the previous frame (blurred), in [0, 1].
- ``scene_cut``: Bhattacharyya distance between the HSV colour histograms of this frame and the
  previous one above ``scene_cut_threshold`` (a hard cut between cameras or sources).
- ``closeup``: a product close-up / hold-up CUE, not a product detector. It measures fine detail
  (Canny edge density) in the lower-central part of the frame with the face (and hair/neck) masked
  out: the share of grid cells there that are detailed, and the rise of that detail over the
  room's slow running baseline. A host holding a patterned garment, a box with print or a
  bottle up to the camera raises it; so would a busy background entering that region or a
  patterned shirt (which the baseline absorbs after a while). Plain products held against a plain
  background barely move it.
- ``black``: mean luma and its spread both tiny. ``frozen``: (almost) no pixel changed since the
  previous frame (a stuck encoder or source repeats frames bit-for-bit, or nearly). Some sources
  repeat single frames legitimately: alerting should wait for a run of frozen frames.
- ``price_text``/``prices``: on-screen text via ``rapidocr`` (optional dependency, off by default;
  ``pip install livelens[ocr]``; its wheel ships the PP-OCR models, nothing is downloaded), parsed
  for prices such as ``¥199``, ``199元``, ``$29.99``. PP-OCR costs ~0.7-1.2 s per 640x360 frame on
  2 loaded cores here, far over the 300 ms vision budget: it runs every ``ocr_every`` frames and
  the text in between is the last read (a processor should run it off the per-frame path).
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import cv2
import numpy as np


@dataclass
class VisionConfig:
    #: Frames wider than this are downscaled before analysis (ingest sends ~320 px already).
    analysis_width: int = 320
    #: Haar cascade file in cv2.data.haarcascades.
    face_cascade: str = "haarcascade_frontalface_default.xml"
    face_scale_factor: float = 1.1
    #: 8 rather than OpenCV's 3-5: fewer double detections on real talking-head frames.
    face_min_neighbors: int = 8
    #: Smallest face side as a fraction of the frame's shorter side.
    face_min_size: float = 0.08
    #: Run the HOG people detector every Nth frame (adds ~5-10 ms at 320 px; measured by `livelens bench fusion`). 0 = never.
    person_every: int = 5
    scene_cut_threshold: float = 0.45
    black_max_luma: float = 20.0
    black_max_std: float = 8.0
    #: A frame is a repeat when fewer than this share of its pixels changed by more than
    #: ``frozen_pixel_delta`` grey levels (JPEG re-encoding of one image is bit-identical; a live
    #: talking head changes 0.2-8 % of pixels between frames 40 ms apart).
    frozen_changed_share: float = 0.0005
    frozen_pixel_delta: int = 4
    #: Canny edge density above which a grid cell counts as detailed.
    detail_cell_density: float = 0.10
    #: Per-frame weight of the running centre-detail baseline (~1/alpha frames of memory).
    detail_baseline_alpha: float = 0.03
    #: On-screen price text via rapidocr (optional dependency).
    ocr: bool = False
    #: Run OCR every Nth frame (PP-OCR costs hundreds of ms per frame).
    ocr_every: int = 5


@dataclass
class Price:
    amount: float
    currency: str  # "CNY", "USD", "EUR", "GBP"
    text: str


@dataclass
class FrameFeatures:
    t_ms: int
    width: int
    height: int
    faces: int = 0
    persons: int = 0
    #: whether ``persons`` was measured on this frame (else carried over from the last HOG pass)
    persons_measured: bool = False
    face_box: tuple[float, float, float, float] | None = None
    motion: float = 0.0
    scene_cut: bool = False
    scene_distance: float = 0.0
    closeup: float = 0.0
    black: bool = False
    frozen: bool = False
    price_text: list[str] = field(default_factory=list)
    prices: list[Price] = field(default_factory=list)
    cost_ms: float = 0.0

    @property
    def host_present(self) -> bool:
        return self.faces > 0 or self.persons > 0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-able), with the field names of the ``VisionFeatures`` event."""
        out = asdict(self)
        out["face_box"] = list(self.face_box) if self.face_box else None
        return out


class FrameAnalyzer(Protocol):
    """The vision model family's interface: one instance per room, frames in stream order."""

    def analyze(self, frame: np.ndarray, t_ms: int, *, rgb: bool = False) -> FrameFeatures: ...

    def reset(self) -> None: ...


def decode_jpeg(data: bytes) -> np.ndarray:
    """JPEG (or PNG) bytes -> BGR uint8 array (H, W, 3). Raises ValueError on undecodable bytes."""
    array = np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(array, cv2.IMREAD_COLOR) if array.size else None
    if image is None:
        raise ValueError(f"not a decodable image ({len(data)} bytes)")
    return image


# Prices: a currency sign before the number, or 元/块/RMB after it. Whitespace allowed between.
_PRICE_BEFORE = re.compile(r"(?P<sign>[¥￥$€£]|RMB|CNY|USD)\s*(?P<num>\d+(?:[.,]\d{1,2})?)", re.IGNORECASE)
_PRICE_AFTER = re.compile(r"(?P<num>\d+(?:\.\d{1,2})?)\s*(?P<sign>元|块|RMB|CNY|USD)", re.IGNORECASE)
_CURRENCY = {"¥": "CNY", "￥": "CNY", "rmb": "CNY", "cny": "CNY", "元": "CNY", "块": "CNY",
             "$": "USD", "usd": "USD", "€": "EUR", "£": "GBP"}


def parse_prices(text: str) -> list[Price]:
    """Prices in a piece of on-screen text, in order of appearance (``¥199``, ``199元``, ``$29.99``)."""
    found: list[tuple[int, Price]] = []
    taken: list[tuple[int, int]] = []
    for pattern in (_PRICE_BEFORE, _PRICE_AFTER):
        for match in pattern.finditer(text):
            span = match.span()
            if any(span[0] < end and start < span[1] for start, end in taken):
                continue  # "¥199元" is one price, not two
            number = match.group("num").replace(",", ".")
            currency = _CURRENCY[match.group("sign").lower()]
            found.append((span[0], Price(amount=float(number), currency=currency, text=match.group(0))))
            taken.append(span)
    return [price for _, price in sorted(found, key=lambda item: item[0])]


class _LazyOcr:
    """rapidocr loaded on first use, so the package stays optional."""

    def __init__(self) -> None:
        self._engine: Any = None

    def __call__(self, image: np.ndarray) -> list[str]:
        if self._engine is None:
            try:
                from rapidocr import RapidOCR  # type: ignore[import-not-found]
            except ImportError as exc:
                raise RuntimeError(
                    "VisionConfig.ocr=True needs the optional package rapidocr: "
                    "pip install 'livelens[ocr]' (or pip install 'rapidocr>=3.10'), or set "
                    "LIVELENS_VISION__OCR=false"
                ) from exc
            self._engine = RapidOCR()
        result = self._engine(image)
        texts = getattr(result, "txts", None)
        return [str(t) for t in texts] if texts else []


class VisionAnalyzer:
    """Per-room frame analyzer (see the module docstring for what each feature measures)."""

    def __init__(self, config: VisionConfig | None = None) -> None:
        self.config = config or VisionConfig()
        cascade_path = cv2.data.haarcascades + self.config.face_cascade
        self._faces = cv2.CascadeClassifier(cascade_path)
        if self._faces.empty():
            raise RuntimeError(f"could not load the Haar cascade {cascade_path} (OpenCV 5.0 wheels ship none; use 4.x)")
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self._ocr = _LazyOcr() if self.config.ocr else None
        self.reset()

    def reset(self) -> None:
        self._previous_grey: np.ndarray | None = None  # blurred, for motion
        self._previous_raw: np.ndarray | None = None  # unblurred, for the frozen test
        self._previous_hist: np.ndarray | None = None
        self._detail_baseline: float | None = None
        self._frames = 0
        self._last_persons = 0
        self._last_price_text: list[str] = []

    def analyze(self, frame: np.ndarray, t_ms: int, *, rgb: bool = False) -> FrameFeatures:
        started = time.perf_counter()
        image = self._prepare(frame, rgb)
        height, width = image.shape[:2]
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        features = FrameFeatures(t_ms=int(t_ms), width=width, height=height)

        luma_mean, luma_std = cv2.meanStdDev(grey)
        features.black = bool(luma_mean[0, 0] <= self.config.black_max_luma and luma_std[0, 0] <= self.config.black_max_std)

        blurred = cv2.GaussianBlur(grey, (5, 5), 0)
        hist = self._colour_histogram(image)
        if self._previous_grey is not None and self._previous_grey.shape == blurred.shape:
            features.motion = float(cv2.absdiff(blurred, self._previous_grey).mean()) / 255.0
            changed = float((cv2.absdiff(grey, self._previous_raw) > self.config.frozen_pixel_delta).mean())
            features.frozen = changed <= self.config.frozen_changed_share
            features.scene_distance = float(cv2.compareHist(self._previous_hist, hist, cv2.HISTCMP_BHATTACHARYYA))
            features.scene_cut = features.scene_distance >= self.config.scene_cut_threshold
        elif self._previous_grey is not None:
            features.scene_cut = True  # the source's resolution changed: a new source
            features.scene_distance = 1.0
        self._previous_grey, self._previous_raw, self._previous_hist = blurred, grey, hist

        if not features.black:
            faces = self._detect_faces(grey)
            features.faces = len(faces)
            if faces:
                x, y, w, h = max(faces, key=lambda box: box[2] * box[3])
                features.face_box = (x / width, y / height, w / width, h / height)
            if self.config.person_every and self._frames % self.config.person_every == 0:
                self._last_persons = self._detect_persons(image)
                features.persons_measured = True
            features.persons = self._last_persons
            features.closeup = self._closeup_cue(grey, features.face_box, features.scene_cut)
            if self._ocr is not None:
                if self._frames % max(1, self.config.ocr_every) == 0:
                    self._last_price_text = self._ocr(self._full_frame)
                features.price_text = list(self._last_price_text)
                features.prices = [p for line in features.price_text for p in parse_prices(line)]
        self._frames += 1
        features.cost_ms = (time.perf_counter() - started) * 1000.0
        return features

    # --- parts -----------------------------------------------------------------------------

    def _prepare(self, frame: np.ndarray, rgb: bool) -> np.ndarray:
        if frame.dtype != np.uint8:
            raise ValueError(f"expected a uint8 frame, got {frame.dtype}")
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        elif rgb:
            frame = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        self._full_frame = frame  # OCR reads small text: give it the full resolution
        width = frame.shape[1]
        if width > self.config.analysis_width:
            scale = self.config.analysis_width / width
            frame = cv2.resize(frame, (self.config.analysis_width, max(1, round(frame.shape[0] * scale))), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(frame)

    @staticmethod
    def _colour_histogram(image: np.ndarray) -> np.ndarray:
        hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
        hist = cv2.calcHist([hsv], [0, 1], None, [30, 32], [0, 180, 0, 256])
        cv2.normalize(hist, hist, alpha=1.0, norm_type=cv2.NORM_L1)
        return hist

    def _detect_faces(self, grey: np.ndarray) -> list[tuple[int, int, int, int]]:
        side = int(min(grey.shape[:2]) * self.config.face_min_size)
        boxes = self._faces.detectMultiScale(
            cv2.equalizeHist(grey),
            scaleFactor=self.config.face_scale_factor,
            minNeighbors=self.config.face_min_neighbors,
            minSize=(side, side),
        )
        return [tuple(int(v) for v in box) for box in boxes]  # type: ignore[misc]

    def _detect_persons(self, image: np.ndarray) -> int:
        boxes, weights = self._hog.detectMultiScale(image, winStride=(8, 8), padding=(8, 8), scale=1.1)
        return int(sum(1 for w in np.ravel(weights) if w > 0.5)) if len(boxes) else 0

    def _closeup_cue(self, grey: np.ndarray, face_box: tuple[float, float, float, float] | None, scene_cut: bool) -> float:
        height, width = grey.shape
        edges = cv2.Canny(grey, 80, 160)
        valid = np.zeros_like(edges, dtype=bool)
        # lower-central region: where a product is held up to the camera
        valid[int(0.35 * height):, int(0.15 * width):int(0.85 * width)] = True
        if face_box is not None:
            fx, fy, fw, fh = face_box
            # the face plus hair above and chin/neck below, slightly wider than the detection
            x0, x1 = int((fx - 0.25 * fw) * width), int((fx + 1.25 * fw) * width)
            y0, y1 = int((fy - 0.35 * fh) * height), int((fy + 1.35 * fh) * height)
            valid[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = False
        rows, cols = 4, 4
        region_y = np.linspace(int(0.35 * height), height, rows + 1).astype(int)
        region_x = np.linspace(int(0.15 * width), int(0.85 * width), cols + 1).astype(int)
        detailed = usable = 0
        edge_sum = pixel_sum = 0
        for r in range(rows):
            for c in range(cols):
                cell_valid = valid[region_y[r]:region_y[r + 1], region_x[c]:region_x[c + 1]]
                n_valid = int(cell_valid.sum())
                if n_valid < 0.5 * cell_valid.size:
                    continue  # mostly face: not a place a product can show
                cell_edges = int((edges[region_y[r]:region_y[r + 1], region_x[c]:region_x[c + 1]][cell_valid] > 0).sum())
                usable += 1
                edge_sum += cell_edges
                pixel_sum += n_valid
                detailed += cell_edges / n_valid >= self.config.detail_cell_density
        if usable == 0:
            return 0.0
        coverage = detailed / usable
        density = edge_sum / pixel_sum
        if self._detail_baseline is None or scene_cut:
            self._detail_baseline = density
        rise = max(0.0, density - self._detail_baseline) / max(self._detail_baseline, 0.02)
        self._detail_baseline += self.config.detail_baseline_alpha * (density - self._detail_baseline)
        return float(np.clip(0.5 * coverage + 0.5 * min(rise, 1.0), 0.0, 1.0))
