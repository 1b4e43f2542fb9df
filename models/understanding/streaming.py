"""Incremental helpers the processors drive, one instance per room.

- ``SellingPointSegmenter``: final transcript sentences in, selling-point segments out.
  Consecutive sentences of one class merge; a segment closes when the class changes, after a
  silence longer than ``max_gap_ms``, when it grows past ``max_segment_ms``, or on ``finish()``.
  Same shape as whisper_streaming's online processor: ``insert_sentence`` (insert_chunk),
  ``process_iter`` (what is stable now), ``finish``.
- ``ChatAggregator``: analysed chat messages in, per-window room summaries out (sentiment mix,
  emotion mix, intent counts, the most-asked questions).

Both hold plain data only; the processor owns one per room and feeds it in stream order.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from models.understanding.chat import EMOTION_LABELS, INTENTS, SENTIMENTS, ChatAnalysis
from models.understanding.classification import Classification, TextClassifier

_MAX_EVIDENCE = 8


@dataclass(frozen=True)
class Sentence:
    """A final transcript sentence (stream ms). ``words`` are passed through untouched."""

    text: str
    start_ms: int
    end_ms: int
    words: list[Any] = field(default_factory=list)


@dataclass
class SellingPointSegment:
    label: str
    label_zh: str
    label_en: str
    category: str
    start_ms: int
    end_ms: int
    text: str
    confidence: float  # mean over the merged sentences
    evidence: list[str]
    words: list[Any]
    sentences: int
    #: chit-chat (the taxonomy's fallback): the clipper ignores these
    is_chit_chat: bool
    #: False for the still-growing segment returned by ``current()``
    closed: bool = True
    #: every selling point its sentences support (multi-label): {class, score, start, end}, best
    #: first, ``text[start:end]`` the evidence; empty without a multi-label classifier
    labels: list[dict] = field(default_factory=list)
    #: the catalog product the segment is about (named in it, or the last one the room named)
    product_id: str = ""
    product_name_zh: str = ""
    product_name_en: str = ""


def _join(left: str, right: str) -> str:
    # Chinese joins without spaces; Latin words need one
    if not left:
        return right
    if left[-1].isascii() and left[-1].isalnum() and right[:1].isascii() and right[:1].isalnum():
        return f"{left} {right}"
    return left + right


class SellingPointSegmenter:
    """Merges classified transcript sentences into selling-point segments.

    ``classifier`` is a SegmentClassifier (anything with ``classify`` and a ``taxonomy``).
    ``multi_label`` (a :class:`models.understanding.selling_points.MultiLabelClassifier` over the
    same classifier): each sentence also gets every class above its threshold, with its span; the
    segment's class is still the whole sentence's, so segments split as before.
    ``linker`` (a :class:`models.understanding.product_linker.ProductLinker` over the room's
    catalog): the product a segment names, else the last product the room named.
    """

    def __init__(self, classifier: TextClassifier, max_gap_ms: int = 3000, max_segment_ms: int = 60_000,
                 multi_label: Any | None = None, linker: Any | None = None) -> None:
        self.classifier = classifier
        self.taxonomy = getattr(classifier, "taxonomy")
        self.max_gap_ms = max_gap_ms
        self.max_segment_ms = max_segment_ms
        self.multi_label = multi_label
        self.linker = linker
        self._open: SellingPointSegment | None = None
        self._confidences: list[float] = []
        self._ready: list[SellingPointSegment] = []
        self._product: Any | None = None  # the last product the room named (a ProductLink)

    def insert_sentence(self, text: str, start_ms: int, end_ms: int, words: list[Any] | None = None) -> list[SellingPointSegment]:
        """Add one final sentence; returns the segments this closed (usually none or one)."""
        end_ms = max(end_ms, start_ms)
        labels: list[Any] = []
        if self.multi_label is not None:
            multi = self.multi_label.classify(text)  # the sentence and its clauses, one encoder batch
            result, labels, labelled_text = multi.sentence, multi.labels, multi.text
        else:
            result, labelled_text = self.classifier.classify(text), text
        named = self.linker.link(text) if self.linker is not None else None
        sentence = Sentence(text, start_ms, end_ms, list(words or []))
        if self._open is not None and self._must_close(result, sentence):
            self._close()
        if self._open is None:
            self._start(result, sentence)
        else:
            self._extend(result, sentence)
        self._add_labels(labels, labelled_text, sentence.text)
        if named is not None:
            self._product = named
            self._open.product_id = ""  # a product named inside the segment wins over one carried in
        self._set_product()
        return self.process_iter()

    def process_iter(self) -> list[SellingPointSegment]:
        """Segments closed since the last call (each returned once)."""
        ready, self._ready = self._ready, []
        return ready

    def current(self) -> SellingPointSegment | None:
        """A snapshot of the open segment (``closed=False``), for a live view; None if none."""
        if self._open is None:
            return None
        snapshot = SellingPointSegment(**{**self._open.__dict__, "closed": False})
        snapshot.evidence = list(self._open.evidence)
        snapshot.words = list(self._open.words)
        snapshot.labels = [dict(label) for label in self._open.labels]
        return snapshot

    def finish(self) -> list[SellingPointSegment]:
        """End of stream: close the open segment and return everything not yet returned."""
        if self._open is not None:
            self._close()
        return self.process_iter()

    # --- internals -------------------------------------------------------------------------

    def _must_close(self, result: Classification, sentence: Sentence) -> bool:
        seg = self._open
        assert seg is not None
        return (result.label != seg.label
                or sentence.start_ms - seg.end_ms > self.max_gap_ms
                or sentence.end_ms - seg.start_ms > self.max_segment_ms)

    def _start(self, result: Classification, sentence: Sentence) -> None:
        cls = self.taxonomy.get(result.label)
        self._open = SellingPointSegment(
            label=result.label, label_zh=cls.name_zh, label_en=cls.name_en, category=self.taxonomy.category,
            start_ms=sentence.start_ms, end_ms=sentence.end_ms, text=sentence.text, confidence=result.confidence,
            evidence=list(result.evidence[:_MAX_EVIDENCE]), words=list(sentence.words), sentences=1,
            is_chit_chat=result.label == self.taxonomy.fallback,
        )
        self._confidences = [result.confidence]

    def _extend(self, result: Classification, sentence: Sentence) -> None:
        seg = self._open
        assert seg is not None
        seg.end_ms = max(seg.end_ms, sentence.end_ms)
        seg.text = _join(seg.text, sentence.text)
        seg.words.extend(sentence.words)
        seg.sentences += 1
        for item in result.evidence:
            if item not in seg.evidence and len(seg.evidence) < _MAX_EVIDENCE:
                seg.evidence.append(item)
        self._confidences.append(result.confidence)
        seg.confidence = round(sum(self._confidences) / len(self._confidences), 4)

    def _add_labels(self, labels: list[Any], labelled_text: str, sentence_text: str) -> None:
        """Merge a sentence's labels into the open segment's: per class the best score, its span
        moved to the segment's text (the sentence is its tail)."""
        seg = self._open
        assert seg is not None
        base = len(seg.text) - len(sentence_text)
        by_class = {label["class"]: label for label in seg.labels}
        for label in labels:
            quote = labelled_text[label.start:label.end]
            # the classifier's text is the sentence cleaned (control characters out, cut): find
            # the quote where it is in the segment; the whole sentence when it moved
            at = seg.text.find(quote, base) if quote else -1
            start, end = (at, at + len(quote)) if at >= 0 else (base, len(seg.text))
            if label.cls not in by_class or label.score > by_class[label.cls]["score"]:
                by_class[label.cls] = {"class": label.cls, "score": label.score, "start": start, "end": end}
        seg.labels = sorted(by_class.values(), key=lambda x: (-x["score"], x["start"]))

    def _set_product(self) -> None:
        seg = self._open
        assert seg is not None
        if self._product is not None and not seg.product_id:
            seg.product_id = self._product.product_id
            seg.product_name_zh, seg.product_name_en = self._product.name_zh, self._product.name_en

    def _close(self) -> None:
        assert self._open is not None
        self._ready.append(self._open)
        self._open = None
        self._confidences = []


# --- chat aggregation -------------------------------------------------------------------------

_QUESTION_INTENTS = {"asks_price", "asks_size_fit", "asks_stock_shipping_returns", "asks_attribute"}
_QUESTION_MARK_RE = re.compile(r"[?？]|吗$|呢$")
# particles, punctuation and emoji that do not change what is being asked
_FILLER_RE = re.compile(r"[啊呀呢吧嘛哈哦噢喔~～!！?？。，,.、\s]|主播|请问|想问|问一下|宝宝|姐姐|亲")
_REPEAT_RE = re.compile(r"(.)\1{2,}")
_DIGITS_RE = re.compile(r"\d+(\.\d+)?")


class _DropSymbols(dict):
    """``str.translate`` table deleting symbols and other/control characters (Unicode category
    S* or C*: emoji, symbols); each character's category is looked up once, then cached (up to
    ``_MAX_CACHED`` characters, so spam cycling through all of Unicode cannot grow it)."""

    def __missing__(self, code: int) -> int | None:
        keep = None if unicodedata.category(chr(code)).startswith(("S", "C")) else code
        if len(self) < _MAX_CACHED:
            self[code] = keep
        return keep


_MAX_CACHED = 1 << 15


_DROP_SYMBOLS = _DropSymbols()


def normalise_question(text: str) -> str:
    """The key questions are counted under: '主播，这个多少钱啊？？' -> '这个多少钱'."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.translate(_DROP_SYMBOLS)  # emoji, symbols
    text = _FILLER_RE.sub("", text)
    text = _DIGITS_RE.sub("#", text)  # '160 100斤' and '155 90斤' ask the same thing
    return _REPEAT_RE.sub(r"\1", text)[:64]


def _bigrams(text: str) -> set[str]:
    # text[i] + text[i + 1] for each i; a 1-character text is its own "bigram"
    return set(map(operator.add, text, text[1:])) or {text}


@dataclass
class ChatWindowSummary:
    start_ms: int
    end_ms: int
    messages: int
    sentiment_mix: dict[str, float]
    emotion_mix: dict[str, float]
    intent_counts: dict[str, int]
    #: (representative text, how many asked it), most asked first
    top_questions: list[tuple[str, int]]


class ChatAggregator:
    """Tumbling windows of ``window_ms`` stream time over one room's analysed chat.

    ``add`` returns the windows a message closed (messages arrive in stream order; a late
    message, older than the open window, is counted in the open window rather than dropped).
    Questions cluster by normalised text, then by character-bigram Jaccard similarity
    (``similarity``), so '多少钱' and '这个多少钱啊' count as one question.
    """

    def __init__(self, window_ms: int = 10_000, top_questions: int = 5, similarity: float = 0.5) -> None:
        if window_ms <= 0:
            raise ValueError("window_ms must be positive")
        self.window_ms = window_ms
        self.top_n = top_questions
        self.similarity = similarity
        self._start: int | None = None
        self._reset()

    def _reset(self) -> None:
        self._messages = 0
        self._sentiments: Counter[str] = Counter()
        self._emotions: Counter[str] = Counter()
        self._intents: Counter[str] = Counter()
        # cluster key -> [representative text, count, bigrams]
        self._questions: dict[str, list[Any]] = {}

    def add(self, stream_ms: int, text: str, analysis: ChatAnalysis) -> list[ChatWindowSummary]:
        closed: list[ChatWindowSummary] = []
        if self._start is None:
            self._start = stream_ms - stream_ms % self.window_ms
        while stream_ms >= self._start + self.window_ms:
            summary = self._summary()
            if summary.messages:
                closed.append(summary)  # empty windows are not reported
            self._start += self.window_ms
            self._reset()
        self._messages += 1
        self._sentiments[analysis.sentiment.label] += 1
        self._emotions[analysis.emotion.label] += 1
        self._intents[analysis.intent.label] += 1
        if analysis.intent.label in _QUESTION_INTENTS or _QUESTION_MARK_RE.search(text or ""):
            self._add_question(text)
        return closed

    def flush(self) -> list[ChatWindowSummary]:
        """Close the open window (stream end or idle room); returns it if it has messages."""
        if self._start is None or not self._messages:
            return []
        summary = self._summary()
        self._start += self.window_ms
        self._reset()
        return [summary]

    def to_state(self) -> dict:
        """Plain-data snapshot (JSON-safe) for a processor's changelogged table."""
        return {
            "window_ms": self.window_ms, "top_n": self.top_n, "similarity": self.similarity,
            "start": self._start, "messages": self._messages,
            "sentiments": dict(self._sentiments), "emotions": dict(self._emotions), "intents": dict(self._intents),
            "questions": [[key, entry[0], entry[1]] for key, entry in self._questions.items()],
        }

    @classmethod
    def from_state(cls, state: dict) -> ChatAggregator:
        agg = cls(state["window_ms"], state["top_n"], state["similarity"])
        agg._start = state["start"]
        agg._messages = state["messages"]
        agg._sentiments.update(state["sentiments"])
        agg._emotions.update(state["emotions"])
        agg._intents.update(state["intents"])
        for key, text, count in state["questions"]:
            agg._questions[key] = [text, count, _bigrams(key)]
        return agg

    def _add_question(self, text: str) -> None:
        key = normalise_question(text)
        if not key:
            return
        if key in self._questions:
            self._questions[key][1] += 1
            return
        grams = _bigrams(key)
        n_grams = len(grams)
        for entry in self._questions.values():
            other = entry[2]
            shared = len(grams & other)
            smaller = min(n_grams, len(other))
            # similar (Jaccard; |union| counted, not built), or one question inside the other
            # ('多少钱' in '这个多少钱')
            if shared / (n_grams + len(other) - shared) >= self.similarity or (
                    smaller >= 2 and shared / smaller >= 0.9):
                entry[1] += 1
                return
        self._questions[key] = [text.strip()[:200], 1, grams]

    def _summary(self) -> ChatWindowSummary:
        assert self._start is not None
        total = max(self._messages, 1)
        ranked = sorted(self._questions.values(), key=lambda e: -e[1])[: self.top_n]
        return ChatWindowSummary(
            start_ms=self._start,
            end_ms=self._start + self.window_ms,
            messages=self._messages,
            sentiment_mix={k: round(self._sentiments[k] / total, 4) for k in SENTIMENTS},
            emotion_mix={k: round(self._emotions[k] / total, 4) for k in EMOTION_LABELS},
            intent_counts={k: self._intents[k] for k in INTENTS},
            top_questions=[(e[0], e[1]) for e in ranked],
        )
