"""Text guards against Whisper's known failure modes (pure functions).

Whisper was trained on subtitled video, so on silence, music or noise it tends to "hear" the
credits of its training data, and greedy decoding can loop. These guards run on every decoded
segment before it reaches a transcript.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

#: Phrases Whisper produces from silence/music (subtitle credits and outros), normalised by
#: ``normalize_text``. A segment that is (nearly) only one of these is dropped.
KNOWN_HALLUCINATIONS: tuple[str, ...] = (
    "请不吝点赞订阅转发打赏支持明镜与点点栏目",
    "字幕由amaraorg社区提供",
    "小编字幕由amaraorg社区提供",
    "中文字幕由amaraorg社区提供",
    "字幕志愿者",
    "字幕by索兰娅",
    "优优独播剧场yoyotelevisionseriesexclusive",
    "谢谢观看",
    "感谢观看",
    "请订阅我的频道",
    "明镜需要您的支持欢迎订阅明镜",
    "thankyouforwatching",
    "thanksforwatching",
    "thankyouverymuchforwatching",
    "pleasesubscribe",
    "pleasesubscribetomychannel",
    "subtitlesbytheamaraorgcommunity",
    "subtitlesbyamaraorg",
    "transcriptionbycastingwordscom",
)
#: Real speech when confident ("thank you" is common in a live room), Whisper's filler on
#: silence when not: dropped only when the decoder itself was unsure (see engine guards).
SUSPICIOUS_WHEN_UNSURE: tuple[str, ...] = ("you", "thankyou", "thankyouverymuch", "bye", "谢谢", "谢谢大家", "嗯", "啊")
#: Fragments that never occur in a live room's speech: drop the whole segment if present.
HALLUCINATION_MARKERS: tuple[str, ...] = ("amaraorg", "明镜与点点", "点赞订阅转发", "字幕由", "castingwords")


def normalize_text(text: str) -> str:
    """Lower case, NFKC, without whitespace and punctuation (for matching and CER/WER)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if not (ch.isspace() or unicodedata.category(ch).startswith(("P", "S"))))


def is_known_hallucination(text: str) -> bool:
    norm = normalize_text(to_simplified(text))
    if not norm:
        return True  # punctuation only ("...", "♪")
    if any(marker in norm for marker in HALLUCINATION_MARKERS):
        return True
    return norm in KNOWN_HALLUCINATIONS


@lru_cache(maxsize=1)
def _t2s():
    import opencc  # opencc-python-reimplemented: pure Python, no native build

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → Simplified Chinese (Whisper base often answers in Traditional)."""
    if not any("\u4e00" <= ch <= "\u9fff" for ch in text):
        return text
    return _t2s().convert(text)


_CJK = re.compile(r"[\u3400-\u9fff]")


def tokens_for_repetition(text: str) -> list[str]:
    """Characters for CJK text, whitespace words otherwise."""
    return list(text) if _CJK.search(text) else text.split()


def cut_repetitions(text: str, max_unit: int = 8, max_repeats: int = 2) -> str:
    """Collapse loops: any run of a 1..max_unit token unit repeated more than ``max_repeats``
    times in a row keeps ``max_repeats`` copies ("好的好的好的好的好的" → "好的好的")."""
    cjk = bool(_CJK.search(text))
    tokens = tokens_for_repetition(text)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        cut = False
        for unit in range(1, max_unit + 1):
            pattern = tokens[i : i + unit]
            if len(pattern) < unit:
                break
            repeats = 1
            while tokens[i + repeats * unit : i + (repeats + 1) * unit] == pattern:
                repeats += 1
            if repeats > max_repeats:
                out.extend(pattern * max_repeats)
                i += repeats * unit
                cut = True
                break
        if not cut:
            out.append(tokens[i])
            i += 1
    return ("" if cjk else " ").join(out)


def has_repetition_loop(text: str, max_repeats: int = 2) -> bool:
    joiner = "" if _CJK.search(text) else " "
    return cut_repetitions(text, max_repeats=max_repeats) != joiner.join(tokens_for_repetition(text))
