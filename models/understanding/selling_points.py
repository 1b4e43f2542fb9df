"""Multi-label selling points: every class a transcript sentence supports, with its evidence span.

Hosts pack several selling points into one breath ("纯棉的，垂感好，今天到手价99"); one label per
sentence loses all but one. Here the sentence is cut into clauses (at punctuation, and at spaces
between Chinese characters, which is how ASR often marks pauses); the segment classifier scores
the whole sentence and every clause in one encoder batch, and each class gets its best score
over them. A class is listed when that score reaches its threshold (selling_point_thresholds.yaml,
data a user can edit); its span is the clause that scored it best (character offsets into the
cleaned sentence), narrowed to the keyword when a keyword decided it.

    multi = MultiLabelClassifier(SegmentClassifier(load_taxonomy("apparel"), encoder))
    result = multi.classify("纯棉的，垂感好，今天到手价99")
    [(l.cls, l.start, l.end) for l in result.labels]  # fabric_material, drape, price_promotion
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field

from models.data_files import load_yaml_model
from models.understanding.classification import Classification
from models.understanding.segment_classifier import SegmentClassifier
from models.understanding.text import normalise, safe_text

THRESHOLDS_PATH = Path(__file__).resolve().parent / "selling_point_thresholds.yaml"

# clause breaks: sentence punctuation (zh and en), a '.' not inside a number, spaces between CJK
_BREAK_RE = re.compile(r"[，,。！!？?；;、…\n]+|(?<!\d)\.(?!\d)|(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])")
#: a clause shorter than this (in characters, after stripping) is merged into its neighbour: "嗯，"
MIN_CLAUSE_CHARS = 2
#: at most this many clauses are scored per sentence (bounded encoder cost on a run-on sentence)
MAX_CLAUSES = 12


class _ThresholdFile(BaseModel):
    model_config = {"extra": "forbid"}

    default: float = Field(ge=0.0, le=1.0)
    classes: dict[str, float] = Field(default_factory=dict)


@dataclass(frozen=True)
class Thresholds:
    default: float
    classes: dict[str, float]

    def of(self, cls: str) -> float:
        return self.classes.get(cls, self.default)


class ThresholdsError(ValueError):
    """The thresholds file is missing or malformed (the message names the file and field)."""


@lru_cache(maxsize=8)
def load_thresholds(path: Path | str = THRESHOLDS_PATH) -> Thresholds:
    path = Path(path)
    parsed = load_yaml_model(path, _ThresholdFile, ThresholdsError)
    for name, value in parsed.classes.items():
        if not 0.0 <= value <= 1.0:
            raise ThresholdsError(f"{path}: classes.{name}: must be between 0 and 1, got {value}")
    return Thresholds(parsed.default, dict(parsed.classes))


@dataclass(frozen=True)
class SpanLabel:
    """One selling point in a sentence: ``text[start:end]`` is its evidence."""

    cls: str
    score: float
    start: int
    end: int

    def to_dict(self) -> dict:
        out = asdict(self)
        out["class"] = out.pop("cls")
        return {"class": out["class"], "score": out["score"], "start": out["start"], "end": out["end"]}


@dataclass(frozen=True)
class MultiLabelResult:
    text: str  # the cleaned sentence the offsets refer to
    labels: list[SpanLabel]  # best first; empty when nothing reaches its threshold
    sentence: Classification  # the whole sentence's single-label result (scores, evidence)

    @property
    def label(self) -> str:
        """The top class, or the taxonomy's fallback (chit-chat) when no class is listed."""
        return self.labels[0].cls if self.labels else self.sentence.label

    @property
    def confidence(self) -> float:
        return self.labels[0].score if self.labels else self.sentence.confidence


def split_clauses(text: str, max_clauses: int = MAX_CLAUSES) -> list[tuple[int, int]]:
    """(start, end) of each clause of ``text``, whitespace trimmed; tiny ones join the previous."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in list(_BREAK_RE.finditer(text)) + [None]:
        end = m.start() if m else len(text)
        start = pos
        while start < end and text[start].isspace():
            start += 1
        stop = end
        while stop > start and text[stop - 1].isspace():
            stop -= 1
        if stop > start:
            if spans and stop - start < MIN_CLAUSE_CHARS:
                spans[-1] = (spans[-1][0], stop)
            else:
                spans.append((start, stop))
        pos = m.end() if m else len(text)
    if len(spans) > max_clauses:  # keep the first ones whole, the rest as one tail clause
        spans = spans[:max_clauses - 1] + [(spans[max_clauses - 1][0], spans[-1][1])]
    return spans


class MultiLabelClassifier:
    """Every selling-point class of a sentence above its threshold, with score and span."""

    def __init__(self, classifier: SegmentClassifier, thresholds: Thresholds | None = None) -> None:
        self.classifier = classifier
        self.thresholds = thresholds or load_thresholds()
        self.fallback = classifier.taxonomy.fallback

    def classify(self, text: str) -> MultiLabelResult:
        return self.classify_many([text])[0]

    def classify_many(self, texts: list[str]) -> list[MultiLabelResult]:
        clean = [safe_text(t, self.classifier.max_chars) for t in texts]
        clause_spans = [split_clauses(t) if t else [] for t in clean]
        # one batch: each sentence, then its clauses when there is more than one
        batch: list[str] = []
        owners: list[tuple[int, tuple[int, int] | None]] = []
        for i, text in enumerate(clean):
            batch.append(text)
            owners.append((i, None))
            if len(clause_spans[i]) > 1:
                for span in clause_spans[i]:
                    batch.append(text[span[0]:span[1]])
                    owners.append((i, span))
        results = self.classifier.classify_many(batch)
        sentence: list[Classification | None] = [None] * len(clean)
        parts: list[list[tuple[tuple[int, int], Classification]]] = [[] for _ in clean]
        for (i, span), result in zip(owners, results):
            if span is None:
                sentence[i] = result
            else:
                parts[i].append((span, result))
        return [self._decide(clean[i], sentence[i], parts[i]) for i in range(len(clean))]

    def _decide(self, text: str, whole: Classification, parts: list) -> MultiLabelResult:
        labels: list[SpanLabel] = []
        full_span = (0, len(text))
        for cls in self.classifier.labels:
            if cls == self.fallback:
                continue
            # a class counts where it beats chit-chat: "欢迎新进来的宝宝们" is a greeting first
            best_score, best_span = -1.0, full_span
            if whole.scores[cls] > whole.scores[self.fallback]:
                best_score = whole.scores[cls]
            for span, result in parts:
                score = result.scores[cls]
                if score > result.scores[self.fallback] and (
                        score > best_score or (best_span == full_span and score >= best_score)):
                    best_score, best_span = score, span
            if best_score >= self.thresholds.of(cls):
                start, end = self._narrow_to_keyword(text, cls, best_span)
                labels.append(SpanLabel(cls, round(float(best_score), 4), start, end))
        labels.sort(key=lambda l: (-l.score, l.start))
        return MultiLabelResult(text, labels, whole)

    def _narrow_to_keyword(self, text: str, cls: str, span: tuple[int, int]) -> tuple[int, int]:
        """The span itself, or (when the class has a keyword in it and normalising kept the
        offsets) from the first keyword to the end of the last one inside the span."""
        start, end = span
        piece = text[start:end]
        norm = normalise(piece)
        if len(norm) != len(piece):  # NFKC changed the length: offsets would not line up
            return span
        hits = self.classifier._lexical.match(norm).get(cls, [])
        found = [(norm.find(k.text), len(k.text)) for k in hits if k.pattern is None and k.text in norm]
        if not found:
            return span
        first = min(p for p, _ in found)
        last = max(p + n for p, n in found)
        # a keyword alone ("棉") is a poor quote: keep the clause when the keyword is most of it
        return (start + first, start + last) if last - first >= 2 else span
