"""Per-window modality vectors for the fusion model, built from plain dicts.

A *window* is ``window_ms`` of one room (hop 1-2 s). Each modality becomes one fixed-length float
vector, or ``None`` when the modality had no data in the window (the model masks it; it is never
zero-filled into looking like data). ``WindowFeaturizer`` is stateful per room: it keeps running
baselines (EMA mean / variance) so that prosody, chat rate and commerce counts are expressed as
z-scores against *this room's* normal, and so that the conversion forecast can be a multiple of
the room's own base order rate (a big room and a small room then share one model).

Fixed dimensions (``FusionDims``; defaults shown):

==========  ====  =========================================================================
modality    dim   contents
==========  ====  =========================================================================
transcript  531   sentence embedding (512, USE-multilingual; zero-padded / truncated to fit)
                  | selling-point class scores (16 slots, order = ``selling_point_labels``)
                  | max selling-point confidence | any selling point (0/1) | words/s ÷ 5
prosody     5     energy z | pitch z | pitch-std z | speaking-rate z | voiced ratio
vision      8     face-present share | mean faces (≤3) ÷ 3 | motion ×10 (≤1) | motion z
                  | mean closeup | max closeup | scene cuts per frame | black-or-frozen share
chat        13    message-rate z | log1p(messages/s) | positive | neutral | negative share
                  | intent shares (8, order = ``chat_intents``; unknown intents -> "other")
commerce    7     orders z | carts z | likes z | viewers z | log1p(orders) | log1p(carts)
                  | viewer change (ratio to the previous window, clipped to ±1)
==========  ====  =========================================================================

With ``FusionDims.history`` (the default) each vector is followed by the PREVIOUS window's values
of the same modality and a 1/0 flag saying that window had it (zeros and 0 when not): the whole
vector for prosody, vision, chat and commerce, the 19 numbers after the embedding for the
transcript. Orders respond to the last two windows, and this lowered the held-out error 5-7 %
(``livelens bench fusion --seeds 0,1,2``, BENCHMARKS.md).

Raw window dict (every modality key optional, ``None`` or absent = missing)::

    {"start_ms": 0, "end_ms": 4000,
     "transcript": {"embedding": [...], "selling_points": [{"label": "fabric", "confidence": 0.8}],
                    "words": 12},
     "prosody": {"energy_db": -18.0, "pitch_hz": 210.0, "pitch_std_hz": 35.0,
                 "speaking_rate": 4.2, "voiced_ratio": 0.7},
     "vision": {"frames": [{"faces": 1, "motion": 0.01, "closeup": 0.4, "scene_cut": False,
                            "black": False, "frozen": False}, ...]},
     "chat": {"messages": 14, "sentiment_mix": {"positive": 0.6, "neutral": 0.3, "negative": 0.1},
              "intent_counts": {"purchase": 3, "price": 2}},
     "commerce": {"orders": 3, "carts": 7, "likes": 120, "viewers": 950}}
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

MODALITIES: tuple[str, ...] = ("transcript", "prosody", "vision", "chat", "commerce")

DEFAULT_SELLING_POINT_LABELS: tuple[str, ...] = (
    "material", "fit", "style", "colour", "size", "comfort", "function", "craft",
    "price", "promotion", "stock", "shipping", "quality", "scene", "brand", "other",
)
DEFAULT_CHAT_INTENTS: tuple[str, ...] = (
    "purchase", "price", "size", "stock", "shipping", "question", "praise", "other",
)


@dataclass(frozen=True)
class FusionDims:
    text_embedding: int = 512
    selling_point_labels: tuple[str, ...] = DEFAULT_SELLING_POINT_LABELS
    chat_intents: tuple[str, ...] = DEFAULT_CHAT_INTENTS
    #: append the PREVIOUS window's values of the same modality (its compact part) and a flag saying
    #: it was present: orders respond to the last two windows, not only the current one
    history: bool = True

    def current(self, modality: str) -> int:
        """Length of the modality's own (current-window) vector."""
        return {
            "transcript": self.text_embedding + len(self.selling_point_labels) + 3,
            "prosody": 5,
            "vision": 8,
            "chat": 5 + len(self.chat_intents),
            "commerce": 7,
        }[modality]

    def previous(self, modality: str) -> int:
        """Length of the previous-window part: the vector without the text embedding, + 1 flag."""
        if not self.history:
            return 0
        return self.current(modality) - (self.text_embedding if modality == "transcript" else 0) + 1

    def of(self, modality: str) -> int:
        return self.current(modality) + self.previous(modality)

    def as_dict(self) -> dict[str, int]:
        return {m: self.of(m) for m in MODALITIES}


@dataclass
class WindowFeatures:
    """One window of one room, ready for the model. ``None`` = the modality is missing."""

    room_id: str
    start_ms: int
    end_ms: int
    transcript: np.ndarray | None = None
    prosody: np.ndarray | None = None
    vision: np.ndarray | None = None
    chat: np.ndarray | None = None
    commerce: np.ndarray | None = None
    #: the room's running mean of orders / carts per window before this one (the forecast offset)
    base_orders: float = 1.0
    base_carts: float = 1.0
    #: raw evidence the prior uses (see models/fusion/prior.py), kept readable
    evidence: dict[str, float] = field(default_factory=dict)

    def vector(self, modality: str) -> np.ndarray | None:
        return getattr(self, modality)

    @property
    def present(self) -> list[str]:
        return [m for m in MODALITIES if self.vector(m) is not None]


class RunningStat:
    """EMA mean and variance with a warm-up (plain mean for the first 1/alpha values)."""

    def __init__(self, alpha: float = 0.05) -> None:
        self.alpha = alpha
        self.count = 0
        self.mean = 0.0
        self.var = 0.0

    def z(self, value: float, floor_std: float = 1e-3) -> float:
        """z-score of ``value`` against the values seen so far (0 before any)."""
        if self.count == 0:
            return 0.0
        std = math.sqrt(max(self.var, 0.0)) if self.count > 1 else 0.0
        return float(np.clip((value - self.mean) / max(std, floor_std, 0.1 * abs(self.mean)), -5.0, 5.0))

    def update(self, value: float) -> None:
        self.count += 1
        weight = max(self.alpha, 1.0 / self.count)
        delta = value - self.mean
        self.mean += weight * delta
        self.var = (1 - weight) * (self.var + weight * delta * delta)

    def state(self) -> list[float]:
        return [self.alpha, float(self.count), self.mean, self.var]

    @classmethod
    def from_state(cls, state: Sequence[float]) -> "RunningStat":
        stat = cls(state[0])
        stat.count, stat.mean, stat.var = int(state[1]), float(state[2]), float(state[3])
        return stat


class WindowFeaturizer:
    """Raw window dicts -> ``WindowFeatures`` for one room, in stream order (stateful)."""

    STATS = ("energy", "pitch", "pitch_std", "rate", "chat_rate", "motion", "orders", "carts", "likes", "viewers")

    def __init__(self, room_id: str, dims: FusionDims | None = None, baseline_alpha: float = 0.05) -> None:
        self.room_id = room_id
        self.dims = dims or FusionDims()
        self.stats = {name: RunningStat(baseline_alpha) for name in self.STATS}
        self._previous_viewers: float | None = None
        #: per modality, the previous window's compact vector (None = missing then)
        self._previous: dict[str, np.ndarray | None] = {m: None for m in MODALITIES}

    def _with_previous(self, modality: str, current: np.ndarray | None) -> np.ndarray | None:
        """current | previous window's compact part | previous-present flag (dims.history)."""
        compact = None if current is None else (current[self.dims.text_embedding:] if modality == "transcript" else current)
        previous, self._previous[modality] = self._previous[modality], compact
        if current is None or not self.dims.history:
            return current
        size = self.dims.previous(modality) - 1
        tail = np.zeros(size + 1, dtype=np.float32)
        if previous is not None:
            tail[:size], tail[size] = previous, 1.0
        return np.concatenate([current, tail]).astype(np.float32)

    # --- per modality ------------------------------------------------------------------------

    def _transcript(self, raw: Mapping[str, Any], seconds: float, evidence: dict[str, float]) -> np.ndarray:
        dims = self.dims
        vector = np.zeros(dims.current("transcript"), dtype=np.float32)
        embedding = np.asarray(raw.get("embedding") or [], dtype=np.float32).ravel()[: dims.text_embedding]
        vector[: embedding.size] = embedding
        scores = np.zeros(len(dims.selling_point_labels), dtype=np.float32)
        index = {label: i for i, label in enumerate(dims.selling_point_labels)}
        for point in raw.get("selling_points") or []:
            slot = index.get(str(point.get("label", "other")), index.get("other", len(scores) - 1))
            scores[slot] = max(scores[slot], float(point.get("confidence", 0.0)))
        offset = dims.text_embedding
        vector[offset: offset + scores.size] = scores
        max_confidence = float(scores.max()) if scores.size else 0.0
        vector[-3] = max_confidence
        vector[-2] = float(max_confidence > 0)
        vector[-1] = min(float(raw.get("words", 0)) / max(seconds, 1e-3) / 5.0, 2.0)
        evidence["selling_point"] = max_confidence
        return vector

    def _prosody(self, raw: Mapping[str, Any], evidence: dict[str, float]) -> np.ndarray:
        values = {
            "energy": float(raw.get("energy_db", 0.0)),
            "pitch": float(raw.get("pitch_hz", 0.0)),
            "pitch_std": float(raw.get("pitch_std_hz", 0.0)),
            "rate": float(raw.get("speaking_rate", 0.0)),
        }
        zs = [self.stats[name].z(value, floor_std=1.0 if name == "energy" else 0.1) for name, value in values.items()]
        for name, value in values.items():
            self.stats[name].update(value)
        evidence["energy_z"], evidence["rate_z"] = zs[0], zs[3]
        return np.array([*zs, float(raw.get("voiced_ratio", 0.0))], dtype=np.float32)

    def _vision(self, raw: Mapping[str, Any], evidence: dict[str, float]) -> np.ndarray | None:
        frames = raw.get("frames")
        if frames is None:
            frames = [raw]  # already aggregated / a single frame's dict
        frames = [f if isinstance(f, Mapping) else f.to_dict() for f in frames]
        if not frames:
            return None
        n = len(frames)
        face_share = sum(1 for f in frames if f.get("faces", 0) > 0) / n
        mean_faces = sum(min(int(f.get("faces", 0)), 3) for f in frames) / n
        motion = sum(float(f.get("motion", 0.0)) for f in frames) / n
        closeups = [float(f.get("closeup", 0.0)) for f in frames]
        cuts = sum(1 for f in frames if f.get("scene_cut")) / n
        bad = sum(1 for f in frames if f.get("black") or f.get("frozen")) / n
        motion_z = self.stats["motion"].z(motion, floor_std=0.002)
        self.stats["motion"].update(motion)
        evidence["closeup"] = sum(closeups) / n
        evidence["face_share"] = face_share
        return np.array(
            [face_share, mean_faces / 3, min(motion * 10, 1.0), motion_z, sum(closeups) / n, max(closeups), cuts, bad],
            dtype=np.float32,
        )

    def _chat(self, raw: Mapping[str, Any], seconds: float, evidence: dict[str, float]) -> np.ndarray:
        rate = float(raw.get("messages", 0)) / max(seconds, 1e-3)
        rate_z = self.stats["chat_rate"].z(rate, floor_std=0.05)
        self.stats["chat_rate"].update(rate)
        mix = raw.get("sentiment_mix") or {}
        sentiment = [float(mix.get(k, 0.0)) for k in ("positive", "neutral", "negative")]
        intents = np.zeros(len(self.dims.chat_intents), dtype=np.float32)
        index = {name: i for i, name in enumerate(self.dims.chat_intents)}
        counts = raw.get("intent_counts") or {}
        total = sum(float(c) for c in counts.values())
        for name, count in counts.items():
            intents[index.get(name, index.get("other", len(intents) - 1))] += float(count) / max(total, 1.0)
        evidence["chat_rate_z"] = rate_z
        evidence["chat_positive"] = sentiment[0] - sentiment[2]
        evidence["purchase_intent"] = float(intents[index["purchase"]]) if "purchase" in index else 0.0
        return np.array([rate_z, math.log1p(rate), *sentiment, *intents], dtype=np.float32)

    def _commerce(self, raw: Mapping[str, Any], evidence: dict[str, float]) -> np.ndarray:
        values = {name: float(raw.get(name) or 0.0) for name in ("orders", "carts", "likes")}
        viewers = raw.get("viewers")
        values["viewers"] = float(viewers) if viewers is not None else (self._previous_viewers or 0.0)
        zs = {name: self.stats[name].z(value, floor_std=0.5 if name != "viewers" else 1.0) for name, value in values.items()}
        change = 0.0
        if viewers is not None and self._previous_viewers:
            change = float(np.clip(float(viewers) / self._previous_viewers - 1.0, -1.0, 1.0))
        if viewers is not None:
            self._previous_viewers = float(viewers)
        for name, value in values.items():
            self.stats[name].update(value)
        evidence["orders_z"], evidence["carts_z"] = zs["orders"], zs["carts"]
        return np.array(
            [zs["orders"], zs["carts"], zs["likes"], zs["viewers"], math.log1p(values["orders"]), math.log1p(values["carts"]), change],
            dtype=np.float32,
        )

    # --- the window ------------------------------------------------------------------------

    def featurize(self, raw: Mapping[str, Any]) -> WindowFeatures:
        start_ms, end_ms = int(raw.get("start_ms", 0)), int(raw.get("end_ms", 0))
        seconds = max((end_ms - start_ms) / 1000.0, 1e-3)
        evidence: dict[str, float] = {}
        # the offset is the baseline BEFORE this window (its own orders are in the commerce token)
        base_orders = max(self.stats["orders"].mean, 0.05) if self.stats["orders"].count else 1.0
        base_carts = max(self.stats["carts"].mean, 0.05) if self.stats["carts"].count else 1.0
        window = WindowFeatures(room_id=self.room_id, start_ms=start_ms, end_ms=end_ms, base_orders=base_orders, base_carts=base_carts, evidence=evidence)
        if raw.get("transcript"):
            window.transcript = self._transcript(raw["transcript"], seconds, evidence)
        if raw.get("prosody"):
            window.prosody = self._prosody(raw["prosody"], evidence)
        if raw.get("vision"):
            window.vision = self._vision(raw["vision"], evidence)
        if raw.get("chat"):
            window.chat = self._chat(raw["chat"], seconds, evidence)
        if raw.get("commerce"):
            window.commerce = self._commerce(raw["commerce"], evidence)
        for modality in MODALITIES:
            setattr(window, modality, self._with_previous(modality, window.vector(modality)))
        return window

    def state(self) -> dict[str, Any]:
        return {"stats": {k: v.state() for k, v in self.stats.items()}, "previous_viewers": self._previous_viewers,
                "previous": {m: (None if v is None else [float(x) for x in v]) for m, v in self._previous.items()}}

    def load_state(self, state: Mapping[str, Any]) -> None:
        for name, values in state.get("stats", {}).items():
            if name in self.stats:
                self.stats[name] = RunningStat.from_state(values)
        self._previous_viewers = state.get("previous_viewers")
        for m, values in (state.get("previous") or {}).items():
            if m in self._previous:
                self._previous[m] = None if values is None else np.asarray(values, dtype=np.float32)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))
