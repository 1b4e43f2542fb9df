"""The compliance detector: rule packs applied to the normalised skeleton of a text.

    checker = ComplianceChecker(category="food", platform="douyin")
    checker.check("全.网.最.低，喝了能降血压")
    # [Violation(kind='absolute_term', term='全.网.最.低', start=0, end=7, ...),
    #  Violation(kind='efficacy_claim', term='降血压', ...)]

Per hit, in order: the rule's terms / patterns / homophones match the skeleton; a Latin-letter
edge must sit on a word boundary (``cure`` is not in ``secure``); a hit inside one of the rule's
exception phrases is a harmless sense (第一批, 最新款); a homophone-only hit needs a cue nearby
(加/搜/号 ...); a negation before it in the same clause (不能说, 不敢说) or reported speech
around it (广告法, 违禁词) excuses it unless the rule says ``negatable: false``. Overlapping hits of
one kind keep the most severe, then the longest. Spans index the ORIGINAL text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from models.compliance.normalise import Skeleton, normalise_term, skeleton
from models.compliance.rules import (
    LANGUAGES,
    SEVERITY_RANK,
    ContextCues,
    Rule,
    RulePackError,
    compose,
    platform_language,
)


@dataclass(frozen=True)
class Violation:
    kind: str
    rule: str
    #: the offending phrase as written: ``text[start:end]`` of the checked text
    term: str
    start: int
    end: int
    severity: str
    law: str
    suggestion: str

    def to_dict(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=1)
def _syllable_chars() -> dict[str, str]:
    """pinyin syllable without tone -> every common character (CJK basic block) read that way."""
    from pypinyin.pinyin_dict import pinyin_dict

    table: dict[str, set[str]] = {}
    for code, readings in pinyin_dict.items():
        if not 0x4E00 <= code <= 0x9FFF:
            continue
        for reading in readings.split(","):
            plain = "".join(c for c in unicodedata.normalize("NFD", reading) if not unicodedata.combining(c))
            table.setdefault(plain.strip(), set()).add(chr(code))
    return {syllable: "".join(sorted(chars)) for syllable, chars in table.items()}


def _sounds_like_pattern(spelling: str) -> re.Pattern[str]:
    classes = []
    for syllable in spelling.lower().split():
        chars = _syllable_chars().get(syllable)
        if not chars:
            raise RulePackError(f"sounds_like {spelling!r}: no character is read {syllable!r}")
        classes.append(f"[{re.escape(chars)}]")
    return re.compile("".join(classes))


def _any_of(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    """A pattern whose matches (group 1) are every occurrence of any phrase, overlapping ones
    included (a lookahead matches at each position; the longest phrase wins there)."""
    if not phrases:
        return None
    alternation = "|".join(re.escape(p) for p in sorted(set(phrases), key=len, reverse=True))
    return re.compile(f"(?=({alternation}))")


def _is_letter(c: str) -> bool:
    return "a" <= c <= "z"


def _is_digit(c: str) -> bool:
    return "0" <= c <= "9"


def _same_word_class(a: str, b: str) -> bool:
    return (_is_letter(a) and _is_letter(b)) or (_is_digit(a) and _is_digit(b))


def _on_word_boundary(sk: Skeleton, start: int, end: int) -> bool:
    """A Latin/digit edge of a hit must not continue a word: 'cure' in 'secure' is no hit,
    'top1' in 'top10' neither; Chinese has no word boundaries to respect."""
    s = sk.text
    if start > 0 and not sk.gap_before[start] and _same_word_class(s[start - 1], s[start]):
        return False
    if end < len(s) and not sk.gap_before[end] and _same_word_class(s[end - 1], s[end]):
        return False
    return True


def _occurrences(s: str, needle: str, lo: int = 0, hi: int | None = None):
    """Start offsets of ``needle`` in ``s[lo:hi]``."""
    hi = len(s) if hi is None else hi
    pos = s.find(needle, lo, hi)
    while pos != -1:
        yield pos
        pos = s.find(needle, pos + 1, hi)


class _CompiledRule:
    __slots__ = ("rule", "terms", "patterns", "sounds", "cues", "exceptions", "exception_patterns", "severity_rank",
                 "exceptions_re", "longest_exception")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.terms = tuple(t for t in {normalise_term(t) for t in rule.terms} if t)
        flags = re.IGNORECASE
        self.patterns = tuple(re.compile(p, flags) for p in rule.patterns)
        self.sounds = tuple(_sounds_like_pattern(s) for s in rule.sounds_like)
        self.cues = tuple(t for t in (normalise_term(c) for c in rule.sounds_like_cues) if t)
        self.exceptions = tuple(t for t in (normalise_term(e) for e in rule.exceptions) if t)
        self.exception_patterns = tuple(re.compile(p, flags) for p in rule.exception_patterns)
        self.severity_rank = SEVERITY_RANK[rule.severity]
        self.exceptions_re = _any_of(self.exceptions)
        self.longest_exception = max((len(e) for e in self.exceptions), default=0)


@dataclass
class _Context:
    negation: tuple[str, ...]
    negation_exceptions: tuple[str, ...]
    reported_speech: tuple[str, ...]
    clause_breaks: tuple[str, ...]
    window: int

    def __post_init__(self) -> None:
        self.negation_re = _any_of(self.negation)
        self.negation_exceptions_re = _any_of(self.negation_exceptions)
        self.longest_negation_exception = max((len(e) for e in self.negation_exceptions), default=0)
        self.reported_speech_re = _any_of(self.reported_speech)
        self.clause_breaks_re = _any_of(self.clause_breaks)


def _merge_context(cues: list[ContextCues]) -> _Context:
    def norm(items):
        return tuple(dict.fromkeys(t for t in (normalise_term(i) for i in items) if t))

    return _Context(
        negation=norm(c for cue in cues for c in cue.negation),
        negation_exceptions=norm(c for cue in cues for c in cue.negation_exceptions),
        reported_speech=norm(c for cue in cues for c in cue.reported_speech),
        clause_breaks=norm(c for cue in cues for c in cue.clause_breaks),
        window=max((cue.window for cue in cues), default=8),
    )


class ComplianceChecker:
    """Advertising-law and platform-rule checks for one room (category, platform, language).

    Pure: no I/O after construction. Raises ``RulePackError`` for an unknown category or
    platform (the message lists the known ones) or a malformed rule file.
    """

    def __init__(
        self,
        category: str | None = None,
        platform: str | None = None,
        language: str | None = None,
        rules_dir: Path | str | None = None,
    ) -> None:
        if language is None:
            language = platform_language(platform, rules_dir) if platform else "zh"
        if language not in LANGUAGES:
            raise RulePackError(f"unknown language {language!r}; known languages: {', '.join(LANGUAGES)}")
        self.category, self.platform, self.language = category, platform, language
        packs, rules = compose(category, platform, rules_dir)
        self.packs = packs
        self.rules: list[Rule] = [r for r in rules.values() if r.language == language]
        self._compiled = [_CompiledRule(r) for r in self.rules]
        # first character of a term -> [(term, rule)], so a text only tries terms that can start in it
        self._by_first_char: dict[str, list[tuple[str, _CompiledRule]]] = {}
        for compiled in self._compiled:
            for term in compiled.terms:
                self._by_first_char.setdefault(term[0], []).append((term, compiled))
        self._with_patterns = [c for c in self._compiled if c.patterns]
        self._with_sounds = [c for c in self._compiled if c.sounds]
        self._context = _merge_context([p.context[language] for p in packs if language in p.context])

    # ------------------------------------------------------------------ public

    def check(self, text: str) -> list[Violation]:
        if not text:
            return []
        sk = skeleton(text)
        s = sk.text
        hits: list[tuple[int, int, _CompiledRule, bool]] = []  # start, end, rule, homophone-only
        for ch in set(s):
            for term, compiled in self._by_first_char.get(ch, ()):
                for pos in _occurrences(s, term):
                    hits.append((pos, pos + len(term), compiled, False))
        for compiled in self._with_patterns:
            target = sk.digits if compiled.rule.match_on == "digits" else s
            for pattern in compiled.patterns:
                for m in pattern.finditer(target):
                    if m.end() > m.start():
                        hits.append((m.start(), m.end(), compiled, False))
        for compiled in self._with_sounds:
            for pattern in compiled.sounds:
                for m in pattern.finditer(s):
                    hits.append((m.start(), m.end(), compiled, m.group() not in compiled.terms))

        accepted = [h for h in hits if self._stands(sk, *h)]
        return self._resolve(sk, accepted)

    # ------------------------------------------------------------------ filters

    def _stands(self, sk: Skeleton, start: int, end: int, compiled: _CompiledRule, homophone_only: bool) -> bool:
        if not _on_word_boundary(sk, start, end):
            return False
        if sk.clause[start] != sk.clause[end - 1]:  # "沟通，便" is not 通便: no hit across a clause break
            return False
        if self._is_exception(sk.text, start, end, compiled):
            return False
        if homophone_only and not self._has_cue(sk, start, end, compiled):
            return False
        if compiled.rule.negatable and self._excused_by_context(sk, start, end):
            return False
        return True

    @staticmethod
    def _is_exception(s: str, start: int, end: int, compiled: _CompiledRule) -> bool:
        if compiled.exceptions_re is not None:
            reach = compiled.longest_exception - 1
            for m in compiled.exceptions_re.finditer(s, max(0, start - reach), min(len(s), end + reach)):
                if m.start(1) < end and m.end(1) > start:
                    return True
        for pattern in compiled.exception_patterns:
            # a window around the hit: a whole-text scan per hit would be quadratic on long lines
            for m in pattern.finditer(s, max(0, start - 50), min(len(s), end + 50)):
                if m.start() < end and m.end() > start:
                    return True
        return False

    @staticmethod
    def _clause_bounds(sk: Skeleton, start: int, end: int, reach: int) -> tuple[int, int]:
        clause = sk.clause[start]
        lo = start
        while lo > 0 and start - lo < reach and sk.clause[lo - 1] == clause:
            lo -= 1
        hi = end
        while hi < len(sk.text) and hi - end < reach and sk.clause[hi] == clause:
            hi += 1
        return lo, hi

    def _has_cue(self, sk: Skeleton, start: int, end: int, compiled: _CompiledRule) -> bool:
        lo, hi = self._clause_bounds(sk, start, end, compiled.rule.cue_window)
        s = sk.text
        return any(cue in s[lo:start] or cue in s[end:hi] for cue in compiled.cues)

    @staticmethod
    def _matches(sk: Skeleton, pattern: re.Pattern[str] | None, lo: int, hi: int):
        """(start, end) of each phrase of an ``_any_of`` pattern wholly inside [lo, hi), on word boundaries."""
        if pattern is None or hi <= lo:
            return
        for m in pattern.finditer(sk.text, lo, hi):
            if _on_word_boundary(sk, m.start(1), m.end(1)):
                yield m.start(1), m.end(1)

    def _excused_by_context(self, sk: Skeleton, start: int, end: int) -> bool:
        ctx = self._context
        lo, hi = self._clause_bounds(sk, start, end, ctx.window)
        # 但是 / but start a fresh claim: "不敢说第一，但是最好" still claims 最好
        for _, break_end in self._matches(sk, ctx.clause_breaks_re, lo, start):
            lo = max(lo, break_end)
        for _ in self._matches(sk, ctx.reported_speech_re, lo, start):
            return True
        for _ in self._matches(sk, ctx.reported_speech_re, end, hi):
            return True
        for cue_start, cue_end in self._matches(sk, ctx.negation_re, lo, start):
            if not self._negation_excepted(sk.text, cue_start, cue_end):
                return True
        return False

    def _negation_excepted(self, s: str, cue_start: int, cue_end: int) -> bool:
        """True when the negation word is part of a phrase that does not negate (不要错过)."""
        ctx = self._context
        if ctx.negation_exceptions_re is None:
            return False
        reach = ctx.longest_negation_exception
        for m in ctx.negation_exceptions_re.finditer(s, max(0, cue_start - reach), min(len(s), cue_end + reach)):
            if m.start(1) <= cue_start and m.end(1) >= cue_end:
                return True
        return False

    # ------------------------------------------------------------------ output

    @staticmethod
    def _resolve(sk: Skeleton, hits: list[tuple[int, int, _CompiledRule, bool]]) -> list[Violation]:
        """One violation per phrase and kind: overlapping hits of a kind merge into one span
        (全网最低 + 最低价 -> 全网最低价) reported under the most severe, then longest, rule."""
        merged: list[tuple[int, int, _CompiledRule]] = []
        by_kind: dict[str, list[tuple[int, int, _CompiledRule]]] = {}
        for start, end, compiled, _ in hits:
            by_kind.setdefault(compiled.rule.kind, []).append((start, end, compiled))
        for group in by_kind.values():
            group.sort(key=lambda h: h[0])
            start, end, best = group[0]
            best_key = (best.severity_rank, end - start)
            for h_start, h_end, compiled in group[1:]:
                key = (compiled.severity_rank, h_end - h_start)
                if h_start < end:  # overlaps the current phrase: extend it, keep the strongest rule
                    end = max(end, h_end)
                    if key > best_key:
                        best, best_key = compiled, key
                else:
                    merged.append((start, end, best))
                    start, end, best, best_key = h_start, h_end, compiled, key
            merged.append((start, end, best))
        merged.sort(key=lambda h: (h[0], h[1], h[2].rule.kind))
        out = []
        for start, end, compiled in merged:
            o_start, o_end = sk.span(start, end)
            rule = compiled.rule
            out.append(Violation(rule.kind, rule.id, sk.original[o_start:o_end], o_start, o_end,
                                 rule.severity, rule.law, rule.suggestion))
        return out
