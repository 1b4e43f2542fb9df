"""The shared contract every clip planner passes (river's check_estimator idea).

tests/models/test_clip_policy.py runs :func:`check_clip_planner` for each implementation.
"""

from __future__ import annotations

from .policy import ClipPlan, ClipPlanner, SegmentSpan, Sentence
from .subtitles import TimedWord


def _sample() -> tuple[list[SegmentSpan], list[Sentence]]:
    sentences, segments, t = [], [], 0
    for i in range(6):
        words = tuple(TimedWord(t + k * 600, t + k * 600 + 500, f"word{i}{k}") for k in range(8))
        sentences.append(Sentence(words[0].start_ms, words[-1].end_ms, " ".join(w.text for w in words), words))
        segments.append(SegmentSpan("price" if i < 3 else "fabric", words[0].start_ms, words[-1].end_ms, "", 0.9, (), f"s{i}"))
        t = words[-1].end_ms + 1500
    segments.append(SegmentSpan("chit_chat", 0, t, "", 1.0))
    return segments, sentences


def check_clip_planner(planner: ClipPlanner, min_ms: int, max_ms: int) -> None:
    """Assert the clip-planner contract on a small fixed timeline."""
    assert isinstance(planner, ClipPlanner)
    assert planner.plan("room", [], []) == []
    segments, sentences = _sample()
    plans = planner.plan("room", segments, sentences)
    assert plans, "the sample yields at least one clip"
    assert plans == planner.plan("room", segments, sentences), "deterministic"
    words = [w for s in sentences for w in s.words]
    for p in plans:
        assert isinstance(p, ClipPlan)
        assert p.label != "chit_chat"
        assert min_ms <= p.end_ms - p.start_ms <= max_ms
        assert all(not (w.start_ms < b < w.end_ms) for w in words for b in (p.start_ms, p.end_ms)), "cut inside a word"
        assert all(p.start_ms <= w.start_ms and w.end_ms <= p.end_ms for w in p.words)
        assert p.title and p.clip_id
    assert [p.score for p in plans] == sorted((p.score for p in plans), reverse=True)
    for a in plans:
        for b in plans:
            if a is not b:
                assert not set(a.words) & set(b.words), "two clips share words"
