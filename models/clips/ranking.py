"""Clip ranking learned from editors' decisions: the probability an editor approves a clip.

The clipper's own ``score`` (confidence × highlight × duration fitness) knows nothing of what the
editors of a brand actually post. Each approve / reject on the desk is stored with the clip's
features; a small logistic regression over those features (selling-point class, clipper score,
duration, compliance flags, engagement during the clip) is refitted from the stored decisions and
orders the desk's queue. Until there are enough decisions of both kinds, the clipper score ranks.

Pure: plain inputs, plain outputs (scikit-learn, no I/O).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


@dataclass(frozen=True)
class ClipFeatures:
    """What the ranking sees of one clip."""

    label: str  # selling-point class ("price_promotion", ...)
    score: float  # the clipper's score
    duration_s: float
    compliance_flags: int  # compliance violations spoken inside the clip
    hold: bool  # held back from automatic publishing
    messages_per_s: float = 0.0  # chat engagement while the clip ran (0 when unknown)
    orders_per_min: float = 0.0

    @classmethod
    def from_meta(cls, meta: Mapping, engagement: Mapping | None = None) -> "ClipFeatures":
        """From a clip's meta.json (``media.clip_files``) and the room metrics over its span."""
        engagement = engagement or {}
        duration_ms = meta.get("duration_ms")
        if duration_ms is None:
            duration_ms = int(meta.get("end_ms", 0)) - int(meta.get("start_ms", 0))
        return cls(label=str(meta.get("label") or ""), score=float(meta.get("score") or 0.0),
                   duration_s=max(0.0, float(duration_ms) / 1000.0),
                   compliance_flags=len(meta.get("compliance") or []), hold=bool(meta.get("hold")),
                   messages_per_s=float(engagement.get("messages_per_s") or 0.0),
                   orders_per_min=float(engagement.get("orders_per_min") or 0.0))

    @classmethod
    def from_dict(cls, data: Mapping) -> "ClipFeatures":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def to_dict(self) -> dict:
        return asdict(self)

    def vector(self) -> dict[str, float]:
        """Named inputs of the regression; duration enters twice so a sweet spot can be learned."""
        d = self.duration_s
        return {f"label={self.label or 'none'}": 1.0, "score": self.score, "duration_s": d,
                "duration_sq": (d / 30.0) ** 2, "compliance_flags": float(self.compliance_flags),
                "hold": float(self.hold), "log_messages_per_s": math.log1p(max(0.0, self.messages_per_s)),
                "log_orders_per_min": math.log1p(max(0.0, self.orders_per_min))}


class ApprovalModel:
    """Logistic regression over :meth:`ClipFeatures.vector`, standardised inputs, L2-regularised."""

    def __init__(self, pipeline, n_decisions: int):
        self.pipeline = pipeline
        self.n_decisions = n_decisions

    @classmethod
    def fit(cls, features: Sequence[ClipFeatures], approved: Sequence[bool], *, min_decisions: int = 20,
            c: float = 1.0) -> "ApprovalModel | None":
        """None while there are fewer than ``min_decisions`` or only one kind of decision."""
        y = np.asarray([bool(a) for a in approved], dtype=int)
        if len(features) < max(2, min_decisions) or len(set(y.tolist())) < 2:
            return None
        pipeline = make_pipeline(DictVectorizer(sparse=False), StandardScaler(),
                                 LogisticRegression(C=c, max_iter=1000))
        pipeline.fit([f.vector() for f in features], y)
        return cls(pipeline, len(features))

    def predict(self, features: Sequence[ClipFeatures]) -> list[float]:
        """Probability of approval per clip."""
        if not features:
            return []
        return [float(p) for p in self.pipeline.predict_proba([f.vector() for f in features])[:, 1]]

    def weights(self) -> dict[str, float]:
        """Coefficient per (standardised) input: what the editors' decisions taught, for the docs and bench."""
        vectorizer, _scaler, regression = self.pipeline.steps[0][1], self.pipeline.steps[1][1], self.pipeline.steps[2][1]
        return dict(zip(vectorizer.get_feature_names_out(), (float(w) for w in regression.coef_[0])))


def rank(features: Sequence[ClipFeatures], model: ApprovalModel | None) -> list[float]:
    """The queue order's key per clip: the approval probability, or the clipper score without a model."""
    return model.predict(features) if model is not None else [f.score for f in features]


def auc(scores: Sequence[float], approved: Sequence[bool]) -> float | None:
    """Area under the ROC curve of ``scores`` predicting approval (None with one class only)."""
    y = [bool(a) for a in approved]
    if len(set(y)) < 2:
        return None
    return float(roc_auc_score(y, list(scores)))
