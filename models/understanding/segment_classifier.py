"""Transcript sentence -> selling-point class (fabric, fit, price, chit-chat, ...).

Two kinds of evidence, each a score in [0, 1] per class:

- semantic: cosine between the sentence and the class's example sentences (+ description),
  nearest example wins; mapped to [0, 1] with a per-encoder calibration (see ``_calibrate``)
  so that any encoder, whatever its cosine range, lands on the same scale;
- lexical: the class's keywords found in the text (zh by substring, single-character zh
  keywords only as a whole jieba token, en by word boundary).

They are combined with a noisy-OR, ``1 - (1 - ws*semantic) * (1 - wl*lexical)``: either kind
alone can make a class likely, both together make it more so. The top class is the label,
unless nothing reaches ``min_score``: then the taxonomy's fallback (chit-chat).
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from dataclasses import dataclass

import numpy as np

from models.taxonomy import Taxonomy, TaxonomyClass
from models.understanding.classification import Classification
from models.understanding.encoders import SentenceEncoder
from models.understanding.text import MAX_CHARS, normalise, safe_text

_CJK_RE = re.compile(r"[\u3400-\u9fff]")

# class-example embeddings per (encoder, example set): shared by every classifier in the process
_EMBEDDING_CACHE: dict[tuple[str, str], np.ndarray] = {}
_CACHE_LOCK = threading.Lock()


@dataclass(frozen=True)
class _Keyword:
    text: str  # normalised
    weight: float
    pattern: re.Pattern[str] | None  # en: word-boundary regex; zh: None (substring or token)
    whole_token: bool  # single-character zh: must be a jieba token


_JIEBA = None


def _jieba_tokenizer():
    """One private jieba tokenizer per process (loading its dictionary takes ~1 s).

    Private: jieba's global tokenizer is shared state that other code may add words to.
    """
    global _JIEBA
    with _CACHE_LOCK:
        if _JIEBA is None:
            import logging

            import jieba

            jieba.setLogLevel(logging.WARNING)  # its dictionary-loading chatter goes to stderr
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            _JIEBA = tokenizer
    return _JIEBA


class _LexicalMatcher:
    """Keyword evidence per class; jieba decides single-character Chinese words."""

    def __init__(self, classes: tuple[TaxonomyClass, ...]) -> None:
        self._jieba = _jieba_tokenizer()
        self._by_class: dict[str, list[_Keyword]] = {}
        for cls in classes:
            keywords = []
            for raw in dict.fromkeys(normalise(k) for k in cls.all_keywords()):
                if _CJK_RE.search(raw):
                    single = len(raw) == 1
                    # a one-character word (棉, 码) is weak evidence and ambiguous inside others
                    keywords.append(_Keyword(raw, 0.5 if single else 1.0, None, single))
                else:
                    pattern = re.compile(r"(?<![a-z0-9])" + re.escape(raw) + r"(?:s|es)?(?![a-z0-9])")
                    keywords.append(_Keyword(raw, 1.0, pattern, False))
            self._by_class[cls.name] = keywords

    def tokens(self, text: str) -> set[str]:
        return set(self._jieba.lcut(text)) if _CJK_RE.search(text) else set()

    def match(self, text: str) -> dict[str, list[_Keyword]]:
        """class -> keywords found in ``text`` (normalised); shorter ones inside longer ones dropped."""
        tokens = self.tokens(text)
        found: dict[str, list[_Keyword]] = {}
        for name, keywords in self._by_class.items():
            hits = []
            for kw in keywords:
                if kw.pattern is not None:
                    ok = kw.pattern.search(text) is not None
                elif kw.whole_token:
                    ok = kw.text in tokens
                else:
                    ok = kw.text in text
                if ok:
                    hits.append(kw)
            # '棉' inside '纯棉' is the same evidence: count it once
            hits = [h for h in hits if not any(h is not o and h.text in o.text for o in hits)]
            if hits:
                found[name] = hits
        return found


class SegmentClassifier:
    """Selling-point classifier for one taxonomy. ``encoder=None`` gives a lexical-only model."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        encoder: SentenceEncoder | None,
        semantic_weight: float = 0.7,
        lexical_weight: float = 0.9,
        lexical_rate: float = 1.0,
        min_score: float = 0.3,
        max_chars: int = MAX_CHARS,
    ) -> None:
        self.taxonomy = taxonomy
        self.encoder = encoder
        self.labels: list[str] = taxonomy.class_names
        self.semantic_weight = semantic_weight if encoder is not None else 0.0
        self.lexical_weight = lexical_weight
        self.lexical_rate = lexical_rate
        self.min_score = min_score
        self.max_chars = max_chars
        self._lexical = _LexicalMatcher(taxonomy.classes)
        # class-example texts; row i belongs to class self._example_class[i]
        self._example_text: list[str] = []
        self._example_class: list[int] = []
        for ci, cls in enumerate(taxonomy.classes):
            for text in cls.all_examples() + [cls.description]:
                self._example_text.append(text)
                self._example_class.append(ci)
        self._example_class_arr = np.asarray(self._example_class)
        self._example_emb: np.ndarray | None = None
        self._floor, self._ceil = 0.0, 1.0
        if encoder is not None:
            self._example_emb = self._embed_examples(encoder)
            self._floor, self._ceil = self._calibrate(self._example_emb)

    # --- public API ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return f"segment[{self.taxonomy.category}:{self.encoder.name if self.encoder else 'lexical'}]"

    def classify(self, text: str) -> Classification:
        return self.classify_many([text])[0]

    def classify_many(self, texts: list[str]) -> list[Classification]:
        clean = [safe_text(t, self.max_chars) for t in texts]
        semantic, nearest = self._semantic(clean)
        return [self._decide(text, semantic[i], nearest[i]) for i, text in enumerate(clean)]

    @property
    def detect_threshold(self) -> float:
        """Score of one full keyword and no semantic support: the weakest evidence we call a hit."""
        return round(self.lexical_weight * (1.0 - math.exp(-self.lexical_rate)) - 1e-3, 4)

    def detect(self, text: str, threshold: float | None = None) -> list[str]:
        """Every class scoring at least ``threshold`` (multi-label view, used for attributes)."""
        threshold = self.detect_threshold if threshold is None else threshold
        scores = self.classify(text).scores
        return [name for name in self.labels if scores[name] >= threshold]

    # --- internals -------------------------------------------------------------------------

    def _embed_examples(self, encoder: SentenceEncoder) -> np.ndarray:
        digest = hashlib.sha1("\x1f".join(self._example_text).encode("utf-8")).hexdigest()
        key = (encoder.name, digest)
        with _CACHE_LOCK:
            cached = _EMBEDDING_CACHE.get(key)
        if cached is None:
            cached = encoder.encode(self._example_text)
            with _CACHE_LOCK:
                _EMBEDDING_CACHE[key] = cached
        return cached

    def _calibrate(self, emb: np.ndarray) -> tuple[float, float]:
        """Cosine -> [0, 1] anchors for this encoder, from the examples themselves.

        floor: mean cosine between examples of different classes (unrelated sentences);
        ceil: mean over examples of the best cosine to another example of the same class
        (leave-one-out: how close a genuinely matching sentence gets).
        """
        sims = emb @ emb.T
        same = self._example_class_arr[:, None] == self._example_class_arr[None, :]
        np.fill_diagonal(same, False)
        floor = float(sims[~same & ~np.eye(len(sims), dtype=bool)].mean())
        masked = np.where(same, sims, -np.inf)
        best_same = masked.max(axis=1)
        ceil = float(best_same[np.isfinite(best_same)].mean())
        if ceil - floor < 0.05:  # degenerate encoder: keep the mapping sane
            ceil = floor + 0.05
        return floor, ceil

    def _semantic(self, texts: list[str]) -> tuple[np.ndarray, list[list[str]]]:
        n_classes = len(self.labels)
        semantic = np.zeros((len(texts), n_classes), dtype=np.float32)
        nearest: list[list[str]] = [[""] * n_classes for _ in texts]
        if self.encoder is None or self._example_emb is None:
            return semantic, nearest
        todo = [i for i, t in enumerate(texts) if t]  # an empty text has no meaning to embed
        if not todo:
            return semantic, nearest
        emb = self.encoder.encode([texts[i] for i in todo])
        sims = emb @ self._example_emb.T  # (n, examples)
        for row, i in enumerate(todo):
            for ci in range(n_classes):
                idx = np.flatnonzero(self._example_class_arr == ci)
                best = idx[int(np.argmax(sims[row, idx]))]
                cos = float(sims[row, best])
                semantic[i, ci] = np.clip((cos - self._floor) / (self._ceil - self._floor), 0.0, 1.0)
                nearest[i][ci] = self._example_text[best]
        return semantic, nearest

    def _decide(self, text: str, semantic: np.ndarray, nearest: list[str]) -> Classification:
        hits = self._lexical.match(normalise(text)) if text else {}
        scores: dict[str, float] = {}
        for ci, name in enumerate(self.labels):
            weight = sum(k.weight for k in hits.get(name, []))
            lexical = 1.0 - math.exp(-self.lexical_rate * weight)
            combined = 1.0 - (1.0 - self.semantic_weight * float(semantic[ci])) * (1.0 - self.lexical_weight * lexical)
            scores[name] = round(min(max(combined, 0.0), 1.0), 4)
        best = max(self.labels, key=lambda n: (scores[n], -self.labels.index(n)))
        fallback = self.taxonomy.fallback
        if scores[best] >= self.min_score:
            label, confidence = best, scores[best]
        else:  # nothing reads as a selling point: say how sure we are that none applies
            label, confidence = fallback, max(scores[fallback], 1.0 - scores[best])
        evidence = [f"keyword:{k.text}" for k in hits.get(label, [])]
        ci = self.labels.index(label)
        if nearest[ci] and semantic[ci] > 0:
            evidence.append(f"example:{nearest[ci]}")
        return Classification(label=label, confidence=round(float(confidence), 4), scores=scores, evidence=evidence)
