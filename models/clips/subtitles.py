"""Subtitles from word timestamps: group words into cues, write SRT and WebVTT.

Pure text functions: times in the output are relative to the clip start (``offset_ms``), so a cue
shows exactly while its words are spoken in the cut clip. Chinese is written without spaces
between words, English (and mixed Latin tokens) with spaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
_SENTENCE_END = re.compile(r"[。！？!?…]$|(?<![0-9])\.$")


@dataclass(frozen=True)
class TimedWord:
    start_ms: int
    end_ms: int
    text: str


@dataclass(frozen=True)
class Cue:
    start_ms: int
    end_ms: int
    text: str


def as_word(item: Any) -> TimedWord:
    """A word from a TimedWord, a ``(start_ms, end_ms, text)`` tuple, or anything with those attributes
    (e.g. ``streams.schemas.Word``)."""
    if isinstance(item, TimedWord):
        return item
    if isinstance(item, (tuple, list)):
        start, end, text = item[:3]
        return TimedWord(int(start), int(end), str(text))
    return TimedWord(int(item.start_ms), int(item.end_ms), str(item.text))


def is_cjk(text: str) -> bool:
    """True if the text is mostly CJK characters (ignoring spaces and punctuation)."""
    letters = [c for c in text if c.isalnum() or _CJK.match(c)]
    if not letters:
        return False
    return sum(1 for c in letters if _CJK.match(c)) / len(letters) >= 0.3


def join_tokens(tokens: Iterable[str]) -> str:
    """Join word tokens: no space between two CJK tokens (or before punctuation), a space otherwise.
    Whisper's leading spaces on tokens are ignored."""
    out = ""
    for raw in tokens:
        token = raw.strip()
        if not token:
            continue
        if out and _needs_space(out[-1], token[0]):
            out += " "
        out += token
    return out


def _is_closing_punct(ch: str) -> bool:
    return ch in ",.!?;:%)]}'\"，。！？；：、）】》…"


def _needs_space(prev: str, nxt: str) -> bool:
    if _is_closing_punct(nxt):
        return False
    if _CJK.match(prev) or _CJK.match(nxt):
        return False  # zh: no spaces around Chinese characters or full-width punctuation
    return True


def group_words(
    words: Sequence[Any],
    *,
    max_chars: int | None = None,
    max_ms: int = 3000,
    max_gap_ms: int = 800,
) -> list[Cue]:
    """Group words into cues of at most ``max_chars`` characters (default 16 for Chinese, 42
    otherwise) and ``max_ms`` duration; a cue also ends after sentence-final punctuation and
    before a pause longer than ``max_gap_ms``. Cue times are its first word's start and last
    word's end (absolute, like the words)."""
    items = sorted((as_word(w) for w in words), key=lambda w: (w.start_ms, w.end_ms))
    items = [w for w in items if w.text.strip()]
    if not items:
        return []
    if max_chars is None:
        max_chars = 16 if is_cjk("".join(w.text for w in items)) else 42
    cues: list[Cue] = []
    current: list[TimedWord] = []

    def close() -> None:
        if current:
            cues.append(Cue(current[0].start_ms, max(w.end_ms for w in current), join_tokens(w.text for w in current)))
            current.clear()

    for word in items:
        if current:
            candidate = join_tokens([*(w.text for w in current), word.text])
            too_long = len(candidate) > max_chars or word.end_ms - current[0].start_ms > max_ms
            paused = word.start_ms - current[-1].end_ms > max_gap_ms
            if too_long or paused:
                close()
        current.append(word)
        if _SENTENCE_END.search(word.text.strip()):
            close()
    close()
    # Overlapping word stamps must not give overlapping cues: end each cue by the next one's start.
    return [
        Cue(c.start_ms, min(c.end_ms, cues[i + 1].start_ms) if i + 1 < len(cues) else c.end_ms, c.text)
        for i, c in enumerate(cues)
    ]


def _cues(words_or_cues: Sequence[Any], offset_ms: int, max_chars: int | None, max_ms: int) -> list[Cue]:
    if words_or_cues and all(isinstance(c, Cue) for c in words_or_cues):
        cues = list(words_or_cues)
    else:
        cues = group_words(words_or_cues, max_chars=max_chars, max_ms=max_ms)
    out = []
    for c in cues:
        start, end = c.start_ms - offset_ms, c.end_ms - offset_ms
        if end <= 0 and start < 0:
            continue  # entirely before the clip
        out.append(Cue(max(0, start), max(0, end), c.text))
    return out


def _timestamp(ms: int, sep: str) -> str:
    hours, rest = divmod(int(ms), 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{sep}{millis:03d}"


def to_srt(words_or_cues: Sequence[Any], offset_ms: int = 0, *, max_chars: int | None = None, max_ms: int = 3000) -> str:
    """SubRip text: numbered cues, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, times minus ``offset_ms``."""
    blocks = [
        f"{i}\n{_timestamp(c.start_ms, ',')} --> {_timestamp(c.end_ms, ',')}\n{c.text}\n"
        for i, c in enumerate(_cues(words_or_cues, offset_ms, max_chars, max_ms), start=1)
    ]
    return "\n".join(blocks)


def to_webvtt(words_or_cues: Sequence[Any], offset_ms: int = 0, *, max_chars: int | None = None, max_ms: int = 3000) -> str:
    """WebVTT text: ``WEBVTT`` header, ``HH:MM:SS.mmm --> HH:MM:SS.mmm`` cues, times minus ``offset_ms``."""
    blocks = [
        f"{_timestamp(c.start_ms, '.')} --> {_timestamp(c.end_ms, '.')}\n{_vtt_escape(c.text)}\n"
        for c in _cues(words_or_cues, offset_ms, max_chars, max_ms)
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    # "-->" would end the cue timing line's meaning; & and < start markup in WebVTT cue text.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("-->", "--&gt;")
