"""Input hygiene shared by all understanding models: decoding, truncation, normalisation."""

from __future__ import annotations

import re
import unicodedata

#: Longest text a model looks at (characters). Longer input is cut here so that a 10 kB chat
#: message or runaway transcript costs the same as a long sentence (speed budget: 5 ms / 20 ms).
MAX_CHARS = 512

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACE_RE = re.compile(r"\s+")


def safe_text(data: bytes | bytearray | str | None, max_chars: int = MAX_CHARS) -> str:
    """Any input -> a clean, bounded ``str``.

    Bytes are decoded as UTF-8 with U+FFFD for invalid sequences (never raises); control
    characters are dropped, whitespace collapsed, the result cut to ``max_chars``. HTML or
    script in the text stays plain text: nothing here interprets or renders it.
    """
    if data is None:
        return ""
    if isinstance(data, (bytes, bytearray)):
        # cut bytes first so a 10 MB payload is not decoded in full
        text = bytes(data[: max_chars * 4]).decode("utf-8", errors="replace")
    else:
        text = str(data)[: max_chars * 4]
    text = _CONTROL_RE.sub("", text)
    text = _SPACE_RE.sub(" ", text).strip()
    return text[:max_chars]


def normalise(text: str) -> str:
    """Full-width -> half-width, lower case: the form keywords and n-grams are matched in."""
    return unicodedata.normalize("NFKC", text).lower()


_ASCII_WORD_RE = re.compile(r"^[\x00-\x7f]+$")
_HAS_ASCII_RE = re.compile(r"[a-z0-9]")
_BACKREF_RE = re.compile(r"\\[1-9]|\(\?P=")
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")  # the [a-z0-9] of the boundaries


class PhraseMatcher:
    """Finds phrases in normalised text: CJK/emoji as substrings, ASCII on word boundaries,
    ``re:<pattern>`` as a regular expression. Each phrase carries a weight."""

    def __init__(self, weighted_phrases: list[tuple[str, float]]) -> None:
        self._substrings: list[tuple[str, float]] = []
        self._regexes: list[tuple[str, re.Pattern[str], float]] = []
        self._ascii: dict[str, float] = {}
        for phrase, weight in weighted_phrases:
            phrase = str(phrase)  # YAML reads 666 as a number
            if phrase.startswith("re:"):
                self._regexes.append((phrase, re.compile(phrase[3:]), weight))
                continue
            norm = normalise(phrase)
            if _ASCII_WORD_RE.match(norm):
                self._ascii[norm] = max(weight, self._ascii.get(norm, 0.0))
            else:
                self._substrings.append((norm, weight))
        self._index = PhraseIndex([self])

    def find(self, text: str) -> list[tuple[str, float]]:
        """(phrase, weight) for each phrase present in ``text`` (already normalised).

        Order: substring phrases in lexicon order, then ASCII phrases in order of first
        occurrence (at each start only the longest phrase that ends on a word boundary),
        then regular expressions in lexicon order.
        """
        return self._index.find_all(text)[0]

    @staticmethod
    def from_weighted(section: dict | list) -> PhraseMatcher:
        """``{weight: [phrases]}`` or a plain list (weight 1) from the lexicon YAML."""
        if isinstance(section, list):
            return PhraseMatcher([(p, 1.0) for p in section])
        return PhraseMatcher([(p, float(w)) for w, phrases in section.items() for p in phrases])


class PhraseIndex:
    """Several PhraseMatchers answered in one pass: ``find_all(text)[i] == matchers[i].find(text)``.

    Chat analysis asks ~19 matchers about every message; testing each phrase with ``p in text``
    cost more than the models. Here each kind of phrase is looked up once for all matchers:

    - substrings are grouped by first character and only tested (``p in text``, the same test)
      when that character occurs in the text;
    - ASCII phrases: one regex finds the starts where any phrase matches; there the text's
      prefixes of the phrase lengths are looked up in a dict, longest first, per matcher (the
      semantics of the per-matcher lookahead alternation this replaces: one hit per start,
      the longest that ends on a word boundary);
    - regular expressions: each distinct pattern runs once, and only when one alternation of
      all of them matches somewhere (most messages match none).
    """

    def __init__(self, matchers: list[PhraseMatcher]) -> None:
        self.size = len(matchers)
        # substring phrase -> (matcher, rank in its list, phrase, weight); rank restores lexicon order
        by_phrase: dict[str, list[tuple[int, int, str, float]]] = {}
        ascii_phrases: dict[str, list[tuple[int, float]]] = {}
        regexes: dict[str, list[tuple[int, int, str, float]]] = {}
        for m, matcher in enumerate(matchers):
            for rank, (phrase, weight) in enumerate(matcher._substrings):
                by_phrase.setdefault(phrase, []).append((m, rank, phrase, weight))
            for phrase, weight in matcher._ascii.items():
                ascii_phrases.setdefault(phrase, []).append((m, weight))
            for rank, (name, pattern, weight) in enumerate(matcher._regexes):
                regexes.setdefault(pattern.pattern, []).append((m, rank, name, weight))
        # "" is in every text (no first character to index it by)
        self._always = sorted(e for p, entries in by_phrase.items() if not p for e in entries)
        self._by_first: dict[str, list[tuple[str, list[tuple[int, int, str, float]]]]] = {}
        for phrase, entries in by_phrase.items():
            if phrase:
                self._by_first.setdefault(phrase[0], []).append((phrase, entries))
        self._firsts = frozenset(self._by_first)

        self._ascii = ascii_phrases
        # lengths to try at a start, longest first, by the phrase's first character
        self._ascii_lengths = {c: sorted({len(p) for p in ascii_phrases if p[0] == c}, reverse=True)
                               for c in {p[0] for p in ascii_phrases}}
        # where some ASCII phrase starts (the old per-matcher pattern, over all phrases): the
        # per-matcher lookup below only runs at these few positions
        self._ascii_start_re: re.Pattern[str] | None = None
        if ascii_phrases:
            alternatives = "|".join(re.escape(p) for p in sorted(ascii_phrases, key=len, reverse=True))
            self._ascii_start_re = re.compile(r"(?<![a-z0-9])(?=(" + alternatives + r")(?![a-z0-9]))")

        self._regexes = [(re.compile(pattern), entries) for pattern, entries in regexes.items()]
        # a back-reference (\\1) means another group inside one alternation of all patterns:
        # those patterns stay out of the prefilter and always run
        self._always_regexes = [(p, e) for p, e in self._regexes if _BACKREF_RE.search(p.pattern)]
        prefiltered = [p for p in regexes if not _BACKREF_RE.search(p)]
        self._any_regex: re.Pattern[str] | None = None
        if prefiltered:
            try:
                self._any_regex = re.compile("|".join(f"(?:{p})" for p in prefiltered))
            except re.error:  # e.g. inline flags: no prefilter, every pattern runs
                self._any_regex = None

    def find_all(self, text: str) -> list[list[tuple[str, float]]]:
        hits: list[list[tuple[str, float]]] = [[] for _ in range(self.size)]

        found = [e for c in self._firsts.intersection(text) for p, entries in self._by_first[c]
                 if p in text for e in entries]
        if found or self._always:
            for m, _rank, phrase, weight in sorted(found + self._always):
                hits[m].append((phrase, weight))

        if self._ascii_start_re is not None and _HAS_ASCII_RE.search(text):
            self._find_ascii(text, hits)

        if self._regexes:
            if self._any_regex is None or self._any_regex.search(text):
                candidates = self._regexes
            else:
                candidates = self._always_regexes  # usually empty: most messages match no pattern
            matched = [e for pattern, entries in candidates if pattern.search(text) for e in entries]
            for m, _rank, name, weight in sorted(matched):
                hits[m].append((name, weight))
        return hits

    def _find_ascii(self, text: str, hits: list[list[tuple[str, float]]]) -> None:
        n = len(text)
        seen: set[tuple[int, str]] = set()  # (matcher, phrase): each phrase once, first occurrence
        assert self._ascii_start_re is not None
        for start in self._ascii_start_re.finditer(text):
            i = start.start()
            done: set[int] = set()  # matchers that already have their longest phrase at i
            for length in self._ascii_lengths[text[i]]:
                j = i + length
                if j > n or (j < n and text[j] in _WORD_CHARS):
                    continue
                phrase = text[i:j]
                entries = self._ascii.get(phrase)
                if entries is None:
                    continue
                for m, weight in entries:
                    if m in done:
                        continue
                    done.add(m)
                    if (m, phrase) not in seen:
                        seen.add((m, phrase))
                        hits[m].append((phrase, weight))
