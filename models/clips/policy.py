"""Clip policy: which spans of a live room become clips, where exactly they start and end, and
how they rank. Pure: plain values in, :class:`ClipPlan` out; cutting media is the clipper's job.

Steps, in order (:meth:`ClipPolicy.plan`):
 1. drop ignored labels (chit_chat) and low-confidence segments;
 2. merge neighbouring segments of one selling point (same label, gap <= ``merge_gap_s``, nothing
    of another label in between);
 3. snap to whole sentences: the clip covers every transcript sentence the span mostly overlaps,
    so it never starts or ends mid-sentence (sentences are runs of words; their ends are word ends);
 4. duration: longer than ``max_s`` -> drop trailing sentences (shorten at a sentence boundary);
    shorter than ``min_s`` -> add neighbouring sentences that follow closely; else drop;
 5. pad: ``pad_s`` before the first word and after the last, but never into a neighbouring
    sentence's words;
 6. score = confidence x highlight x duration fitness;
 7. overlaps: best first; a clip that overlaps a better (or already cut) clip only in silence is
    trimmed to abut it, one that shares words with it is dropped - unless it outranks an already
    cut clip, which it then ``supersedes``.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol, Sequence, runtime_checkable

from pydantic import BaseModel, ConfigDict

from models.data_files import load_yaml_model

from .subtitles import TimedWord, as_word, is_cjk, join_tokens

_SENTENCE_END = re.compile(r"[。！？!?…]$|(?<![0-9])\.$")


@dataclass(frozen=True)
class Sentence:
    """One transcript sentence (e.g. a final ASR segment). With words, its bounds are its words'."""

    start_ms: int
    end_ms: int
    text: str = ""
    words: tuple[TimedWord, ...] = ()

    @property
    def first_ms(self) -> int:
        return self.words[0].start_ms if self.words else self.start_ms

    @property
    def last_ms(self) -> int:
        return self.words[-1].end_ms if self.words else self.end_ms


@dataclass(frozen=True)
class SegmentSpan:
    """A selling-point segment as the selling-point stage closed it."""

    label: str
    start_ms: int
    end_ms: int
    text: str = ""
    confidence: float = 1.0
    words: tuple[TimedWord, ...] = ()
    segment_id: str = ""


@dataclass(frozen=True)
class CutSpan:
    """A clip that was already cut (and published) for this room."""

    clip_id: str
    start_ms: int
    end_ms: int
    score: float


@dataclass(frozen=True)
class ClipPlan:
    clip_id: str  # sha1(room, label, start_ms)[:16]: the same clip gets the same id on replay
    start_ms: int
    end_ms: int
    label: str
    title: str
    text: str
    words: tuple[TimedWord, ...]  # the words inside [start_ms, end_ms], for subtitles
    score: float
    reason: str
    key_phrases: tuple[str, ...] = ()
    segment_ids: tuple[str, ...] = ()
    supersedes: tuple[str, ...] = ()  # already cut clip ids this better clip replaces

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass(frozen=True)
class DroppedSpan:
    label: str
    start_ms: int
    end_ms: int
    reason: str


@dataclass(frozen=True)
class ClipPolicyConfig:
    min_s: float = 3.0
    max_s: float = 60.0
    pad_s: float = 0.3
    merge_gap_s: float = 5.0
    ideal_min_s: float = 10.0  # duration fitness is 1 inside [ideal_min_s, ideal_max_s]
    ideal_max_s: float = 45.0
    min_confidence: float = 0.0
    ignore_labels: frozenset[str] = frozenset({"chit_chat"})
    missing_highlight: float = 0.5  # highlight factor where no highlight score covers the clip
    key_phrases: int = 3
    sentence_gap_ms: int = 800  # building sentences from bare words: a pause this long ends one

    def __post_init__(self) -> None:
        if not 0 < self.min_s <= self.max_s:
            raise ValueError(f"need 0 < min_s <= max_s, got min_s={self.min_s}, max_s={self.max_s}")
        if self.pad_s < 0 or self.merge_gap_s < 0:
            raise ValueError("pad_s and merge_gap_s must be >= 0")
        if not self.ideal_min_s <= self.ideal_max_s:
            raise ValueError("need ideal_min_s <= ideal_max_s (they are clamped into [min_s, max_s])")


LabelNames = Mapping[str, Any]  # label -> (zh, en) or {"zh": ..., "en": ...}


@runtime_checkable
class ClipPlanner(Protocol):
    def plan(
        self,
        room_id: str,
        segments: Sequence[SegmentSpan],
        sentences: Sequence[Sentence] | None = None,
        highlights: Sequence[tuple[int, int, float]] = (),
        already_cut: Sequence[CutSpan] = (),
        label_names: LabelNames | None = None,
    ) -> list[ClipPlan]: ...


@dataclass
class _Candidate:
    label: str
    start_ms: int  # padded bounds
    end_ms: int
    sentences: list[int]  # indices into the sentence list
    confidence: float
    text: str
    segment_ids: tuple[str, ...]
    score: float = 0.0
    notes: list[str] = field(default_factory=list)
    supersedes: tuple[str, ...] = ()


class ClipPolicy:
    def __init__(self, config: ClipPolicyConfig | None = None) -> None:
        self.config = config or ClipPolicyConfig()

    # ------------------------------------------------------------------ public

    def plan(
        self,
        room_id: str,
        segments: Sequence[SegmentSpan],
        sentences: Sequence[Sentence] | None = None,
        highlights: Sequence[tuple[int, int, float]] = (),
        already_cut: Sequence[CutSpan] = (),
        label_names: LabelNames | None = None,
    ) -> list[ClipPlan]:
        """Clips to cut, best first. See the module docstring for the steps."""
        return self.plan_detailed(room_id, segments, sentences, highlights, already_cut, label_names)[0]

    def plan_detailed(
        self,
        room_id: str,
        segments: Sequence[SegmentSpan],
        sentences: Sequence[Sentence] | None = None,
        highlights: Sequence[tuple[int, int, float]] = (),
        already_cut: Sequence[CutSpan] = (),
        label_names: LabelNames | None = None,
    ) -> tuple[list[ClipPlan], list[DroppedSpan]]:
        """Like :meth:`plan`, plus the spans that were dropped and why."""
        cfg = self.config
        dropped: list[DroppedSpan] = []
        kept = []
        for s in segments:
            if s.label in cfg.ignore_labels:
                continue
            if s.confidence < cfg.min_confidence:
                dropped.append(DroppedSpan(s.label, s.start_ms, s.end_ms, f"confidence {s.confidence:.2f} < {cfg.min_confidence:.2f}"))
                continue
            kept.append(s)
        if sentences is None:
            sentences = sentences_from_words(
                [w for s in segments for w in s.words], gap_ms=cfg.sentence_gap_ms
            )
        sents = sorted(sentences, key=lambda s: (s.first_ms, s.last_ms))
        words = sorted({w for s in sents for w in s.words}, key=lambda w: (w.start_ms, w.end_ms))
        starts = [w.start_ms for w in words]

        bounds = _NeighbourBounds(sents)
        candidates = []
        for group in self._merge_neighbours(kept):
            cand = self._snap(group, sents, bounds, dropped)
            if cand is not None:
                candidates.append(cand)
        for cand in candidates:
            cand.score = self._score(cand, highlights)
        accepted = self._resolve_overlaps(candidates, already_cut, words, starts, dropped)

        plans = [self._to_plan(room_id, c, words, starts, label_names) for c in accepted]
        plans.sort(key=lambda p: (-p.score, p.start_ms))
        return plans, dropped

    # ------------------------------------------------------------------ steps

    def _merge_neighbours(self, segments: Sequence[SegmentSpan]) -> list[list[SegmentSpan]]:
        gap_ms = self.config.merge_gap_s * 1000
        groups: list[list[SegmentSpan]] = []
        for seg in sorted(segments, key=lambda s: (s.start_ms, s.end_ms)):
            last = groups[-1] if groups else None
            if last and last[-1].label == seg.label and seg.start_ms - max(s.end_ms for s in last) <= gap_ms:
                last.append(seg)
            else:
                groups.append([seg])
        return groups

    def _snap(
        self, group: list[SegmentSpan], sents: Sequence[Sentence], bounds: "_NeighbourBounds", dropped: list[DroppedSpan]
    ) -> _Candidate | None:
        cfg = self.config
        label = group[0].label
        a, b = min(s.start_ms for s in group), max(s.end_ms for s in group)
        span_ms = max(1, b - a)
        total = sum(max(1, s.end_ms - s.start_ms) for s in group)
        confidence = sum(s.confidence * max(1, s.end_ms - s.start_ms) for s in group) / total
        text = join_tokens(s.text for s in group)
        seg_ids = tuple(s.segment_id for s in group if s.segment_id)
        notes = [f"merged {len(group)} segments"] if len(group) > 1 else []

        if not sents:
            # No transcript timing at all: keep the span as is (nothing to snap to).
            return _Candidate(label, a, b, [], confidence, text, seg_ids, notes=notes + ["no sentences to snap to"])
        # sentences the span mostly covers (or that mostly cover the span)
        picked = []
        for i, s in enumerate(sents):
            overlap = min(b, s.last_ms) - max(a, s.first_ms)
            if overlap > 0 and overlap >= 0.5 * min(max(1, s.last_ms - s.first_ms), span_ms):
                picked.append(i)
        if not picked:
            dropped.append(DroppedSpan(label, a, b, "no transcript sentence inside the segment"))
            return None
        first, last = picked[0], picked[-1]
        max_ms, min_ms = cfg.max_s * 1000, cfg.min_s * 1000
        pad = int(cfg.pad_s * 1000)

        def padded(i: int, j: int) -> tuple[int, int]:
            return bounds.pad(i, j, pad)

        # too long: drop trailing sentences (a shorter clip that still starts the pitch)
        while last > first and _duration(padded(first, last)) > max_ms:
            last -= 1
            if "shortened at a sentence boundary" not in notes:
                notes.append("shortened at a sentence boundary")
        if _duration(padded(first, last)) > max_ms:
            dropped.append(DroppedSpan(label, a, b, f"a single sentence is longer than max_s={cfg.max_s:g}"))
            return None
        # too short: take in closely following (then preceding) sentences
        gap_ms = cfg.merge_gap_s * 1000
        while _duration(padded(first, last)) < min_ms:
            grown = False
            if last + 1 < len(sents) and sents[last + 1].first_ms - sents[last].last_ms <= gap_ms and _duration(padded(first, last + 1)) <= max_ms:
                last += 1
                grown = True
            elif first > 0 and sents[first].first_ms - sents[first - 1].last_ms <= gap_ms and _duration(padded(first - 1, last)) <= max_ms:
                first -= 1
                grown = True
            if not grown:
                break
            if "extended to the minimum duration" not in notes:
                notes.append("extended to the minimum duration")
        start, end = padded(first, last)
        if end - start < min_ms:
            dropped.append(DroppedSpan(label, start, end, f"{(end - start) / 1000:.1f} s is shorter than min_s={cfg.min_s:g}"))
            return None
        return _Candidate(label, start, end, list(range(first, last + 1)), confidence, text, seg_ids, notes=notes)

    def _score(self, cand: _Candidate, highlights: Sequence[tuple[int, int, float]]) -> float:
        return cand.confidence * self._highlight(cand, highlights) * self._fitness(cand.end_ms - cand.start_ms)

    def _highlight(self, cand: _Candidate, highlights: Sequence[tuple[int, int, float]]) -> float:
        """Overlap-weighted mean highlight score over the clip, or ``missing_highlight``."""
        weight = total = 0.0
        for start, end, score in highlights:
            overlap = min(end, cand.end_ms) - max(start, cand.start_ms)
            if overlap > 0:
                weight += overlap
                total += overlap * score
        return total / weight if weight else self.config.missing_highlight

    def _fitness(self, duration_ms: int) -> float:
        """1 inside the ideal duration range, falling linearly to 0.5 at min_s / max_s."""
        cfg = self.config
        d = duration_ms / 1000
        ideal_min = min(max(cfg.ideal_min_s, cfg.min_s), cfg.max_s)
        ideal_max = min(max(cfg.ideal_max_s, ideal_min), cfg.max_s)
        if d < ideal_min:
            span = ideal_min - cfg.min_s
            return 1.0 if span <= 0 else max(0.5, 0.5 + 0.5 * (d - cfg.min_s) / span)
        if d > ideal_max:
            span = cfg.max_s - ideal_max
            return 1.0 if span <= 0 else max(0.5, 0.5 + 0.5 * (cfg.max_s - d) / span)
        return 1.0

    def _resolve_overlaps(
        self,
        candidates: list[_Candidate],
        already_cut: Sequence[CutSpan],
        words: list[TimedWord],
        starts: list[int],
        dropped: list[DroppedSpan],
    ) -> list[_Candidate]:
        min_ms = self.config.min_s * 1000
        fixed = list(already_cut)
        accepted: list[_Candidate] = []
        for cand in sorted(candidates, key=lambda c: (-c.score, c.start_ms)):
            ok = True
            supersedes: list[str] = []
            for other in [*fixed, *accepted]:
                if not (cand.start_ms < other.end_ms and other.start_ms < cand.end_ms):
                    continue
                lo, hi = max(cand.start_ms, other.start_ms), min(cand.end_ms, other.end_ms)
                if not _words_in(words, starts, lo, hi):
                    # overlap in silence (padding): trim ours to abut theirs
                    if cand.start_ms >= other.start_ms:
                        cand.start_ms = other.end_ms
                    else:
                        cand.end_ms = other.start_ms
                    continue
                if isinstance(other, CutSpan) and cand.score > other.score:
                    supersedes.append(other.clip_id)
                    continue
                ok = False
                who = other.clip_id if isinstance(other, CutSpan) else f"{other.label}@{other.start_ms}"
                dropped.append(DroppedSpan(cand.label, cand.start_ms, cand.end_ms, f"overlaps higher-ranked clip {who}"))
                break
            if ok and cand.end_ms - cand.start_ms < min_ms:
                dropped.append(DroppedSpan(cand.label, cand.start_ms, cand.end_ms, "shorter than min_s after trimming an overlap"))
                ok = False
            if ok:
                if supersedes:
                    cand.notes.append("supersedes " + ", ".join(supersedes))
                    fixed = [f for f in fixed if f.clip_id not in supersedes]
                cand.supersedes = tuple(supersedes)
                accepted.append(cand)
        return accepted

    def _to_plan(
        self,
        room_id: str,
        cand: _Candidate,
        words: list[TimedWord],
        starts: list[int],
        label_names: LabelNames | None,
    ) -> ClipPlan:
        inside = tuple(w for w in _words_in(words, starts, cand.start_ms, cand.end_ms) if w.start_ms >= cand.start_ms and w.end_ms <= cand.end_ms)
        text = join_tokens(w.text for w in inside) if inside else cand.text
        zh = is_cjk(text)
        phrases = tuple(key_phrases(text, self.config.key_phrases))
        name = label_name(cand.label, "zh" if zh else "en", label_names)
        if zh:
            title = name + ("｜" + "·".join(phrases) if phrases else "")
        else:
            title = name + (": " + ", ".join(phrases) if phrases else "")
        digest = hashlib.sha1(f"{room_id}\x1f{cand.label}\x1f{cand.start_ms}".encode()).hexdigest()[:16]
        reason = f"{cand.label} {(cand.end_ms - cand.start_ms) / 1000:.1f} s, score {cand.score:.3f}"
        if cand.notes:
            reason += "; " + "; ".join(cand.notes)
        return ClipPlan(
            clip_id=digest,
            start_ms=cand.start_ms,
            end_ms=cand.end_ms,
            label=cand.label,
            title=title,
            text=text,
            words=inside,
            score=round(cand.score, 6),
            reason=reason,
            key_phrases=phrases,
            segment_ids=cand.segment_ids,
            supersedes=cand.supersedes,
        )


# ---------------------------------------------------------------------- helpers


class _NeighbourBounds:
    """Where padding must stop: the latest word end before sentence i, the earliest word start after it."""

    def __init__(self, sents: Sequence[Sentence]) -> None:
        self.sents = sents
        self.prev_end: list[int | None] = []
        running: int | None = None
        for s in sents:
            self.prev_end.append(running)
            running = s.last_ms if running is None else max(running, s.last_ms)
        self.next_start: list[int | None] = [None] * len(sents)
        running = None
        for i in range(len(sents) - 1, -1, -1):
            self.next_start[i] = running
            running = sents[i].first_ms if running is None else min(running, sents[i].first_ms)

    def pad(self, first: int, last: int, pad: int) -> tuple[int, int]:
        """Pad around sentences first..last, but not into the neighbouring sentences' words."""
        start = self.sents[first].first_ms - pad
        prev_end = self.prev_end[first]
        if prev_end is not None:
            start = max(start, prev_end)
        end = self.sents[last].last_ms + pad
        next_start = self.next_start[last]
        if next_start is not None:
            end = min(end, next_start)
        # overlapping neighbour stamps must never push a bound inside our own words
        return max(0, min(start, self.sents[first].first_ms)), max(end, self.sents[last].last_ms)


def _duration(bounds: tuple[int, int]) -> int:
    return bounds[1] - bounds[0]


def _words_in(words: list[TimedWord], starts: list[int], lo: int, hi: int) -> list[TimedWord]:
    """Words that intersect (lo, hi). Words are sorted by start; stamps are short, so look back a bit."""
    i = bisect.bisect_left(starts, lo)
    out = [w for w in words[max(0, i - 8) : i] if w.end_ms > lo and w.start_ms < hi]
    for w in words[i:]:
        if w.start_ms >= hi:
            break
        if w.end_ms > lo:
            out.append(w)
    return out


def sentences_from_words(words: Iterable[Any], gap_ms: int = 800) -> list[Sentence]:
    """Split a word timeline into sentences at sentence-final punctuation or pauses >= ``gap_ms``."""
    items = sorted({as_word(w) for w in words}, key=lambda w: (w.start_ms, w.end_ms))
    sentences: list[Sentence] = []
    current: list[TimedWord] = []
    for w in items:
        if current and w.start_ms - current[-1].end_ms >= gap_ms:
            sentences.append(_sentence(current))
            current = []
        current.append(w)
        if _SENTENCE_END.search(w.text.strip()):
            sentences.append(_sentence(current))
            current = []
    if current:
        sentences.append(_sentence(current))
    return sentences


def _sentence(words: list[TimedWord]) -> Sentence:
    return Sentence(words[0].start_ms, max(w.end_ms for w in words), join_tokens(w.text for w in words), tuple(words))


def label_name(label: str, language: str, label_names: LabelNames | None) -> str:
    """The display name of a label in ``language`` ("zh"/"en"), falling back to the label itself."""
    entry = (label_names or {}).get(label)
    if isinstance(entry, Mapping):
        name = entry.get(language) or entry.get("en") or entry.get("zh")
    elif isinstance(entry, (tuple, list)) and len(entry) == 2:
        name = entry[0] if language == "zh" else entry[1]
    else:
        name = None
    return str(name) if name else label.replace("_", " ")


_EN_STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before being below between both
    but by can could did do does doing down during each few for from further get got had has have having he her here
    hers him his how i if in into is it its itself just like me more most my no nor not now of off on once only or
    other our ours out over own really right same see she should so some such than that the their them then there
    these they this those through to too under until up very was we well were what when where which while who whom
    why will with would yeah you your yours okay ok guys look let lets gonna wanna one two three""".split()
)
_EN_TOKEN = re.compile(r"[A-Za-z][A-Za-z'\-]+")
_HAS_WORD_CHAR = re.compile(r"[A-Za-z\u4e00-\u9fff]")


TITLE_STOPWORDS_FILE = Path(__file__).with_name("title_stopwords.yaml")


class TitleStopwordsError(ValueError):
    """The title stop-word file cannot be read or is not a mapping of zh/en word lists."""


class TitleStopwords(BaseModel):
    """Words never used as title keywords or tags (``title_stopwords.yaml``; user-editable)."""

    model_config = ConfigDict(extra="forbid")

    zh: list[str] = []
    en: list[str] = []


@lru_cache(maxsize=4)
def title_stopwords(path: Path = TITLE_STOPWORDS_FILE) -> tuple[frozenset[str], frozenset[str]]:
    """(zh, en) stop words for titles: the file's, plus the built-in English ones."""
    words = load_yaml_model(path, TitleStopwords, TitleStopwordsError, what="the title stop-word file")
    return (frozenset(w.strip() for w in words.zh if w.strip()),
            frozenset(w.strip().lower() for w in words.en if w.strip()) | _EN_STOPWORDS)


def key_phrases(text: str, k: int = 3) -> list[str]:
    """Top ``k`` keywords: jieba TF-IDF for Chinese; frequency without stop words for English.
    Call-outs and selling chatter ("宝宝", "扣个", "link") are never keywords
    (``title_stopwords.yaml``)."""
    if k <= 0 or not text.strip():
        return []
    zh_stop, en_stop = title_stopwords()
    if is_cjk(text):
        tags = _jieba_analyse().extract_tags(text, topK=k * 4)
        out = [t for t in tags if len(t) >= 2 and _HAS_WORD_CHAR.search(t) and t not in zh_stop
               and t.lower() not in en_stop]
        return out[:k]
    tokens = [t.lower().strip("'-") for t in _EN_TOKEN.findall(text)]
    tokens = [t for t in tokens if len(t) >= 3 and t not in en_stop]
    counts = Counter(tokens)
    first_seen = {t: i for i, t in reversed(list(enumerate(tokens)))}
    ranked = sorted(counts, key=lambda t: (-counts[t], -len(t) if counts[t] == 1 else 0, first_seen[t]))
    return ranked[:k]


@lru_cache(maxsize=1)
def _jieba_analyse() -> Any:
    import logging

    import jieba
    import jieba.analyse

    jieba.setLogLevel(logging.WARNING)  # its dictionary-loading chatter
    return jieba.analyse
