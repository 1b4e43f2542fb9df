"""Clip policy: snapping (property-tested), duration limits, merging, overlaps, ranking, titles,
and the SRT / WebVTT writers."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.clips import (
    ClipPlanner,
    ClipPolicy,
    ClipPolicyConfig,
    Cue,
    CutSpan,
    SegmentSpan,
    Sentence,
    TimedWord,
    group_words,
    key_phrases,
    sentences_from_words,
    to_srt,
    to_webvtt,
)
from models.clips.base import check_clip_planner

LABELS = {"fabric_material": ("面料材质", "Fabric / material"), "price": {"zh": "价格优惠", "en": "Price"}}


def timeline(spec: list[tuple[int, int]], start_ms: int = 0, word_ms: int = 400, gap_ms: int = 1500, text: str = "w") -> list[Sentence]:
    """Sentences from (n_words, extra pause before it) pairs; words are word_ms long, 100 ms apart."""
    sentences, t = [], start_ms
    for i, (n_words, pause) in enumerate(spec):
        t += pause
        words = tuple(TimedWord(t + k * (word_ms + 100), t + k * (word_ms + 100) + word_ms, f"{text}{i}_{k}") for k in range(n_words))
        sentences.append(Sentence(words[0].start_ms, words[-1].end_ms, " ".join(w.text for w in words), words))
        t = words[-1].end_ms + gap_ms
    return sentences


def seg(label: str, sentence_range: list[Sentence], confidence: float = 0.9, sid: str = "", shrink_ms: int = 0) -> SegmentSpan:
    return SegmentSpan(label, sentence_range[0].first_ms + shrink_ms, sentence_range[-1].last_ms - shrink_ms, "", confidence, (), sid)


# ------------------------------------------------------------------ snapping (property)


@st.composite
def word_timelines(draw):
    """Random non-overlapping words grouped into sentences, plus random labelled segments."""
    n_sentences = draw(st.integers(1, 12))
    sentences, t = [], draw(st.integers(0, 2000))
    for _ in range(n_sentences):
        words = []
        for k in range(draw(st.integers(1, 10))):
            if k:
                t += draw(st.integers(0, 400))  # pause inside a sentence
            dur = draw(st.integers(1, 900))
            words.append(TimedWord(t, t + dur, "x"))
            t += dur
        sentences.append(Sentence(words[0].start_ms, words[-1].end_ms, "", tuple(words)))
        t += draw(st.integers(0, 4000))  # pause between sentences (may be 0: touching)
    end = t
    segments = []
    for _ in range(draw(st.integers(1, 8))):
        a = draw(st.integers(0, end))
        b = draw(st.integers(a, end))
        label = draw(st.sampled_from(["price", "fabric_material", "chit_chat"]))
        segments.append(SegmentSpan(label, a, b, "", draw(st.floats(0.1, 1.0))))
    return sentences, segments


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=word_timelines(), pad_s=st.sampled_from([0.0, 0.3, 1.0]), min_s=st.sampled_from([0.5, 3.0]))
def test_snapping_never_cuts_mid_word_or_mid_sentence(data, pad_s, min_s):
    sentences, segments = data
    cfg = ClipPolicyConfig(min_s=min_s, max_s=12.0, pad_s=pad_s, ideal_min_s=min_s, ideal_max_s=10.0)
    plans = ClipPolicy(cfg).plan("room", segments, sentences)
    all_words = [w for s in sentences for w in s.words]
    for p in plans:
        assert p.label != "chit_chat"
        assert cfg.min_s * 1000 <= p.end_ms - p.start_ms <= cfg.max_s * 1000
        for w in all_words:  # never inside a word
            assert not (w.start_ms < p.start_ms < w.end_ms), (p, w)
            assert not (w.start_ms < p.end_ms < w.end_ms), (p, w)
        for s in sentences:  # whole sentences only
            inside = p.start_ms <= s.first_ms and s.last_ms <= p.end_ms
            outside = s.last_ms <= p.start_ms or s.first_ms >= p.end_ms
            assert inside or outside, (p, s)
        assert p.words == tuple(w for w in all_words if p.start_ms <= w.start_ms and w.end_ms <= p.end_ms)
        assert p.start_ms >= 0
    for a in plans:  # no two clips share a word
        for b in plans:
            if a is not b:
                assert not (set(a.words) & set(b.words))


def test_padding_stops_at_the_neighbouring_sentences_words():
    sents = timeline([(4, 0), (4, 0), (4, 0)], gap_ms=200)  # 200 ms between sentences
    plans = ClipPolicy(ClipPolicyConfig(min_s=1, pad_s=0.5, ideal_min_s=1)).plan("r", [seg("price", sents[1:2])], sents)
    (p,) = plans
    assert p.start_ms == sents[0].last_ms  # not 500 ms before: that would be inside sentence 0
    assert p.end_ms == sents[2].first_ms
    wide = timeline([(4, 0), (4, 0), (4, 0)], gap_ms=3000)
    (p,) = ClipPolicy(ClipPolicyConfig(min_s=1, pad_s=0.5, ideal_min_s=1)).plan("r", [seg("price", wide[1:2])], wide)
    assert (p.start_ms, p.end_ms) == (wide[1].first_ms - 500, wide[1].last_ms + 500)


def test_segment_edges_inside_sentences_snap_out_to_whole_sentences():
    sents = timeline([(6, 0), (6, 0), (6, 0)])
    # segment starts 200 ms into sentence 0's second half and ends mid sentence 1
    s = SegmentSpan("price", sents[0].first_ms + 200, sents[1].last_ms - 800, "", 0.9)
    (p,) = ClipPolicy(ClipPolicyConfig(pad_s=0)).plan("r", [s], sents)
    assert (p.start_ms, p.end_ms) == (sents[0].first_ms, sents[1].last_ms)


def test_sentences_from_words_split_at_punctuation_and_pauses():
    words = [(0, 300, "Hello"), (300, 600, "there."), (700, 900, "This"), (900, 1200, "is"), (3000, 3300, "silk")]
    sents = sentences_from_words(words, gap_ms=800)
    assert [s.text for s in sents] == ["Hello there.", "This is", "silk"]


# ------------------------------------------------------------------ durations


def test_too_long_is_shortened_at_a_sentence_boundary():
    sents = timeline([(16, 0)] * 10)  # ~8 s sentences, ~9.5 s apart
    cfg = ClipPolicyConfig(max_s=30, pad_s=0.3)
    (p,), dropped = ClipPolicy(cfg).plan_detailed("r", [seg("price", sents)], sents)
    assert p.end_ms - p.start_ms <= 30_000
    assert p.start_ms == sents[0].first_ms - 300 or p.start_ms == 0
    assert any(p.end_ms == s.last_ms + 300 for s in sents)  # ends right after a whole sentence
    assert p.end_ms - p.start_ms > 30_000 - 9_600  # and kept as many sentences as fit
    assert "shortened at a sentence boundary" in p.reason


def test_a_single_sentence_longer_than_max_is_dropped_not_cut_mid_sentence():
    sents = timeline([(30, 0)])  # ~15 s
    plans, dropped = ClipPolicy(ClipPolicyConfig(min_s=1, max_s=10, ideal_min_s=2, ideal_max_s=8)).plan_detailed("r", [seg("price", sents)], sents)
    assert plans == []
    assert "longer than max_s" in dropped[0].reason


def test_too_short_takes_in_the_following_sentence_or_is_dropped():
    close = timeline([(2, 0), (4, 0)], gap_ms=500)
    (p,) = ClipPolicy(ClipPolicyConfig(min_s=3, pad_s=0)).plan("r", [seg("price", close[:1])], close)
    assert (p.start_ms, p.end_ms) == (close[0].first_ms, close[1].last_ms)
    assert "extended to the minimum duration" in p.reason

    far = timeline([(2, 0), (4, 0)], gap_ms=20_000)
    plans, dropped = ClipPolicy(ClipPolicyConfig(min_s=3, pad_s=0)).plan_detailed("r", [seg("price", far[:1])], far)
    assert plans == []
    assert "shorter than min_s" in dropped[0].reason


# ------------------------------------------------------------------ merging, ignoring, overlaps


def test_neighbours_of_one_selling_point_merge_within_the_gap():
    sents = timeline([(8, 0), (8, 0), (8, 0)], gap_ms=2000)
    segs = [seg("price", sents[0:1], sid="a"), seg("price", sents[1:2], sid="b")]
    (p,) = ClipPolicy(ClipPolicyConfig(merge_gap_s=3)).plan("r", segs, sents)
    assert p.segment_ids == ("a", "b")
    assert p.start_ms <= sents[0].first_ms and p.end_ms >= sents[1].last_ms
    # gap larger than merge_gap_s -> two clips
    plans = ClipPolicy(ClipPolicyConfig(merge_gap_s=1)).plan("r", segs, sents)
    assert sorted(p.segment_ids for p in plans) == [("a",), ("b",)]
    # another selling point in between blocks the merge
    segs3 = [seg("price", sents[0:1], sid="a"), seg("fabric_material", sents[1:2], sid="f"), seg("price", sents[2:3], sid="b")]
    plans = ClipPolicy(ClipPolicyConfig(merge_gap_s=10)).plan("r", segs3, sents)
    assert sorted(p.segment_ids for p in plans) == [("a",), ("b",), ("f",)]


def test_chit_chat_and_low_confidence_are_ignored():
    sents = timeline([(8, 0), (8, 0)])
    segs = [seg("chit_chat", sents[0:1]), seg("price", sents[1:2], confidence=0.2)]
    plans, dropped = ClipPolicy(ClipPolicyConfig(min_confidence=0.5)).plan_detailed("r", segs, sents)
    assert plans == []
    assert [d.label for d in dropped] == ["price"]


def test_overlapping_clips_keep_the_higher_ranked():
    sents = timeline([(10, 0), (10, 0)])
    segs = [seg("price", sents, confidence=0.6), seg("fabric_material", sents[1:], confidence=0.9)]
    plans, dropped = ClipPolicy().plan_detailed("r", segs, sents)
    assert [p.label for p in plans] == ["fabric_material"]
    assert "overlaps higher-ranked clip fabric_material" in dropped[0].reason


def test_overlap_only_in_padding_is_trimmed_not_dropped():
    sents = timeline([(10, 0), (10, 0)], gap_ms=400)
    segs = [seg("price", sents[:1], confidence=0.6), seg("fabric_material", sents[1:], confidence=0.9)]
    plans = ClipPolicy(ClipPolicyConfig(pad_s=0.3)).plan("r", segs, sents)
    assert len(plans) == 2
    first, second = sorted(plans, key=lambda p: p.start_ms)
    assert first.end_ms <= second.start_ms


def test_already_cut_clip_wins_unless_outranked():
    sents = timeline([(10, 0), (10, 0)])
    segs = [seg("price", sents, confidence=0.5)]
    strong = CutSpan("cut-1", sents[0].first_ms, sents[0].last_ms, score=0.99)
    assert ClipPolicy().plan("r", segs, sents, already_cut=[strong]) == []
    weak = CutSpan("cut-1", sents[0].first_ms, sents[0].last_ms, score=0.01)
    (p,) = ClipPolicy().plan("r", segs, sents, already_cut=[weak])
    assert p.supersedes == ("cut-1",)


# ------------------------------------------------------------------ ranking, ids, titles


def test_ranking_uses_confidence_highlight_and_duration_fitness():
    sents = timeline([(24, 0), (24, 0), (4, 0)], gap_ms=20_000)  # ~12 s, ~12 s, ~2 s
    cfg = ClipPolicyConfig(min_s=1, ideal_min_s=10, ideal_max_s=45)
    a, b, short = seg("price", sents[0:1], sid="a"), seg("price", sents[1:2], sid="b"), seg("price", sents[2:3], sid="short")
    highlights = [(s.first_ms, s.last_ms, h) for s, h in zip(sents, (0.2, 0.9, 0.2))]
    plans = ClipPolicy(cfg).plan("r", [a, b, short], sents, highlights=highlights)
    assert [p.segment_ids[0] for p in plans] == ["b", "a", "short"]
    assert plans[0].score == pytest.approx(0.9 * 0.9, rel=1e-3)
    # same highlight everywhere: the short (less fit) clip ranks last, by fitness alone
    even = ClipPolicy(cfg).plan("r", [a, short], sents)
    assert [p.segment_ids[0] for p in even] == ["a", "short"]
    assert even[1].score < even[0].score
    # higher confidence ranks higher, all else equal
    hi = ClipPolicy(cfg).plan("r", [seg("price", sents[0:1], 0.95, "hi"), seg("price", sents[1:2], 0.5, "lo")], sents)
    assert [p.segment_ids[0] for p in hi] == ["hi", "lo"]


def test_clip_id_is_deterministic_per_room_label_start():
    sents = timeline([(10, 0)])
    s = [seg("price", sents)]
    one, again, other_room = (ClipPolicy().plan(room, s, sents)[0] for room in ("r1", "r1", "r2"))
    assert one.clip_id == again.clip_id != other_room.clip_id
    relabelled = ClipPolicy().plan("r1", [seg("fabric_material", sents)], sents)[0]
    assert relabelled.clip_id != one.clip_id


def test_titles_in_chinese_and_english():
    zh_words = [TimedWord(i * 500, i * 500 + 450, t) for i, t in enumerate(["这款", "真丝", "连衣裙", "面料", "是", "桑蚕丝", "，", "真丝", "亲肤", "透气", "。"])]
    zh_sents = sentences_from_words(zh_words)
    (p,) = ClipPolicy(ClipPolicyConfig(min_s=1)).plan("r", [SegmentSpan("fabric_material", 0, 5500, "", 0.9)], zh_sents, label_names=LABELS)
    assert p.title.startswith("面料材质｜")
    assert "真丝" in p.key_phrases
    assert p.text == "这款真丝连衣裙面料是桑蚕丝，真丝亲肤透气。"

    en_words = [TimedWord(i * 400, i * 400 + 350, t) for i, t in enumerate("This silk dress is pure mulberry silk and the silk feels cool.".split())]
    en_sents = sentences_from_words(en_words)
    (p,) = ClipPolicy(ClipPolicyConfig(min_s=1)).plan("r", [SegmentSpan("price", 0, 4400, "", 0.9)], en_sents, label_names=LABELS)
    assert p.title.startswith("Price: silk")
    assert p.text == "This silk dress is pure mulberry silk and the silk feels cool."
    # unknown label: readable fallback
    (p,) = ClipPolicy(ClipPolicyConfig(min_s=1)).plan("r", [SegmentSpan("after_sales", 0, 4400, "", 0.9)], en_sents)
    assert p.title.startswith("after sales: ")


def test_key_phrases_skip_stop_words_and_numbers():
    assert key_phrases("the the the cotton cotton is really soft", 2) == ["cotton", "soft"]
    assert all(not t.strip("0-9%") == "" for t in key_phrases("100%纯棉面料，100%纯棉，透气", 3))


def test_contract():
    planner = ClipPolicy()
    assert isinstance(planner, ClipPlanner)
    check_clip_planner(planner, min_ms=3000, max_ms=60_000)


# ------------------------------------------------------------------ subtitles

SRT_TIME = r"(\d{2}):(\d{2}):(\d{2}),(\d{3})"
VTT_TIME = r"(\d{2}):(\d{2}):(\d{2})\.(\d{3})"


def _ms(h, m, s, ms) -> int:
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


def parse_srt(text: str) -> list[Cue]:
    cues = []
    blocks = [b for b in text.strip("\n").split("\n\n") if b]
    for i, block in enumerate(blocks, start=1):
        lines = block.split("\n")
        assert lines[0] == str(i)
        m = re.fullmatch(SRT_TIME + " --> " + SRT_TIME, lines[1])
        assert m, lines[1]
        g = m.groups()
        cues.append(Cue(_ms(*g[:4]), _ms(*g[4:]), "\n".join(lines[2:])))
    return cues


def parse_vtt(text: str) -> list[Cue]:
    assert text.startswith("WEBVTT\n\n")
    cues = []
    for block in [b for b in text[len("WEBVTT\n\n"):].strip("\n").split("\n\n") if b]:
        lines = block.split("\n")
        m = re.fullmatch(VTT_TIME + " --> " + VTT_TIME, lines[0])
        assert m, lines[0]
        g = m.groups()
        cues.append(Cue(_ms(*g[:4]), _ms(*g[4:]), "\n".join(lines[1:])))
    return cues


@st.composite
def word_lists(draw):
    t, words = draw(st.integers(0, 10_000_000)), []
    vocab = draw(st.sampled_from([["真丝", "面料", "很", "透气", "。"], ["pure", "silk", "feels", "cool."]]))
    for _ in range(draw(st.integers(1, 40))):
        t += draw(st.integers(0, 1500))
        dur = draw(st.integers(1, 1200))
        words.append(TimedWord(t, t + dur, draw(st.sampled_from(vocab))))
        t += dur
    return words


@settings(max_examples=100, deadline=None)
@given(words=word_lists(), lead_ms=st.integers(0, 5000))
def test_srt_and_vtt_parse_are_monotone_and_match_word_times(words, lead_ms):
    offset = max(0, words[0].start_ms - lead_ms)
    expected = group_words(words)
    for cues in (parse_srt(to_srt(words, offset)), parse_vtt(to_webvtt(words, offset))):
        assert len(cues) == len(expected)
        for c, e in zip(cues, expected):
            assert c.start_ms == e.start_ms - offset and c.end_ms == e.end_ms - offset
            assert c.start_ms <= c.end_ms
        for a, b in zip(cues, cues[1:]):
            assert a.start_ms <= b.start_ms and a.end_ms <= b.start_ms
    # each cue starts at one word's start and ends at one word's end (times minus the clip start)
    starts = {w.start_ms - offset for w in words}
    ends = {w.end_ms - offset for w in words}
    for c in expected:
        assert c.start_ms - offset in starts and c.end_ms - offset in ends
    # every word appears, in order
    assert "".join(c.text.replace(" ", "") for c in expected) == "".join(w.text for w in words)


def test_cue_grouping_limits_and_spacing():
    zh = [TimedWord(i * 300, i * 300 + 250, w) for i, w in enumerate(["这款", "真丝", "连衣裙", "的", "面料", "非常", "透气", "夏天", "穿", "特别", "凉快", "。", "价格", "也", "很", "实惠"])]
    cues = group_words(zh, max_chars=8, max_ms=10_000)
    assert all(len(c.text) <= 8 for c in cues)
    assert all(" " not in c.text for c in cues)
    assert any(c.text.endswith("。") for c in cues)  # sentence end closes a cue
    en = [TimedWord(i * 300, i * 300 + 250, w) for i, w in enumerate([" This", " silk", " dress,", " really", " breathes."])]
    (cue,) = group_words(en, max_chars=42)
    assert cue.text == "This silk dress, really breathes."
    by_time = group_words(en, max_chars=100, max_ms=600)
    assert all(c.end_ms - c.start_ms <= 600 for c in by_time)


def test_srt_exact_format_with_offset():
    words = [TimedWord(3_723_250, 3_723_900, "真丝"), TimedWord(3_723_900, 3_724_500, "面料。")]
    assert to_srt(words, offset_ms=3_600_000) == "1\n00:02:03,250 --> 00:02:04,500\n真丝面料。\n"
    assert to_webvtt([Cue(0, 1500, "a --> b & <i>")], 0) == "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\na --&gt; b &amp; &lt;i>\n"
    assert to_srt([], 0) == "" and to_webvtt([], 0) == "WEBVTT\n\n"


def test_call_outs_and_selling_chatter_are_never_title_keywords_zh_and_en():
    # what a host says most ("宝宝", "扣个", "link") ranks high in TF-IDF but names nothing in the clip
    zh = key_phrases("拍了的宝宝扣个一拍，宝宝们赶紧下单，这条裙子是桑蚕丝面料，重磅真丝，宝宝", 3)
    assert zh and not {"宝宝", "扣个", "一拍", "下单", "赶紧"} & set(zh)
    assert "桑蚕丝" in zh or "真丝" in zh
    en = key_phrases("Guys guys guys, the link is live, this silk dress is really soft, link link", 3)
    assert en and not {"guys", "link", "really"} & set(en) and "silk" in en


def test_the_title_stop_word_file_is_checked_at_load(tmp_path):
    from models.clips.policy import TitleStopwordsError, title_stopwords

    bad = tmp_path / "stop.yaml"
    bad.write_text("zh: [宝宝]\nfr: [bonjour]\n", encoding="utf-8")
    with pytest.raises(TitleStopwordsError, match=r"stop\.yaml: fr: "):
        title_stopwords(bad)
    good = tmp_path / "good.yaml"
    good.write_text("zh: [宝宝]\nen: [Babe]\n", encoding="utf-8")
    zh, en = title_stopwords(good)
    assert zh == {"宝宝"} and "babe" in en and "the" in en
