"""Error rates for transcripts: WER (words, English) and CER (characters, Chinese).

Both write spoken numbers as digits on both sides first (``models.asr.itn.to_display``), so a
hypothesis "129元" matches a reference "一百二十九元" and "48 hours" matches "forty eight hours".
``normalize_numbers=False`` compares the text as written (the behaviour before 2026-12); every
``livelens bench`` command uses the default (numbers normalised).
"""

from __future__ import annotations

from models.asr.guards import normalize_text, to_simplified
from models.asr.itn import to_display


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(reference: str, hypothesis: str, normalize_numbers: bool = True) -> float:
    """Word error rate after lower-casing and stripping punctuation (and writing numbers as digits)."""
    def words(text: str) -> list[str]:
        text = to_display(text, "en") if normalize_numbers else text
        return [normalize_text(w) for w in text.split() if normalize_text(w)]

    ref = words(reference)
    return edit_distance(ref, words(hypothesis)) / max(1, len(ref))


def cer(reference: str, hypothesis: str, normalize_numbers: bool = True) -> float:
    """Character error rate on Simplified characters without spaces or punctuation (numbers as digits)."""
    def chars(text: str) -> list[str]:
        text = to_simplified(text)
        return list(normalize_text(to_display(text, "zh") if normalize_numbers else text))

    ref = chars(reference)
    return edit_distance(ref, chars(hypothesis)) / max(1, len(ref))


def read_kaldi_text(path) -> dict[str, str]:
    """``id<TAB or space>words`` per line → {id: words} (words keep their inner spaces)."""
    out: dict[str, str] = {}
    for line in open(path, encoding="utf-8"):
        parts = line.strip().split(maxsplit=1)
        if parts:
            out[parts[0]] = parts[1] if len(parts) > 1 else ""
    return out
