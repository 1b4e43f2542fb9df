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


# --- the encoder heads' splits ---------------------------------------------------------------

#: the product category never trained on: the sentiment figure is on reviews of a kind of
#: product the model has not seen (clothing is also the closest to live-commerce apparel rooms)
SENTIMENT_HELD_OUT_CATEGORY = "衣服"
#: reviews kept per (category, label) for training: 9 categories x 2 x 1,500 = ~24k; more adds
#: encoder time (~3 ms a review) and little accuracy
SENTIMENT_TRAIN_CAP = 1500

_DEDUPE_DROP_RE = None


def dedupe_key(text: str) -> str:
    """Near-duplicate key: NFKC lower case, letters/digits/CJK only, first 24 of them.

    Reviews repeat with different punctuation or tails ("很好，很好！！" / "很好很好"); two texts
    with the same key are treated as one sentence when splitting.
    """
    global _DEDUPE_DROP_RE
    import re
    import unicodedata

    if _DEDUPE_DROP_RE is None:
        _DEDUPE_DROP_RE = re.compile(r"[^0-9a-z\u3400-\u9fff]+")
    return _DEDUPE_DROP_RE.sub("", unicodedata.normalize("NFKC", text).lower())[:24]


def drop_near_duplicates(train: list[Example], test: list[Example]) -> tuple[list[Example], int]:
    """``train`` without any text whose dedupe key is also in ``test`` (nor repeats of its own)."""
    test_keys = {dedupe_key(e.text) for e in test}
    seen: set[str] = set()
    kept, dropped = [], 0
    for e in train:
        key = dedupe_key(e.text)
        if key in test_keys or key in seen:
            dropped += 1
            continue
        seen.add(key)
        kept.append(e)
    return kept, dropped


def sentiment_category_split(examples: list[Example], held_out: str = SENTIMENT_HELD_OUT_CATEGORY,
                             cap: int = SENTIMENT_TRAIN_CAP) -> tuple[list[Example], list[Example], int]:
    """(train, test, near-duplicates dropped): test = every review of ``held_out``; train = up to
    ``cap`` per (other category, label) outside the ``is_held_out`` split, chosen by a hash of
    the text (stable), minus anything near-duplicating a test review."""
    test = [e for e in examples if e.group == held_out]
    by_key: dict[tuple[str, str], list[Example]] = {}
    for e in examples:
        # the per-category held-out reviews (is_held_out) stay out too: the benchmark's
        # per-category table scores them
        if e.group != held_out and not is_held_out(e.text, SENTIMENT_TEST_FRACTION):
            by_key.setdefault((e.group, e.label), []).append(e)
    train: list[Example] = []
    for key in sorted(by_key):
        items = sorted(by_key[key], key=lambda e: zlib.crc32(e.text.encode("utf-8")))
        train.extend(items[:cap])
    train, dropped = drop_near_duplicates(train, test)
    return train, test, dropped


def emotion_split(examples: list[Example]) -> tuple[list[Example], list[Example], int]:
    """(train, test, near-duplicates dropped): the hash split of ``is_held_out`` (20 % test)."""
    train, test = split(examples, EMOTION_TEST_FRACTION)
    train, dropped = drop_near_duplicates(train, test)
    return train, test, dropped


# --- live-commerce intents: labelled chat lines written for this project ---------------------

INTENTS_DIR = Path(__file__).resolve().parent / "data"
INTENTS_TRAIN_PATH = INTENTS_DIR / "intents_train.jsonl"
#: written before any model was tuned, never trained or tuned on
INTENTS_TEST_PATH = INTENTS_DIR / "intents_test.jsonl"


@dataclass(frozen=True)
class IntentExample:
    text: str
    intent: str
    lang: str  # zh | en | mixed


def load_intents(path: Path) -> list[IntentExample]:
    """JSONL ``{text, intent, lang}`` lines; a bad line fails naming the file, line and field."""
    from pydantic import BaseModel, ValidationError, field_validator

    from models.understanding.chat import INTENTS

    class _Row(BaseModel):
        text: str
        intent: str
        lang: str

        @field_validator("intent")
        @classmethod
        def _known_intent(cls, v: str) -> str:
            if v not in INTENTS:
                raise ValueError(f"unknown intent {v!r} (one of {', '.join(INTENTS)})")
            return v

        @field_validator("lang")
        @classmethod
        def _known_lang(cls, v: str) -> str:
            if v not in ("zh", "en", "mixed"):
                raise ValueError(f"lang must be zh, en or mixed, not {v!r}")
            return v

    out: list[IntentExample] = []
    with Path(path).open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = _Row.model_validate(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not JSON ({exc.msg})") from None
            except ValidationError as exc:
                err = exc.errors()[0]
                field = ".".join(str(x) for x in err["loc"]) or "line"
                raise ValueError(f"{path}:{n}: {field}: {err['msg']}") from None
            out.append(IntentExample(row.text, row.intent, row.lang))
    return out
