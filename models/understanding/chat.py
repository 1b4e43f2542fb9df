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

Those are the lexicon + n-gram models (``ChatAnalyzer(encoder=None)``: numpy only, ~0.05 ms per
message), kept as the baseline. The default ``ChatAnalyzer()`` adds a pretrained sentence
encoder (USE-multilingual, packaged) under heads trained on it (weights/chat_encoder.npz, see
chat_encoder.py): sentiment and emotion are one logistic regression over the hashed n-grams
and the sentence embedding together, intent one over the embedding and the lexicon's evidence.
``analyze_many`` embeds a batch at once (~0.5 ms a short message in batches of 32).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from zlib import crc32

import numpy as np
import yaml

from models.understanding.chat_data import EMOTIONS
from models.understanding.classification import Classification
from models.understanding.text import PhraseIndex, PhraseMatcher, normalise, safe_text

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
    return _buckets(_ngram_crcs(normalise(text)[:CHAT_MAX_CHARS], orders), dim)


@lru_cache(maxsize=512)
def _ngram_crcs(text: str, orders: tuple[int, ...]) -> tuple[int, ...]:
    # cached: heads called one by one hash the same message, and chat repeats itself ("666")
    data = text.encode("utf-8")
    if len(data) == len(text):  # ASCII: character i is byte i, slice the bytes once encoded
        return tuple(crc32(data[i:i + n]) for n in orders for i in range(len(text) - n + 1))
    ends = [0]
    for ch in text:
        ends.append(ends[-1] + len(ch.encode("utf-8")))
    return tuple(crc32(data[ends[i]:ends[i + n]]) for n in orders for i in range(len(text) - n + 1))


def _buckets(crcs: tuple[int, ...], dim: int) -> np.ndarray:
    """Sorted unique ``crc & (dim - 1)`` as int64, what ``np.unique`` gives; a set is faster
    than ``np.unique`` on the few dozen n-grams of a chat message."""
    if len(crcs) > 256:
        return np.unique(np.asarray(crcs, dtype=np.int64) & (dim - 1))
    mask = dim - 1
    return np.array(sorted({c & mask for c in crcs}), dtype=np.int64)


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
        # (dim, classes): a feature's weights are one contiguous row, see _logits
        self._columns = np.ascontiguousarray(self.weights.T)

    def logits(self, text: str) -> tuple[np.ndarray, int]:
        """Raw scores and the number of features seen (0: the model has nothing to go on)."""
        return self._logits(hashed_ngrams(text, self.dim))

    def _logits(self, idx: np.ndarray) -> tuple[np.ndarray, int]:
        if len(idx) == 0:
            return np.zeros(len(self.bias), dtype=np.float32), 0
        # == self.weights[:, idx].sum(axis=1): numpy builds that gather as the transpose of a
        # (features, classes) array; taking rows of the transposed copy gives the same array
        # (same layout, so the same float32 summation order, bit for bit) at a third of the cost
        gathered = self._columns.take(idx, axis=0).T
        return gathered.sum(axis=1) / math.sqrt(len(idx)) + self.bias, len(idx)

    def _logits_of_crcs(self, crcs: tuple[int, ...]) -> tuple[np.ndarray, int]:
        return self._logits(_buckets(crcs, self.dim))


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


def _weight(hits: list[tuple[str, float]]) -> float:
    # == sum(w for _, w in hits), without a generator for the usual no-hit case
    return sum(w for _, w in hits) if hits else 0


def _round4(x: float) -> float:
    # == round(x, 4); most scores are exactly 0, and round() is slow (decimal conversion)
    return round(x, 4) if x else x


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
        #: the matchers in the order ``_probability`` takes their hits
        self.matchers = [self._positive, self._negative, self._question]
        self._index = PhraseIndex(self.matchers)
        self.question_damping = question_damping
        self.lexicon_scale = lexicon_scale

    def positive_probability(self, text: str) -> tuple[float, list[str]]:
        """p(positive) from the review model and the lexicon, and the evidence used."""
        norm = normalise(safe_text(text, CHAT_MAX_CHARS))
        return self._probability(norm, self._model.logits(norm), self._index.find_all(norm))

    def _probability(self, norm: str, model_out: tuple[np.ndarray, int],
                     hits: list[list[tuple[str, float]]]) -> tuple[float, list[str]]:
        model_logit, n_features = model_out
        pos, neg, question = hits
        logit = float(model_logit[0]) * model_trust(norm, n_features)
        logit += self.lexicon_scale * (_weight(pos) - _weight(neg))
        if question:
            logit *= self.question_damping  # "有S码吗", "起球吗" ask; they do not judge
        return _sigmoid(logit), _evidence(pos) + _evidence(neg)

    def classify(self, text: str) -> Classification:
        return self.classify_with_probability(text)[0]

    def classify_with_probability(self, text: str) -> tuple[Classification, float]:
        return self._decide(*self.positive_probability(text))

    def _decide(self, p: float, evidence: list[str]) -> tuple[Classification, float]:
        polarity = 2.0 * p - 1.0  # -1 .. 1
        scores = {"positive": max(polarity, 0.0), "neutral": 1.0 - abs(polarity), "negative": max(-polarity, 0.0)}
        scores = {k: _round4(v) for k, v in scores.items()}
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
        #: the matchers in the order ``_decide`` takes their hits: EMOTIONS, then questions
        self.matchers = [self._matchers[label] for label in EMOTIONS] + [self._question]
        self._index = PhraseIndex(self.matchers)
        self.min_emotion = min_emotion
        self.min_emotion_question = min_question_emotion
        self.lexicon_boost = lexicon_boost

    def classify(self, text: str) -> Classification:
        norm = normalise(safe_text(text, CHAT_MAX_CHARS))
        return self._decide(norm, self._model.logits(norm), self._index.find_all(norm))

    def _decide(self, norm: str, model_out: tuple[np.ndarray, int],
                all_hits: list[list[tuple[str, float]]]) -> Classification:
        logits, n_features = model_out
        trust = model_trust(norm, n_features)
        by_label = {label: trust * v for label, v in zip(self._model.labels, logits.tolist())}
        evidence: list[str] = []
        boosted: list[float] = []
        any_hit = False
        for label, hits in zip(EMOTIONS, all_hits):
            if hits:
                any_hit = True
                evidence += [f"lexicon:{p}->{label}" for p, _ in hits]
            boosted.append(by_label.get(label, 0.0) + self.lexicon_boost * _weight(hits))
        if trust == 0.0 and not any_hit:
            probs = [0.0] * len(EMOTIONS)
        else:
            # a Python list in, numpy for the softmax itself (np.exp and the float64 sum, as
            # before: math.exp or sum() could differ in the last bit)
            exp = np.exp(np.array(boosted) - max(boosted))
            probs = (exp / exp.sum()).tolist()
        scores = {label: _round4(p) for label, p in zip(EMOTIONS, probs)}
        top = max(EMOTIONS, key=scores.__getitem__)
        scores["none"] = _round4(1.0 - scores[top])
        # a question with no emotive word needs a clearer model signal to carry an emotion
        threshold = self.min_emotion_question if not any_hit and all_hits[-1] else self.min_emotion
        if scores[top] >= threshold:
            return Classification(top, scores[top], scores, evidence)
        return Classification("none", scores["none"], scores, evidence)


class IntentClassifier:
    labels = INTENTS

    def __init__(self, lexicon: dict, sentiment: SentimentClassifier | None = None,
                 sentiment_intent_threshold: float = 0.85) -> None:
        self._matchers = {intent: PhraseMatcher.from_weighted(lexicon["intent"][intent])
                          for intent in INTENTS if intent in lexicon["intent"]}
        #: the matchers in the order ``_decide`` takes their hits
        self.matchers = list(self._matchers.values())
        self._index = PhraseIndex(self.matchers)
        self._sentiment = sentiment
        self.sentiment_intent_threshold = sentiment_intent_threshold

    def classify(self, text: str, p_positive: float | None = None) -> Classification:
        norm = normalise(safe_text(text, CHAT_MAX_CHARS))
        return self._decide(norm, self._index.find_all(norm), p_positive)

    def _decide(self, norm: str, all_hits: list[list[tuple[str, float]]], p_positive: float | None) -> Classification:
        scores = dict.fromkeys(INTENTS, 0.0)
        evidence: list[str] = []
        for intent, hits in zip(self._matchers, all_hits):
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
        scores = {k: _round4(v) for k, v in scores.items()}
        if best < 0.5:
            label = "other"
        else:
            top = max(scores[i] for i in INTENTS if i != "other")  # rounded, as compared
            label = min((k for k in INTENTS if k != "other" and scores[k] == top), key=_INTENT_PRIORITY.index)
        return Classification(label, scores[label], scores, evidence)


@dataclass(frozen=True)
class ChatAnalysis:
    sentiment: Classification
    emotion: Classification
    intent: Classification
    #: p(positive) in [0, 1] behind the sentiment label (None: not computed)
    sentiment_score: float | None = None
    #: a probability for each of the 7 emotion classes, summing to 1 (all 0: no evidence at all);
    #: ``emotion.label`` is the decision, "none" when the top class is below the threshold
    emotion_probabilities: dict[str, float] | None = None

    @property
    def confidence(self) -> float:
        """One figure for the event: the weakest of the three decisions."""
        return min(self.sentiment.confidence, self.emotion.confidence, self.intent.confidence)

    def to_dict(self, detail: bool = True) -> dict:
        out = {"sentiment": self.sentiment.label, "emotion": self.emotion.label,
               "intent": self.intent.label, "confidence": round(self.confidence, 4)}
        if self.sentiment_score is not None:
            out["sentiment_score"] = round(self.sentiment_score, 4)
        if self.emotion_probabilities is not None:
            out["emotion_scores"] = dict(self.emotion_probabilities)
        if detail:
            for head in ("sentiment", "emotion", "intent"):
                c: Classification = getattr(self, head)
                out.setdefault(f"{head}_scores", c.scores)
                out[f"{head}_evidence"] = c.evidence
        return out


def _emotion_probabilities(emotion: Classification) -> dict[str, float]:
    """The 7 class probabilities inside an emotion Classification (its "none" is 1 - top)."""
    return {label: emotion.scores.get(label, 0.0) for label in EMOTIONS}


class ChatAnalyzer:
    """All three heads over one message; weights, lexicon and encoder load once per process.

    ``encoder``: "use-multilingual" (default; the encoder heads of chat_encoder.py), any
    ``SentenceEncoder``, or None for the lexicon + n-gram baseline alone (numpy only).
    ``weights_path`` is the baseline's n-gram file, ``heads_path`` the encoder heads' file;
    ``encoder_precision`` the named encoder's arithmetic (encoders.resolve_precision).
    """

    def __init__(self, weights_path: Path | str = WEIGHTS_PATH, lexicon_path: Path | str = LEXICON_PATH,
                 encoder: object | None = "use-multilingual", heads_path: Path | str | None = None,
                 encoder_precision: str = "float32") -> None:
        weights = _cached_weights(str(weights_path))
        lexicon = load_lexicon(str(lexicon_path))
        self.lexicon = lexicon
        self.sentiment = SentimentClassifier(weights, lexicon)
        self.emotion = EmotionClassifier(weights, lexicon)
        self.intent = IntentClassifier(lexicon, self.sentiment)
        # every head's phrases in one index, one pass per message; hits split back per head
        matchers = self.sentiment.matchers + self.emotion.matchers + self.intent.matchers
        self._index = PhraseIndex(matchers)
        self._split = (len(self.sentiment.matchers), len(self.sentiment.matchers) + len(self.emotion.matchers))
        #: the lexicon + n-gram heads (the baseline; the encoder heads reuse their lexicon parts)
        self._baseline_heads = (self.sentiment, self.emotion, self.intent)
        self.encoder_heads = None
        if isinstance(encoder, str) and encoder.lower() in ("", "none", "off"):
            encoder = None
        if encoder is not None:
            from models.understanding.chat_encoder import HEADS_PATH, EncoderChatHeads

            self.encoder_heads = EncoderChatHeads(self, encoder, heads_path or HEADS_PATH,
                                                  precision=encoder_precision)
            # the heads' public classify() now answers with the encoder models
            self.sentiment, self.emotion, self.intent = (
                self.encoder_heads.sentiment, self.encoder_heads.emotion, self.encoder_heads.intent)

    @property
    def name(self) -> str:
        return f"chat[{self.encoder_heads.encoder.name}]" if self.encoder_heads else "chat[lexicon+ngram]"

    def analyze(self, text: str | bytes) -> ChatAnalysis:
        """Sentiment, emotion and intent of one message (== ``analyze_many([text])[0]``)."""
        if self.encoder_heads is not None:
            return self.encoder_heads.analyze_many([text])[0]
        return self._analyze_baseline(text)

    def analyze_many(self, texts: list[str | bytes]) -> list[ChatAnalysis]:
        """One analysis per text, in order; the encoder embeds the batch in one call.

        Bounded cost: each text is cut to CHAT_MAX_CHARS before anything else, so a batch of
        n messages costs at most n x a 256-character sentence.
        """
        if self.encoder_heads is not None:
            return self.encoder_heads.analyze_many(list(texts))
        return [self._analyze_baseline(t) for t in texts]

    def _analyze_baseline(self, text: str | bytes) -> ChatAnalysis:
        """== the three baseline heads' ``classify`` on ``text``, sharing their common work: the
        normalised text, its n-grams and the lexicon lookup are computed once, not per head."""
        text = safe_text(text, CHAT_MAX_CHARS)
        norm = normalise(safe_text(text, CHAT_MAX_CHARS))  # what each head derives from ``text``
        crcs = _ngram_crcs(normalise(norm)[:CHAT_MAX_CHARS], NGRAM_ORDERS)  # what its model hashes
        hits = self._index.find_all(norm)
        a, b = self._split
        sentiment_head: SentimentClassifier = self._baseline_heads[0]
        emotion_head: EmotionClassifier = self._baseline_heads[1]
        intent_head: IntentClassifier = self._baseline_heads[2]
        sentiment, p_positive = sentiment_head._decide(
            *sentiment_head._probability(norm, sentiment_head._model._logits_of_crcs(crcs), hits[:a]))
        emotion = emotion_head._decide(norm, emotion_head._model._logits_of_crcs(crcs), hits[a:b])
        return ChatAnalysis(sentiment, emotion, intent_head._decide(norm, hits[b:], p_positive),
                            sentiment_score=p_positive, emotion_probabilities=_emotion_probabilities(emotion))
