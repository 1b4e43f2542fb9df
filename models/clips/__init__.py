"""Clip policy (which spans become clips, snapped to sentence and word boundaries, ranked) and
subtitle writers. Pure: the clipper processor cuts the media.

    policy = ClipPolicy(ClipPolicyConfig(min_s=3, max_s=60, pad_s=0.3))
    for plan in policy.plan(room_id, segments, sentences, highlights, already_cut, label_names):
        srt = to_srt(plan.words, offset_ms=plan.start_ms)
"""

from .policy import (
    ClipPlan,
    ClipPlanner,
    ClipPolicy,
    ClipPolicyConfig,
    CutSpan,
    DroppedSpan,
    SegmentSpan,
    Sentence,
    key_phrases,
    label_name,
    sentences_from_words,
)
from .subtitles import Cue, TimedWord, group_words, join_tokens, to_srt, to_webvtt

__all__ = [
    "ClipPlan", "ClipPlanner", "ClipPolicy", "ClipPolicyConfig", "Cue", "CutSpan", "DroppedSpan", "SegmentSpan",
    "Sentence", "TimedWord", "group_words", "join_tokens", "key_phrases", "label_name", "sentences_from_words",
    "to_srt", "to_webvtt",
]
