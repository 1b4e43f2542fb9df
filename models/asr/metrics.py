"""Error rates for transcripts: WER (words, English) and CER (characters, Chinese)."""

from __future__ import annotations

from models.asr.guards import normalize_text, to_simplified


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate after lower-casing and stripping punctuation."""
    norm = lambda t: [normalize_text(w) for w in t.split() if normalize_text(w)]  # noqa: E731
    ref = norm(reference)
    return edit_distance(ref, norm(hypothesis)) / max(1, len(ref))


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate on Simplified characters without spaces or punctuation."""
    ref = list(normalize_text(to_simplified(reference)))
    return edit_distance(ref, list(normalize_text(to_simplified(hypothesis)))) / max(1, len(ref))


def read_kaldi_text(path) -> dict[str, str]:
    """``id<TAB or space>words`` per line → {id: words} (words keep their inner spaces)."""
    out: dict[str, str] = {}
    for line in open(path, encoding="utf-8"):
        parts = line.strip().split(maxsplit=1)
        if parts:
            out[parts[0]] = parts[1] if len(parts) > 1 else ""
    return out
