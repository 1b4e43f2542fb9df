"""Viewer chat message -> sentiment, emotion and live-commerce intent (zh + en, slang, emoji).

Three heads, each a ``TextClassifier``:

- ``SentimentClassifier``: a hashed character n-gram logistic regression trained on the
  online-shopping reviews (weights/chat.npz), plus slang/emoji from chat_lexicon.yaml added in
  logit units. The reviews are binary; ``neutral`` is the band where the evidence is weak
  (p(positive) between 0.25 and 0.75), and questions have the review model's lean damped.
- ``EmotionClassifier``: the same kind of model trained on CLUEmotion's 7 classes plus the
  emoji/slang lexicon; ``none`` when no class reaches ``min_emotion`` -- most live chat
  ("多少钱", "1") carries no emotion, and forcing one of 7 onto it would bury the real
  signal in the room's emotion mix.
- ``IntentClassifier``: lexicon rules (purchase signal, questions, spam, ...) with praise and
  complaint also inferred from strong sentiment; ``other`` when nothing fires.

Inference is numpy only and loads from the package folder (no network). ~0.3 ms per message.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from models.understanding.chat_data import EMOTIONS
from models.understanding.classification import Classification
from models.understanding.text import PhraseMatcher, normalise, safe_text

WEIGHTS_PATH = Path(__file__).resolve().parent / "weights" / "chat.npz"
LEXICON_PATH = Path(__file__).resolve().parent / "chat_lexicon.yaml"

#: chat and reviews are cut here before featurising: bounded cost on a 10 kB message
CHAT_MAX_CHARS = 256
NGRAM_ORDERS = (1, 2, 3)

SENTIMENTS = ["positive", "neutral", "negative"]
EMOTION_LABELS = EMOTIONS + ["none"]
INTENTS = [
    "asks_price", "asks_size_fit", "asks_stock_shipping_returns", "asks_attribute",
    "purchase_signal", "praise", "complaint", "spam_ad", "other",
]
#: on a tie the earlier intent wins: an order or spam matters more than a question
_INTENT_PRIORITY = ["purchase_signal", "spam_ad", "complaint", "asks_price", "asks_size_fit",
                    "asks_stock_shipping_returns", "asks_attribute", "praise", "other"]


def hashed_ngrams(text: str, dim: int, orders: tuple[int, ...] = NGRAM_ORDERS) -> np.ndarray:
    """Sorted unique feature buckets of the character n-grams of ``text`` (normalised, cut).

    crc32 rather than ``hash()``: Python salts ``hash`` per process, crc32 is stable, so the
    trained weights mean the same thing everywhere.
    """
    return np.unique(_ngram_crcs(normalise(text)[:CHAT_MAX_CHARS], orders) & (dim - 1))


@lru_cache(maxsize=512)
def _ngram_crcs(text: str, orders: tuple[int, ...]) -> np.ndarray:
    # cached: the sentiment and emotion heads hash the same message
    crcs = [zlib.crc32(text[i:i + n].encode("utf-8")) for n in orders for i in range(len(text) - n + 1)]
    return np.asarray(crcs, dtype=np.int64)


class HashedLinearModel:
    """Logistic regression over L2-normalised binary hashed n-grams.

    ``weights`` is (classes, dim); a binary model stores one row for the positive class.
    """

    def __init__(self, labels: list[str], weights: np.ndarray, bias: np.ndarray) -> None:
        self.labels = list(labels)
        self.weights = np.asarray(weights, dtype=np.float32)
        self.bias = np.asarray(bias, dtype=np.float32).reshape(-1)
        self.dim = self.weights.shape[1]
        if self.dim & (self.dim - 1):
            raise ValueError("hashed feature dimension must be a power of two")

    def logits(self, text: str) -> tuple[np.ndarray, int]:
        """Raw scores and the number of features seen (0: the model has nothing to go on)."""
        idx = hashed_ngrams(text, self.dim)
        if len(idx) == 0:
            return np.zeros(len(self.bias), dtype=np.float32), 0
        return self.weights[:, idx].sum(axis=1) / math.sqrt(len(idx)) + self.bias, len(idx)


@dataclass(frozen=True)
class ChatWeights:
    sentiment: HashedLinearModel  # labels ["negative", "positive"], one row: logit of positive
    emotion: HashedLinearModel  # labels EMOTIONS


def load_weights(path: Path | str = WEIGHTS_PATH) -> ChatWeights:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"chat weights missing: {path} (train them: livelens train-chat)")
    with np.load(path, allow_pickle=False) as npz:
        return ChatWeights(
            sentiment=HashedLinearModel(["negative", "positive"], npz["sentiment_w"], npz["sentiment_b"]),
            emotion=HashedLinearModel([str(x) for x in npz["emotion_labels"]], npz["emotion_w"], npz["emotion_b"]),
        )


@lru_cache(maxsize=4)
def _cached_weights(path: str) -> ChatWeights:
    return load_weights(path)


@lru_cache(maxsize=4)
def load_lexicon(path: str = str(LEXICON_PATH)) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


_CONTENT_RE = re.compile(r"[\u3400-\u9fffa-z]")


def model_trust(norm_text: str, n_features: int, full_at: int = 15) -> float:
    """How far to trust the review/Weibo-trained models on this text, 0..1.

    Text without letters or CJK (emoji, digits) gives them nothing they were trained on: its
    n-grams only hit hashing collisions. Very short text (a 2-character message has 3 n-grams)
    is trusted in proportion; the lexicon carries such messages instead.
    """
    if n_features == 0 or not _CONTENT_RE.search(norm_text):
        return 0.0
    return min(1.0, n_features / full_at)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 30.0), -30.0)))


def _evidence(hits: list[tuple[str, float]]) -> list[str]:
    return [f"lexicon:{p}" for p, _ in hits]


class SentimentClassifier:
    labels = SENTIMENTS

    def __init__(self, weights: ChatWeights, lexicon: dict, question_damping: float = 0.4,
                 lexicon_scale: float = 1.0) -> None:
        self._model = weights.sentiment
        self._positive = PhraseMatcher.from_weighted(lexicon["sentiment"]["positive"])
        self._negative = PhraseMatcher.from_weighted(lexicon["sentiment"]["negative"])
        self._question = PhraseMatcher.from_weighted(lexicon["sentiment"]["question"])
        self.question_damping = question_damping
        self.lexicon_scale = lexicon_scale

    def positive_probability(self, text: str) -> tuple[float, list[str]]:
        """p(positive) from the review model and the lexicon, and the evidence used."""
        norm = normalise(safe_text(text, CHAT_MAX_CHARS))
        model_logit, n_features = self._model.logits(norm)
        logit = float(model_logit[0]) * model_trust(norm, n_features)
        pos, neg = self._positive.find(norm), self._negative.find(norm)
        logit += self.lexicon_scale * (sum(w for _, w in pos) - sum(w for _, w in neg))
        if self._question.find(norm):
            logit *= self.question_damping  # "有S码吗", "起球吗" ask; they do not judge
        return _sigmoid(logit), _evidence(pos) + _evidence(neg)

    def classify(self, text: str) -> Classification:
        return self.classify_with_probability(text)[0]

    def classify_with_probability(self, text: str) -> tuple[Classification, float]:
        p, evidence = self.positive_probability(text)
        polarity = 2.0 * p - 1.0  # -1 .. 1
        scores = {"positive": max(polarity, 0.0), "neutral": 1.0 - abs(polarity), "negative": max(-polarity, 0.0)}
        scores = {k: round(v, 4) for k, v in scores.items()}
        label = max(SENTIMENTS, key=lambda k: scores[k])
        return Classification(label, scores[label], scores, evidence + [f"p_positive:{p:.3f}"]), p


class EmotionClassifier:
    labels = EMOTION_LABELS

    def __init__(self, weights: ChatWeights, lexicon: dict, min_emotion: float = 0.4,
                 min_question_emotion: float = 0.6, lexicon_boost: float = 1.5) -> None:
        self._model = weights.emotion
        self._matchers = {label: PhraseMatcher.from_weighted(lexicon["emotion"].get(label, []))
                          for label in EMOTIONS}
        self._question = PhraseMatcher.from_weighted(lexicon["sentiment"]["question"])
        self.min_emotion = min_emotion
        self.min_emotion_question = min_question_emotion
        self.lexicon_boost = lexicon_boost

    def classify(self, text: str) -> Classification:
        norm = normalise(safe_text(text, CHAT_MAX_CHARS))
        logits, n_features = self._model.logits(norm)
        trust = model_trust(norm, n_features)
        by_label = {label: trust * v for label, v in zip(self._model.labels, logits.tolist())}
        evidence: list[str] = []
        boosted = np.zeros(len(EMOTIONS))
        any_hit = False
        for i, label in enumerate(EMOTIONS):
            hits = self._matchers[label].find(norm)
            any_hit |= bool(hits)
            evidence += [f"lexicon:{p}->{label}" for p, _ in hits]
            boosted[i] = by_label.get(label, 0.0) + self.lexicon_boost * sum(w for _, w in hits)
        if trust == 0.0 and not any_hit:
            probs = np.zeros(len(EMOTIONS))
        else:
            exp = np.exp(boosted - boosted.max())
            probs = exp / exp.sum()
        scores = {label: round(float(p), 4) for label, p in zip(EMOTIONS, probs)}
        top = max(EMOTIONS, key=lambda k: scores[k])
        scores["none"] = round(1.0 - scores[top], 4)
        # a question with no emotive word needs a clearer model signal to carry an emotion
        threshold = self.min_emotion_question if not any_hit and self._question.find(norm) else self.min_emotion
        if scores[top] >= threshold:
            return Classification(top, scores[top], scores, evidence)
        return Classification("none", scores["none"], scores, evidence)


class IntentClassifier:
    labels = INTENTS

    def __init__(self, lexicon: dict, sentiment: SentimentClassifier | None = None,
                 sentiment_intent_threshold: float = 0.85) -> None:
        self._matchers = {intent: PhraseMatcher.from_weighted(lexicon["intent"][intent])
                          for intent in INTENTS if intent in lexicon["intent"]}
        self._sentiment = sentiment
        self.sentiment_intent_threshold = sentiment_intent_threshold

    def classify(self, text: str, p_positive: float | None = None) -> Classification:
        norm = normalise(safe_text(text, CHAT_MAX_CHARS))
        scores = {intent: 0.0 for intent in INTENTS}
        evidence: list[str] = []
        for intent, matcher in self._matchers.items():
            hits = matcher.find(norm)
            if hits:
                scores[intent] = 1.0 - math.exp(-sum(w for _, w in hits))
                evidence += [f"{intent}:{p}" for p, _ in hits]
        # strong sentiment without any phrase rule still reads as praise or complaint
        if p_positive is None and self._sentiment is not None and norm:
            p_positive, _ = self._sentiment.positive_probability(norm)
        if p_positive is not None:
            strength = abs(2.0 * p_positive - 1.0)
            if strength >= self.sentiment_intent_threshold:
                target = "praise" if p_positive > 0.5 else "complaint"
                if strength * 0.8 > scores[target]:
                    scores[target] = strength * 0.8
                    evidence.append(f"{target}:sentiment")
        best = max(scores.values())
        scores["other"] = 1.0 - best
        scores = {k: round(v, 4) for k, v in scores.items()}
        label = "other" if best < 0.5 else min((k for k in INTENTS if scores[k] == max(
            scores[i] for i in INTENTS if i != "other") and k != "other"), key=_INTENT_PRIORITY.index)
        return Classification(label, scores[label], scores, evidence)


@dataclass(frozen=True)
class ChatAnalysis:
    sentiment: Classification
    emotion: Classification
    intent: Classification

    @property
    def confidence(self) -> float:
        """One figure for the event: the weakest of the three decisions."""
        return min(self.sentiment.confidence, self.emotion.confidence, self.intent.confidence)

    def to_dict(self, detail: bool = True) -> dict:
        out = {"sentiment": self.sentiment.label, "emotion": self.emotion.label,
               "intent": self.intent.label, "confidence": round(self.confidence, 4)}
        if detail:
            for head in ("sentiment", "emotion", "intent"):
                c: Classification = getattr(self, head)
                out[f"{head}_scores"] = c.scores
                out[f"{head}_evidence"] = c.evidence
        return out


class ChatAnalyzer:
    """All three heads over one message; weights and lexicon load once per process."""

    def __init__(self, weights_path: Path | str = WEIGHTS_PATH, lexicon_path: Path | str = LEXICON_PATH) -> None:
        weights = _cached_weights(str(weights_path))
        lexicon = load_lexicon(str(lexicon_path))
        self.sentiment = SentimentClassifier(weights, lexicon)
        self.emotion = EmotionClassifier(weights, lexicon)
        self.intent = IntentClassifier(lexicon, self.sentiment)

    def analyze(self, text: str | bytes) -> ChatAnalysis:
        text = safe_text(text, CHAT_MAX_CHARS)
        sentiment, p_positive = self.sentiment.classify_with_probability(text)
        return ChatAnalysis(sentiment, self.emotion.classify(text), self.intent.classify(text, p_positive))
