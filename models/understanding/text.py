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
        # all ASCII phrases in one pass: a lookahead at each start finds overlapping matches,
        # longest first (one regex instead of one per phrase keeps a message well under 1 ms)
        self._ascii_re: re.Pattern[str] | None = None
        if self._ascii:
            alternatives = "|".join(re.escape(p) for p in sorted(self._ascii, key=len, reverse=True))
            self._ascii_re = re.compile(r"(?<![a-z0-9])(?=(" + alternatives + r")(?![a-z0-9]))")

    def find(self, text: str) -> list[tuple[str, float]]:
        """(phrase, weight) for each phrase present in ``text`` (already normalised)."""
        hits = [(p, w) for p, w in self._substrings if p in text]
        if self._ascii_re is not None and _HAS_ASCII_RE.search(text):
            for phrase in dict.fromkeys(m.group(1) for m in self._ascii_re.finditer(text)):
                hits.append((phrase, self._ascii[phrase]))
        hits += [(name, w) for name, pattern, w in self._regexes if pattern.search(text)]
        return hits

    @staticmethod
    def from_weighted(section: dict | list) -> PhraseMatcher:
        """``{weight: [phrases]}`` or a plain list (weight 1) from the lexicon YAML."""
        if isinstance(section, list):
            return PhraseMatcher([(p, 1.0) for p in section])
        return PhraseMatcher([(p, float(w)) for w, phrases in section.items() for p in phrases])
