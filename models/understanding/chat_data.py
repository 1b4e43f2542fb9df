"""Reading the labelled sets laid out like ../shared/data, and the fixed train/test split.

The split is decided by a hash of the text itself, not by row order: it is the same on every
machine and every run, and duplicate texts (the review corpus has many) always land on the
same side, so the held-out figures never score a sentence the model was trained on.
"""

from __future__ import annotations

import csv
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

#: held-out share per set: 10 % of 57k reviews is plenty; CLUEmotion is small (3,966), so 20 %
SENTIMENT_TEST_FRACTION = 0.10
EMOTION_TEST_FRACTION = 0.20

EMOTIONS = ["sadness", "happiness", "disgust", "like", "anger", "surprise", "fear"]


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    group: str = ""  # product category (sentiment) or "" (emotion)


def is_held_out(text: str, test_fraction: float) -> bool:
    """True when ``text`` belongs to the held-out (never trained on) split."""
    bucket = zlib.crc32(text.encode("utf-8")) % 1000
    return bucket < int(round(test_fraction * 1000))


def load_sentiment(data_dir: Path) -> list[Example]:
    """``sentiment/*.csv`` with ``cat,label,review`` (1 positive, 0 negative)."""
    out: list[Example] = []
    files = sorted((Path(data_dir) / "sentiment").glob("*.csv"))
    if not files:
        raise FileNotFoundError(f"no sentiment/*.csv under {data_dir}")
    for path in files:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                text = (row.get("review") or "").strip().lstrip("\ufeff")
                if not text or row.get("label") not in ("0", "1"):
                    continue
                out.append(Example(text, "positive" if row["label"] == "1" else "negative", row.get("cat", "")))
    return out


def load_emotion(data_dir: Path) -> list[Example]:
    """``emotion/*.jsonl`` with ``content,label`` (the 7 CLUEmotion classes)."""
    out: list[Example] = []
    files = sorted((Path(data_dir) / "emotion").glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"no emotion/*.jsonl under {data_dir}")
    for path in files:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                row = json.loads(line)
                text, label = str(row.get("content", "")).strip(), row.get("label")
                if text and label in EMOTIONS:
                    out.append(Example(text, label))
    return out


def split(examples: list[Example], test_fraction: float) -> tuple[list[Example], list[Example]]:
    train = [e for e in examples if not is_held_out(e.text, test_fraction)]
    test = [e for e in examples if is_held_out(e.text, test_fraction)]
    return train, test


def default_data_dir() -> Path:
    """../shared/data beside the repository root (where the project's data lives)."""
    return Path(__file__).resolve().parents[3] / "shared" / "data"
