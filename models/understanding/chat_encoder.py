"""Chat heads on a pretrained sentence encoder (USE-multilingual), behind ``ChatAnalyzer``.

Each head is a linear model trained by chat_training.train_encoder_heads (weights/chat_encoder.npz):

- sentiment: one logistic regression over the hashed character n-grams *and* the sentence
  embedding together (the n-grams know review wording, the encoder knows meaning it never saw
  labelled, e.g. a product category absent from training); slang/emoji lexicon and question
  damping on top, as in the baseline (chat.SentimentClassifier);
- emotion: the same over CLUEmotion's 7 classes; "none" below the baseline's threshold;
- intent: a multinomial logistic regression over the embedding and the lexicon's evidence
  (per-intent phrase scores, question words, sentiment), trained on data/intents_train.jsonl.

Bounded cost: text is cut to CHAT_MAX_CHARS before the encoder; ``analyze_many`` embeds a batch
in one call; repeated messages ("666", "已拍") are embedded once per process (small LRU).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.understanding.chat import (
    CHAT_MAX_CHARS, EMOTIONS, INTENTS, NGRAM_ORDERS, SENTIMENTS, ChatAnalysis, HashedLinearModel, _ngram_crcs,
    _round4, model_trust,
)
from models.understanding.classification import Classification
from models.understanding.text import PhraseIndex, PhraseMatcher, normalise, safe_text

HEADS_PATH = Path(__file__).resolve().parent / "weights" / "chat_encoder.npz"
#: distinct messages whose embedding is kept (512 float32 = 2 kB each: 8 MB at most)
EMBED_CACHE_SIZE = 4096

#: the lexicon intents used as features, in this order (the model's feature names check it)
LEXICON_INTENTS = ["purchase_signal", "asks_price", "asks_size_fit", "asks_stock_shipping_returns",
                   "asks_attribute", "praise", "complaint", "spam_ad"]
INTENT_FEATURES = [f"lexicon:{i}" for i in LEXICON_INTENTS] + [
    "question_word", "question_mark", "lexicon_positive", "lexicon_negative", "p_positive",
    "has_digit", "no_letters", "length",
]


class HybridLinearModel:
    """Logistic regression over [hashed n-grams (L2-normalised), scale x sentence embedding]."""

    def __init__(self, labels: list[str], ngram_weights: np.ndarray, dense_weights: np.ndarray,
                 bias: np.ndarray, scale: float) -> None:
        self.labels = list(labels)
        rows = np.asarray(ngram_weights).shape[0]
        self.ngram = HashedLinearModel(labels, ngram_weights, np.zeros(rows, dtype=np.float32))
        self.dense = np.asarray(dense_weights, dtype=np.float32) * float(scale)  # (classes, dim)
        self.bias = np.asarray(bias, dtype=np.float32).reshape(-1)
        self.dim = self.ngram.dim

    def logits(self, crcs: tuple[int, ...], embedding: np.ndarray) -> tuple[np.ndarray, int]:
        ngram, n_features = self.ngram._logits_of_crcs(crcs)
        return ngram + self.dense @ embedding + self.bias, n_features


@dataclass(frozen=True)
class EncoderHeadWeights:
    encoder: str
    sentiment: HybridLinearModel  # one row: logit of positive
    emotion: HybridLinearModel  # rows: EMOTIONS
    intent_labels: list[str]
    intent_dense: np.ndarray  # (intents, embedding dim), already scaled
    intent_lexical: np.ndarray  # (intents, len(INTENT_FEATURES))
    intent_bias: np.ndarray


def load_heads(path: Path | str = HEADS_PATH) -> EncoderHeadWeights:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"chat encoder heads missing: {path} (train them: livelens train-chat)")
    with np.load(path, allow_pickle=False) as npz:
        names = [str(x) for x in npz["intent_features"]]
        if names != INTENT_FEATURES:
            raise ValueError(f"{path}: intent_features {names} differ from this code's {INTENT_FEATURES}; retrain")
        labels = [str(x) for x in npz["emotion_labels"]]
        if labels != EMOTIONS:
            raise ValueError(f"{path}: emotion_labels {labels} differ from {EMOTIONS}; retrain")
        return EncoderHeadWeights(
            encoder=str(npz["encoder"]),
            sentiment=HybridLinearModel(["positive"], npz["sentiment_ngram_w"], npz["sentiment_dense_w"],
                                        npz["sentiment_b"], float(npz["sentiment_scale"])),
            emotion=HybridLinearModel(EMOTIONS, npz["emotion_ngram_w"], npz["emotion_dense_w"],
                                      npz["emotion_b"], float(npz["emotion_scale"])),
            intent_labels=[str(x) for x in npz["intent_labels"]],
            intent_dense=np.asarray(npz["intent_dense_w"], dtype=np.float32) * float(npz["intent_scale"]),
            intent_lexical=np.asarray(npz["intent_lexical_w"], dtype=np.float32),
            intent_bias=np.asarray(npz["intent_b"], dtype=np.float32),
        )


#: emotion by valence (see EncoderChatHeads._emotion_from_valence): the sentiment must be this
#: clear (|2 p - 1|), and the valence's classes hold at least this much of the probability
VALENCE_MIN_POLARITY = 0.8
VALENCE_MIN_MASS = 0.4
POSITIVE_EMOTIONS = ("happiness", "like")
NEGATIVE_EMOTIONS = ("sadness", "disgust", "anger", "fear")

_SHARED_ENCODERS: dict[tuple[str, str], object] = {}
_SHARED_LOCK = threading.Lock()


def shared_encoder(name: str, precision: str = "float32"):
    """One encoder per name and precision per process: the chat heads, the segment classifier
    and the benchmarks share its ~140 MB."""
    from models.understanding.encoders import make_encoder

    with _SHARED_LOCK:
        if (name, precision) not in _SHARED_ENCODERS:
            _SHARED_ENCODERS[(name, precision)] = make_encoder(name, precision)
        return _SHARED_ENCODERS[(name, precision)]


_DIGIT_CHARS = frozenset("0123456789")


def intent_lexical_features(norm: str, intent_hits: dict[str, list[tuple[str, float]]],
                            question_hits: list, positive_hits: list, negative_hits: list,
                            p_positive: float, has_content: bool) -> np.ndarray:
    """The lexicon's evidence about a message, as INTENT_FEATURES (each roughly in [-1, 1])."""
    values = [1.0 - math.exp(-sum(w for _, w in intent_hits.get(i, []))) for i in LEXICON_INTENTS]
    values += [
        1.0 if question_hits else 0.0,
        1.0 if ("?" in norm) else 0.0,
        math.tanh(sum(w for _, w in positive_hits) / 2.0),
        math.tanh(sum(w for _, w in negative_hits) / 2.0),
        2.0 * p_positive - 1.0,
        1.0 if _DIGIT_CHARS.intersection(norm) else 0.0,
        0.0 if has_content else 1.0,
        min(len(norm), 64) / 64.0,
    ]
    return np.asarray(values, dtype=np.float32)


class _HeadView:
    """One head of the encoder analyzer as a ``TextClassifier`` (classify one text)."""

    def __init__(self, heads: EncoderChatHeads, field: str, labels: list[str]) -> None:
        self._heads = heads
        self._field = field
        self.labels = labels

    def classify(self, text: str, p_positive: float | None = None) -> Classification:
        return getattr(self._heads.analyze_many([text])[0], self._field)


class _SentimentView(_HeadView):
    def positive_probability(self, text: str) -> tuple[float, list[str]]:
        analysis = self._heads.analyze_many([text])[0]
        return float(analysis.sentiment_score), analysis.sentiment.evidence

    def classify_with_probability(self, text: str) -> tuple[Classification, float]:
        analysis = self._heads.analyze_many([text])[0]
        return analysis.sentiment, float(analysis.sentiment_score)


class EncoderChatHeads:
    """The encoder-based heads; built by ``ChatAnalyzer(encoder=...)``, which owns the lexicon."""

    def __init__(self, analyzer, encoder, heads_path: Path | str = HEADS_PATH,
                 weights: EncoderHeadWeights | None = None, precision: str = "float32") -> None:
        # ``weights``: given directly while training (the intent head needs the sentiment head)
        self.weights = weights if weights is not None else _cached_heads(str(heads_path))
        self.encoder = shared_encoder(encoder, precision) if isinstance(encoder, str) else encoder
        if self.encoder.name != self.weights.encoder:
            raise ValueError(f"{heads_path}: heads were trained on encoder {self.weights.encoder!r}, "
                             f"not {self.encoder.name!r}")
        self._analyzer = analyzer
        self._sentiment_head, self._emotion_head, self._intent_head = analyzer._baseline_heads
        lexicon = analyzer.lexicon
        self._intent_matchers = {i: PhraseMatcher.from_weighted(lexicon["intent"][i])
                                 for i in LEXICON_INTENTS if i in lexicon["intent"]}
        sentiment_matchers = self._sentiment_head.matchers  # positive, negative, question
        emotion_matchers = self._emotion_head.matchers  # EMOTIONS..., question
        intent_matchers = list(self._intent_matchers.values())
        self._index = PhraseIndex(sentiment_matchers + emotion_matchers + intent_matchers)
        self._split = (len(sentiment_matchers), len(sentiment_matchers) + len(emotion_matchers))
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._dim = int(self.weights.sentiment.dense.shape[1])
        self.sentiment = _SentimentView(self, "sentiment", SENTIMENTS)
        self.emotion = _HeadView(self, "emotion", EMOTIONS + ["none"])
        self.intent = _HeadView(self, "intent", INTENTS)

    # --- embedding, batched and cached -----------------------------------------------------

    def embed(self, texts: list[str]) -> np.ndarray:
        """(n, dim) rows for already-clean texts; "" gets a zero row (nothing to mean)."""
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        with self._cache_lock:
            for i, text in enumerate(texts):
                if not text:
                    continue
                row = self._cache.get(text)
                if row is not None:
                    self._cache.move_to_end(text)
                    out[i] = row
                else:
                    todo.setdefault(text, []).append(i)
        if todo:
            unique = list(todo)
            rows = self.encoder.encode(unique)
            with self._cache_lock:
                for text, row in zip(unique, rows):
                    out[todo[text]] = row
                    self._cache[text] = row
                while len(self._cache) > EMBED_CACHE_SIZE:
                    self._cache.popitem(last=False)
        return out

    # --- analysis --------------------------------------------------------------------------

    def analyze_many(self, texts: list) -> list[ChatAnalysis]:
        clean = [safe_text(t, CHAT_MAX_CHARS) for t in texts]
        embeddings = self.embed(clean)
        return [self._analyze(text, embeddings[i]) for i, text in enumerate(clean)]

    def _analyze(self, text: str, embedding: np.ndarray) -> ChatAnalysis:
        norm, sentiment, p_positive, emotion_hits, crcs, by_intent, features = self._sentiment_and_features(
            text, embedding)
        emotion = self._emotion_head._decide(norm, self.weights.emotion.logits(crcs, embedding), emotion_hits)
        if emotion.label == "none":
            emotion = self._emotion_from_valence(emotion, p_positive)
        intent = self._decide_intent(norm, embedding, by_intent, features)
        probabilities = {k: emotion.scores[k] for k in EMOTIONS}
        if not any(probabilities.values()):  # nothing to go on (empty, digits only): no preference
            probabilities = dict.fromkeys(EMOTIONS, round(1.0 / len(EMOTIONS), 4))
        return ChatAnalysis(sentiment, emotion, intent, sentiment_score=p_positive,
                            emotion_probabilities=probabilities)

    def _emotion_from_valence(self, emotion: Classification, p_positive: float) -> Classification:
        """A clearly positive or negative message whose emotion mass is spread over the classes
        of that valence ("这衣服质量太差了，退货！": sadness .36, anger .29, disgust .20) gets the top
        class of that valence: the sentiment head decides the valence, the emotion head the kind."""
        polarity = 2.0 * p_positive - 1.0
        if abs(polarity) < VALENCE_MIN_POLARITY:
            return emotion
        group = POSITIVE_EMOTIONS if polarity > 0 else NEGATIVE_EMOTIONS
        mass = sum(emotion.scores[k] for k in group)
        if mass < VALENCE_MIN_MASS:
            return emotion
        top = max(group, key=emotion.scores.__getitem__)
        return Classification(top, emotion.scores[top], emotion.scores,
                              emotion.evidence + [f"valence:{'positive' if polarity > 0 else 'negative'}"])

    def _sentiment_and_features(self, text: str, embedding: np.ndarray):
        """Shared work: normalised text, n-grams, lexicon hits, the sentiment decision and the
        intent head's lexical features (what training computes for each intent example)."""
        norm = normalise(text)
        crcs = _ngram_crcs(norm[:CHAT_MAX_CHARS], NGRAM_ORDERS)
        hits = self._index.find_all(norm)
        a, b = self._split
        sentiment_hits, emotion_hits, intent_hits = hits[:a], hits[a:b], hits[b:]
        s_logits, n_features = self.weights.sentiment.logits(crcs, embedding)
        sentiment, p_positive = self._sentiment_head._decide(
            *self._sentiment_head._probability(norm, (s_logits, n_features), sentiment_hits))
        by_intent = dict(zip(self._intent_matchers, intent_hits))
        positive, negative, question = sentiment_hits
        has_content = model_trust(norm, n_features) > 0.0
        features = intent_lexical_features(norm, by_intent, question, positive, negative, p_positive, has_content)
        return norm, sentiment, p_positive, emotion_hits, crcs, by_intent, features

    def intent_features(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(embeddings, lexical features) of clean texts: the intent head's inputs (training)."""
        clean = [safe_text(t, CHAT_MAX_CHARS) for t in texts]
        embeddings = self.embed(clean)
        lexical = np.stack([self._sentiment_and_features(t, embeddings[i])[-1] for i, t in enumerate(clean)])
        return embeddings, lexical

    def _decide_intent(self, norm: str, embedding: np.ndarray, by_intent: dict,
                       features: np.ndarray) -> Classification:
        w = self.weights
        if not norm:  # nothing said: nothing to classify
            logits = np.where(np.array(w.intent_labels) == "other", 10.0, 0.0)
        else:
            logits = w.intent_dense @ embedding + w.intent_lexical @ features + w.intent_bias
        exp = np.exp(logits - logits.max())
        probs = exp / exp.sum()
        scores = dict.fromkeys(INTENTS, 0.0)
        for label, p in zip(w.intent_labels, probs.tolist()):
            scores[label] = _round4(p)
        label = max(INTENTS, key=lambda k: (scores[k], -INTENTS.index(k)))
        evidence = [f"{label}:{p}" for p, _ in by_intent.get(label, [])]
        return Classification(label, scores[label], scores, evidence)


_HEADS_CACHE: dict[str, EncoderHeadWeights] = {}


def _cached_heads(path: str) -> EncoderHeadWeights:
    with _SHARED_LOCK:
        if path not in _HEADS_CACHE:
            _HEADS_CACHE[path] = load_heads(path)
        return _HEADS_CACHE[path]
