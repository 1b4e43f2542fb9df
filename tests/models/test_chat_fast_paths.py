"""The chat fast paths against straightforward reference implementations (the code they replaced).

PhraseMatcher/PhraseIndex, the n-gram featuriser, the logits gather, the one-pass
``ChatAnalyzer.analyze`` and the aggregator's question keys must give exactly what the slow
versions give, on lexicon phrases embedded in random text: the output may not move at all.
"""

from __future__ import annotations

import math
import random
import re
import unicodedata
import zlib

import numpy as np
import pytest

from models.understanding.chat import (
    CHAT_MAX_CHARS, LEXICON_PATH, ChatAnalyzer, _round4, hashed_ngrams, load_lexicon,
)
from models.understanding import streaming
from models.understanding.streaming import ChatAggregator, _bigrams, normalise_question
from models.understanding.text import PhraseIndex, PhraseMatcher, normalise, safe_text

# --- references: the straightforward versions ----------------------------------------------

_REF_ASCII_WORD_RE = re.compile(r"^[\x00-\x7f]+$")
_REF_HAS_ASCII_RE = re.compile(r"[a-z0-9]")


class ReferenceMatcher:
    """One ``p in text`` per substring phrase, one lookahead alternation per matcher."""

    def __init__(self, weighted_phrases: list[tuple[str, float]]) -> None:
        self.substrings: list[tuple[str, float]] = []
        self.regexes: list[tuple[str, re.Pattern[str], float]] = []
        self.ascii: dict[str, float] = {}
        for phrase, weight in weighted_phrases:
            phrase = str(phrase)
            if phrase.startswith("re:"):
                self.regexes.append((phrase, re.compile(phrase[3:]), weight))
                continue
            norm = normalise(phrase)
            if _REF_ASCII_WORD_RE.match(norm):
                self.ascii[norm] = max(weight, self.ascii.get(norm, 0.0))
            else:
                self.substrings.append((norm, weight))
        self.ascii_re = None
        if self.ascii:
            alternatives = "|".join(re.escape(p) for p in sorted(self.ascii, key=len, reverse=True))
            self.ascii_re = re.compile(r"(?<![a-z0-9])(?=(" + alternatives + r")(?![a-z0-9]))")

    def find(self, text: str) -> list[tuple[str, float]]:
        hits = [(p, w) for p, w in self.substrings if p in text]
        if self.ascii_re is not None and _REF_HAS_ASCII_RE.search(text):
            for phrase in dict.fromkeys(m.group(1) for m in self.ascii_re.finditer(text)):
                hits.append((phrase, self.ascii[phrase]))
        hits += [(name, w) for name, pattern, w in self.regexes if pattern.search(text)]
        return hits


def reference_hashed_ngrams(text: str, dim: int) -> np.ndarray:
    text = normalise(text)[:CHAT_MAX_CHARS]
    crcs = [zlib.crc32(text[i:i + n].encode("utf-8")) for n in (1, 2, 3) for i in range(len(text) - n + 1)]
    return np.unique(np.asarray(crcs, dtype=np.int64) & (dim - 1))


def reference_normalise_question(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith(("S", "C")))
    text = re.sub(r"[啊呀呢吧嘛哈哦噢喔~～!！?？。，,.、\s]|主播|请问|想问|问一下|宝宝|姐姐|亲", "", text)
    text = re.sub(r"\d+(\.\d+)?", "#", text)
    return re.sub(r"(.)\1{2,}", r"\1", text)[:64]


# --- inputs --------------------------------------------------------------------------------

def _sections() -> dict[str, list[tuple[str, float]]]:
    lexicon = load_lexicon(str(LEXICON_PATH))
    out = {}
    for top in ("sentiment", "emotion", "intent"):
        for name, section in lexicon[top].items():
            if isinstance(section, list):
                out[f"{top}.{name}"] = [(p, 1.0) for p in section]
            else:
                out[f"{top}.{name}"] = [(p, float(w)) for w, phrases in section.items() for p in phrases]
    # edge cases the lexicon does not have (yet): nested and same-start ASCII phrases, pure
    # punctuation, an empty phrase, duplicates, a pattern the regex prefilter cannot join
    out["synthetic"] = [
        ("love", 1.0), ("love it", 2.0), ("it", 0.5), ("lovely", 1.0), ("i", 1.0), ("?", 1.0),
        ("+", 1.0), ("a b", 1.0), ("b c", 1.0), ("666", 1.0), ("6", 1.0), ("好", 1.0), ("好看", 2.0),
        ("看好", 1.0), ("好看", 3.0), ("LOVE", 1.5), ("ｙｙｄｓ", 1.0), ("ｌｏｖｅ", 1.0), ("冲冲", 1.0), ("冲", 0.5),
        ("", 0.1), ("re:(?i)ABC", 1.0), ("re:冲{2}", 1.0), ("re:^$", 1.0), ("x-y", 1.0), ("é", 1.0),
    ]
    return out


def _phrases(sections) -> list[str]:
    phrases = [str(p) for ps in sections.values() for p, _ in ps]  # YAML reads 666 as a number
    return [p[3:] if p.startswith("re:") else p for p in phrases if p]


def _generated(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    phrases = _phrases(_sections())
    pool = ("的了是吗呢好看冲多少钱 abcdefghijklmnopqrstuvwxyz0123456789"
            "ABC  .,!?'-+_:/？！，。😀😍🔥❤️\ufe0f\u200dＡＢｃ１２e\u0301İß㈱ﬁ\t")

    def vary(p: str) -> str:
        r = rng.random()
        if r < 0.15:
            return p.upper()
        if r < 0.25:
            return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in p)
        return p

    out = []
    for _ in range(n):
        parts = ["".join(rng.choice(pool) for _ in range(rng.choice([0, 1, 3])))]
        for _ in range(rng.choice([0, 1, 2, 3])):
            parts.append(vary(rng.choice(phrases)))
            parts.append("".join(rng.choice(pool) for _ in range(rng.choice([0, 0, 1, 2]))))
        if rng.random() < 0.3:  # one phrase inside or overlapping another
            a, b = rng.choice(phrases), rng.choice(phrases)
            j = rng.randint(0, len(a))
            parts.append(a[:j] + b + a[j:])
        out.append("".join(parts))
    return out


INPUTS = _generated(600) + _phrases(_sections()) + [
    "", " ", "love it", "lovely", "love love it", "i love it!", "it", "a b c", "6666", "+1", "?",
    "how much is this?", "HOW MUCH", "好看好看", "冲冲冲", "x-y-z", "abc", "ABC", "é", "e\u0301",
    "多少钱" * 100, "a " * 300, "price?coupon?", "what size?", "is it cotton", "加vx abc123",
]


# --- tests ---------------------------------------------------------------------------------

def test_phrase_matcher_matches_the_reference():
    sections = _sections()
    fast = {name: PhraseMatcher(p) for name, p in sections.items()}
    slow = {name: ReferenceMatcher(p) for name, p in sections.items()}
    index = PhraseIndex(list(fast.values()))
    hits_seen = 0
    for raw in INPUTS:
        text = normalise(raw)
        together = index.find_all(text)
        for i, name in enumerate(sections):
            expected = slow[name].find(text)
            assert fast[name].find(text) == expected, (name, raw)
            assert together[i] == expected, (name, raw)
            hits_seen += len(expected)
    assert hits_seen > 1000  # the inputs do exercise the matchers


@pytest.mark.parametrize("dim", [1 << 10, 1 << 16, 1 << 18])
def test_hashed_ngrams_match_np_unique(dim):
    for text in INPUTS:  # includes > 256 n-grams (the np.unique branch) and non-ASCII
        got, want = hashed_ngrams(text, dim), reference_hashed_ngrams(text, dim)
        assert got.dtype == want.dtype and np.array_equal(got, want), text


@pytest.fixture(scope="module")
def analyzer() -> ChatAnalyzer:
    # the lexicon + n-gram analyzer: its one-pass analyze is the fast path these tests pin
    return ChatAnalyzer(encoder=None)


def test_logits_are_bit_identical_to_the_plain_gather(analyzer):
    rng = np.random.default_rng(0)
    for model in (analyzer.sentiment._model, analyzer.emotion._model):
        for n in list(range(0, 40)) + [100, 255, 256, 257, 500, 765]:
            idx = np.unique(rng.integers(0, model.dim, size=n))
            got, n_got = model._logits(idx)
            if len(idx):
                want = model.weights[:, idx].sum(axis=1) / math.sqrt(len(idx)) + model.bias
            else:
                want = np.zeros(len(model.bias), dtype=np.float32)
            assert n_got == len(idx)
            assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), (n, got, want)


def test_analyze_equals_the_heads_one_by_one(analyzer):
    # analyze shares normalisation, n-grams and lexicon hits between heads; each head's own
    # classify recomputes them (its own PhraseIndex, hashed_ngrams): both must agree exactly
    for raw in INPUTS:
        result = analyzer.analyze(raw)
        text = safe_text(raw, CHAT_MAX_CHARS)
        sentiment, p_positive = analyzer.sentiment.classify_with_probability(text)
        assert result.sentiment == sentiment, raw
        assert result.emotion == analyzer.emotion.classify(text), raw
        assert result.intent == analyzer.intent.classify(text, p_positive), raw


def test_round4_is_round():
    rng = random.Random(3)
    values = [0.0, -0.0, 1.0, 0.5, 0.00005, 0.00015, 0.99995, 1e-300] + [rng.random() for _ in range(2000)]
    for v in values + [-v for v in values]:
        got, want = _round4(v), round(v, 4)
        assert got == want and math.copysign(1, got) == math.copysign(1, want), v


@pytest.mark.parametrize("cache_limit", [1 << 15, 0])  # 0: the symbol table's cache is full
def test_question_keys_and_bigrams_match_the_reference(monkeypatch, cache_limit):
    monkeypatch.setattr(streaming, "_MAX_CACHED", cache_limit)
    monkeypatch.setattr(streaming, "_DROP_SYMBOLS", streaming._DropSymbols())
    for text in INPUTS + ["主播，这个多少钱啊？？", "160 100斤穿什么码😍😍", "\x01\x7f\u200b?", "ｓ码有吗"]:
        assert normalise_question(text) == reference_normalise_question(text), text
        key = normalise_question(text)
        assert _bigrams(key) == ({key[i:i + 2] for i in range(len(key) - 1)} or {key})
    assert len(streaming._DROP_SYMBOLS) <= cache_limit


def test_question_clustering_matches_the_reference():
    # the Jaccard test counts |union| instead of building it: same clusters as before
    rng = random.Random(5)
    questions = ["多少钱", "这个多少钱", "多少钱啊", "什么码", "穿什么码", "有货吗", "还有货吗", "是纯棉吗",
                 "what size", "what size should i get", "how much", "a", "ab", "ba"]
    for similarity in (0.0, 0.3, 0.5, 1.0):
        agg = ChatAggregator(window_ms=10**9, top_questions=50, similarity=similarity)
        ref: dict[str, list] = {}
        for _ in range(300):
            q = rng.choice(questions) + rng.choice(["", "?", "呢", "啊", "1"])
            agg._add_question(q)
            key = reference_normalise_question(q)
            if not key:
                continue
            if key in ref:
                ref[key][1] += 1
                continue
            grams = {key[i:i + 2] for i in range(len(key) - 1)} or {key}
            for entry in ref.values():
                other = entry[2]
                shared = len(grams & other)
                if shared / len(grams | other) >= similarity or (
                        min(len(grams), len(other)) >= 2 and shared / min(len(grams), len(other)) >= 0.9):
                    entry[1] += 1
                    break
            else:
                ref[key] = [q.strip()[:200], 1, grams]
        assert [(k, e[0], e[1]) for k, e in agg._questions.items()] == [(k, e[0], e[1]) for k, e in ref.items()]
