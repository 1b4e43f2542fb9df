"""Attention fusion of the room's modalities into a highlight score and a conversion forecast.

- features.py: raw window dicts -> ``WindowFeatures`` (fixed per-modality dims, room baselines)
- net.py: ``FusionNet`` (per-modality encoders, learned query, masked attention, three heads)
- prior.py: the documented prior used before a room's model has learned
- learner.py: ``OnlineFusionLearner`` (online updates, checkpoints, warm start), ``train_offline``
- scenario.py: GENERATED sessions with known dynamics (tests, benchmark)
"""

from models.fusion.features import MODALITIES, FusionDims, WindowFeatures, WindowFeaturizer
from models.fusion.learner import (
    FusionConfig,
    FusionModel,
    FusionOutput,
    OnlineFusionLearner,
    RecordedSession,
    load_sessions,
    save_session,
    session_examples,
    train_offline,
)
from models.fusion.net import FusionNet
from models.fusion.prior import PRIOR_WEIGHTS, prior_scores

__all__ = [
    "MODALITIES", "FusionDims", "WindowFeatures", "WindowFeaturizer", "FusionConfig", "FusionModel", "FusionOutput",
    "OnlineFusionLearner", "RecordedSession", "load_sessions", "save_session", "session_examples", "train_offline",
    "FusionNet", "PRIOR_WEIGHTS", "prior_scores",
]
