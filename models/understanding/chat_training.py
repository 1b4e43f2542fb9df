"""Training the chat sentiment and emotion heads (``livelens train-chat``).

Reproducible: the split is a hash of each text (chat_data.is_held_out), the features are
crc32-hashed n-grams, and both solvers are deterministic for a fixed seed. Training uses
scikit-learn (a training-only dependency); inference needs numpy only.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from models.understanding.chat import WEIGHTS_PATH, hashed_ngrams
from models.understanding.chat_data import (
    EMOTION_TEST_FRACTION, EMOTIONS, SENTIMENT_TEST_FRACTION, load_emotion, load_sentiment, split,
)

SENTIMENT_DIM = 1 << 18  # 57k reviews: more buckets, fewer collisions; one float16 row = 512 kB
EMOTION_DIM = 1 << 16  # 3k posts, 7 rows: small table keeps the file under 1 MB


@dataclass
class TrainReport:
    out_path: str
    sentiment_train: int
    sentiment_test: int
    sentiment_test_accuracy: float
    sentiment_clothing_accuracy: float
    emotion_train: int
    emotion_test: int
    emotion_test_macro_f1: float
    seconds: float
    bytes: int

    def to_dict(self) -> dict:
        return asdict(self)


def featurise(texts: list[str], dim: int):
    import scipy.sparse as sp

    rows, cols, vals = [], [], []
    for r, text in enumerate(texts):
        idx = hashed_ngrams(text, dim)
        if len(idx):
            rows.extend([r] * len(idx))
            cols.extend(idx.tolist())
            vals.extend([1.0 / math.sqrt(len(idx))] * len(idx))
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(texts), dim), dtype=np.float32)


def train_chat_models(data_dir: Path, out_path: Path = WEIGHTS_PATH, seed: int = 0,
                      sentiment_c: float = 4.0, emotion_c: float = 4.0) -> TrainReport:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    start = time.perf_counter()
    # --- sentiment: positive vs negative reviews ---------------------------------------------
    s_train, s_test = split(load_sentiment(data_dir), SENTIMENT_TEST_FRACTION)
    x = featurise([e.text for e in s_train], SENTIMENT_DIM)
    y = np.array([e.label == "positive" for e in s_train], dtype=int)
    sentiment = LogisticRegression(C=sentiment_c, solver="liblinear", max_iter=2000, random_state=seed).fit(x, y)
    x_test = featurise([e.text for e in s_test], SENTIMENT_DIM)
    y_test = np.array([e.label == "positive" for e in s_test], dtype=int)
    pred = sentiment.predict(x_test)
    clothing = np.array([e.group == "衣服" for e in s_test])
    # --- emotion: 7 CLUEmotion classes, balanced (surprise and fear are rare) ----------------
    e_train, e_test = split(load_emotion(data_dir), EMOTION_TEST_FRACTION)
    ex = featurise([e.text for e in e_train], EMOTION_DIM)
    ey = np.array([EMOTIONS.index(e.label) for e in e_train])
    emotion = LogisticRegression(C=emotion_c, max_iter=3000, class_weight="balanced", random_state=seed).fit(ex, ey)
    e_pred = emotion.predict(featurise([e.text for e in e_test], EMOTION_DIM))
    e_true = np.array([EMOTIONS.index(e.label) for e in e_test])

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # float16 halves the file; the logits move by < 1e-3, far below any decision margin
    np.savez_compressed(
        out_path,
        sentiment_w=sentiment.coef_.astype(np.float16),
        sentiment_b=sentiment.intercept_.astype(np.float32),
        emotion_w=emotion.coef_.astype(np.float16),
        emotion_b=emotion.intercept_.astype(np.float32),
        emotion_labels=np.array(EMOTIONS),
    )
    return TrainReport(
        out_path=str(out_path),
        sentiment_train=len(s_train), sentiment_test=len(s_test),
        sentiment_test_accuracy=round(float((pred == y_test).mean()), 4),
        sentiment_clothing_accuracy=round(float((pred[clothing] == y_test[clothing]).mean()), 4) if clothing.any() else float("nan"),
        emotion_train=len(e_train), emotion_test=len(e_test),
        emotion_test_macro_f1=round(float(f1_score(e_true, e_pred, average="macro")), 4),
        seconds=round(time.perf_counter() - start, 1),
        bytes=out_path.stat().st_size,
    )
