"""The recommender processor: rate rules from its own windows over chat and commerce (no
``room_metrics`` hop), redeliveries not counted twice, a room forgotten at its end."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pytest

from processors.recommender import RecommenderProcessor
from processors.shared import SharedChatAnalysis
from processors.testing import ProcessorRun
from models.understanding.chat import ChatAnalyzer
from streams.schemas import ChatMessage, CommerceEvent, FusedWindow, SellingPoint, StreamMarker
from streams.settings import Settings

ROOM = "rec-unit"
WINDOW_MS = 5_000
#: never the shared var/: a room that ends writes its category's attribution prior there
PRIVATE_DATA_DIR = Path(tempfile.mkdtemp(prefix="livelens-rec-unit-"))


class _Recommend:
    """``feed(topic, event, offset)`` runs the recommender on one event; ``emitted`` holds its
    recommendations."""

    def __init__(self):
        settings = Settings(metrics_window_ms=WINDOW_MS, data_dir=PRIVATE_DATA_DIR, _env_file=None)
        self.run = ProcessorRun(RecommenderProcessor(settings, SharedChatAnalysis(ChatAnalyzer())))
        self.emitted = []

    async def feed(self, topic, event, offset):
        outputs = self.run.feed([(topic, event, offset)])
        assert all(o.topic == "recommendations" for o in outputs)
        self.emitted += [o.event for o in outputs]


@pytest.fixture
def recommend():
    assert "room_metrics" not in RecommenderProcessor.inputs  # its own windows: one hop sooner
    return _Recommend()


def viewers(ms: int, count: int, at: float) -> CommerceEvent:
    return CommerceEvent(room_id=ROOM, event_id=f"v{ms}", stream_ms=ms, ingested_at=at, type="viewers", count=count)


def watermark(ms: int) -> StreamMarker:
    return StreamMarker(room_id=ROOM, stream_ms=ms, marker="watermark")


async def test_viewers_falling_yields_a_coupon_from_chat_and_commerce_alone(recommend):
    # viewers 1,000 for two windows, then 400: down 60 % from the peak
    offset = 0
    for ms, count in [(1_000, 1_000), (6_000, 1_000), (11_000, 400)]:
        offset += 1
        await recommend.feed("commerce", viewers(ms, count, at=1_700_000_000.0 + ms / 1000), offset)
        await recommend.feed("chat", watermark(ms + WINDOW_MS - 1_000), offset)
    assert recommend.emitted == []  # the window of 400 is still open
    # the input that closes it: the commerce watermark passing 15 s (chat's already has)
    closing = viewers(16_000, 400, at=1_700_000_042.0)
    await recommend.feed("commerce", closing, offset + 1)
    coupons = [r for r in recommend.emitted if r.rec_type == "launch_coupon"]
    assert len(coupons) == 1, [r.rec_type for r in recommend.emitted]
    # its latency runs from the input that closed the window
    assert coupons[0].ingested_at == closing.ingested_at and coupons[0].stream_ms == closing.stream_ms
    assert coupons[0].evidence["viewers"] == 400 and coupons[0].evidence["viewers_peak"] == 1_000


async def test_a_redelivered_input_is_not_counted_again(recommend):
    # chat falling: 10 messages a window, then 2; a redelivery of the same offsets adds nothing
    offset = 0
    for window, n in [(0, 10), (1, 10), (2, 2)]:
        for i in range(n):
            offset += 1
            ms = window * WINDOW_MS + 100 * i
            msg = ChatMessage(room_id=ROOM, event_id=f"m{offset}", stream_ms=ms, ingested_at=1_700_000_000.0,
                              user_id=f"u{i}", text="666")
            await recommend.feed("chat", msg, offset)
            if window == 2:
                await recommend.feed("chat", msg, offset)  # at-least-once: the same record again
        await recommend.feed("commerce", watermark((window + 1) * WINDOW_MS), window + 1)
    await recommend.feed("chat", watermark(3 * WINDOW_MS), offset + 1)  # closes the window of 2
    bags = [r for r in recommend.emitted if r.rec_type == "launch_lucky_bag"]
    assert len(bags) == 1
    assert bags[0].evidence["chat_rate"] == pytest.approx(2 / (WINDOW_MS / 1000))  # 2, not 4 messages


async def test_a_room_that_ended_starts_again_from_nothing(recommend):
    await recommend.feed("commerce", viewers(1_000, 1_000, at=1_700_000_000.0), 1)
    await recommend.feed("chat", StreamMarker(room_id=ROOM, stream_ms=2_000, marker="end"), 1)
    # the old room's peak is gone: a later low count is no drop
    await recommend.feed("commerce", viewers(6_000, 100, at=1_700_000_001.0), 2)
    await recommend.feed("chat", watermark(20_000), 2)
    await recommend.feed("commerce", watermark(20_000), 3)
    assert [r.rec_type for r in recommend.emitted if r.rec_type in ("launch_coupon", "switch_product")] == []


# ---------------------------------------------------------------- explain next (attribution)

def _live_room(minutes: int, boosted: str, flat: str, questions: dict[int, str] | None = None, seed: int = 7,
               room: str = ROOM, lang: str = "zh") -> list:
    """A room with 1,000 viewers and ~1 order per 5 s; ``boosted`` is explained at minutes 2, 8 and
    14 and triples the orders for the 3 minutes after each; ``flat`` (minutes 5, 11) changes nothing.
    ``questions``: second -> a viewer question sent that second."""
    import numpy as np

    rng = np.random.default_rng(seed)
    boosted_at = (2, 8, 14)
    events = []
    for second in range(minutes * 60):
        ms = second * 1000
        events.append(CommerceEvent(room_id=room, stream_ms=ms, type="viewers", count=1000))
        after = any(0 <= second / 60 - (m + 1) < 3 for m in boosted_at)
        for _ in range(int(rng.poisson((0.6 if after else 0.2)))):
            events.append(CommerceEvent(room_id=room, stream_ms=ms + 300, type="order", count=1, amount=99.0))
        events.append(ChatMessage(room_id=room, stream_ms=ms + 500, user_id=f"u{second % 13}", text="666" if lang == "zh" else "nice"))
        if questions and second in questions:
            events.append(ChatMessage(room_id=room, stream_ms=ms + 700, user_id=f"q{second}", text=questions[second]))
        for label, at in [(boosted, m) for m in boosted_at] + [(flat, 5), (flat, 11)]:
            if second == (at + 1) * 60:  # the segment ran the minute before and closed now
                events.append(SellingPoint(room_id=room, stream_ms=ms, segment_id=f"{label}-{at}", category="apparel",
                                           label=label, start_ms=at * 60_000, end_ms=(at + 1) * 60_000,
                                           text="讲解" if lang == "zh" else "the fabric", confidence=0.9))
        for topic in ("chat", "commerce"):
            events.append((topic, StreamMarker(room_id=room, stream_ms=ms + 999, marker="watermark")))
    return events


def test_explain_next_recommends_the_selling_point_that_converts_with_its_evidence():
    settings = Settings(metrics_window_ms=WINDOW_MS, data_dir=PRIVATE_DATA_DIR, _env_file=None)
    run = ProcessorRun(RecommenderProcessor(settings, SharedChatAnalysis(ChatAnalyzer())))
    outputs = run.feed(_live_room(minutes=22, boosted="fabric_material", flat="style_design"))
    explained = [o.event for o in outputs if o.event.rec_type == "explain_next"]
    assert explained, "no explain_next recommendation in 22 minutes"
    late = [r for r in explained if r.stream_ms >= 18 * 60_000]
    assert late and late[0].evidence["label"] == "fabric_material", [(r.stream_ms, r.evidence["label"]) for r in explained]
    e = late[0].evidence
    # it tripled the orders for 3 minutes; the estimate (at full exposure, shrunk to the prior) is positive
    assert e["uplift"] > 0.1 and e["uplift_lo"] < e["uplift"] < e["uplift_hi"]
    flat = run.states[ROOM].attribution.uplift("style_design")
    assert flat.uplift < e["uplift"]
    assert e["explanations"] == 3 and e["minutes_since_explained"] >= 3
    assert "面料" in late[0].message_zh and "Fabric" in late[0].message_en.title()
    # the flat class is never the pick once the boosted one has evidence
    assert all(r.evidence["label"] != "style_design" for r in late)
    # no spam: one explain_next per TTL (120 s)
    times = [r.stream_ms for r in explained]
    assert all(b - a >= 120_000 for a, b in zip(times, times[1:]))
    room = run.states[ROOM]
    assert len(room.attribution.windows) >= 21  # one attribution window per minute, not per chat message


def test_viewer_questions_put_the_class_they_ask_about_first_with_the_question_as_evidence():
    settings = Settings(metrics_window_ms=WINDOW_MS, data_dir=PRIVATE_DATA_DIR, _env_file=None)
    run = ProcessorRun(RecommenderProcessor(settings, SharedChatAnalysis(ChatAnalyzer())))
    asks = {s: "我160穿什么码" for s in range(17 * 60, 18 * 60, 3)}  # a size question every 3 s in minute 17
    outputs = run.feed(_live_room(minutes=18, boosted="fabric_material", flat="style_design", questions=asks))
    picks = [o.event for o in outputs if o.event.rec_type == "explain_next" and o.event.stream_ms >= 17 * 60_000]
    assert picks, "no explain_next while viewers ask about size"
    size = [r for r in picks if r.evidence["label"] in ("size_guidance", "fit_cut")]
    assert size, [r.evidence["label"] for r in picks]
    assert size[0].evidence["top_question"] == "我160穿什么码" and size[0].evidence["viewer_questions"] >= 1
    assert "我160穿什么码" in size[0].message_zh
    # ranked with the rules: the outputs of one input go out highest priority first
    by_input: dict = {}
    for o in outputs:
        by_input.setdefault((o.event.stream_ms, o.event.ingested_at), []).append(o.event.priority)
    assert all(p == sorted(p, reverse=True) for p in by_input.values())


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_explain_next_evidence_says_what_moves_the_fused_forecast(lang):
    """The host's "why": the latest fused window's per-modality influence, in both languages (the
    room page shows the one of the room's language)."""
    settings = Settings(metrics_window_ms=WINDOW_MS, data_dir=PRIVATE_DATA_DIR, _env_file=None)
    run = ProcessorRun(RecommenderProcessor(settings, SharedChatAnalysis(ChatAnalyzer())))
    events = _live_room(minutes=25, boosted="fabric_material", flat="style_design")

    def fused(end_ms: int) -> FusedWindow:
        return FusedWindow(room_id=ROOM, stream_ms=end_ms, start_ms=end_ms - 4_000, end_ms=end_ms, highlight_score=0.7,
                           conversion_forecast=1.2, modalities=["transcript", "chat", "commerce"],
                           influence={"transcript": 0.2, "chat": 0.05, "commerce": -0.001}, learned=True)

    # fused windows every 2 s from minute 17 to minute 20, none after
    stream = []
    for e in events:
        stream.append(e)
        if isinstance(e, tuple) and e[0] == "commerce" and 17 * 60 <= (e[1].stream_ms + 1) // 1000 < 20 * 60 \
                and ((e[1].stream_ms + 1) // 1000) % 2 == 0:
            stream.append(("fused", fused(e[1].stream_ms + 1)))
    outputs = run.feed(stream)
    during = [o.event for o in outputs if o.event.rec_type == "explain_next" and 17 * 60_000 < o.event.stream_ms < 20 * 60_000]
    assert during, "no explain_next while fused windows came"
    expected = {"zh": "讲解 +22%，弹幕 +5%", "en": "pitch +22%, chat +5%"}[lang]
    assert all(r.evidence[f"fusion_why_{lang}"] == expected for r in during)
    early = [o.event for o in outputs if o.event.rec_type == "explain_next" and o.event.stream_ms < 17 * 60_000]
    assert early and all("fusion_why_zh" not in r.evidence for r in early)  # no fused window yet: no why
    # fusion stopped at minute 20: half a minute later its why is stale and left out
    stale = [o.event for o in outputs if o.event.rec_type == "explain_next" and o.event.stream_ms > 20 * 60_000 + 30_000]
    assert stale and all("fusion_why_zh" not in r.evidence for r in stale)


def test_a_room_that_ends_leaves_its_category_prior_and_a_new_room_starts_warm(tmp_path):
    """A zh room ends: what it learned goes into the category's prior on disk. A new en room (on a
    fresh worker) starts from that prior: before any evidence of its own it already knows which
    class converts, and recommends it."""
    from models.attribution import CategoryPriorStore

    settings = Settings(metrics_window_ms=WINDOW_MS, data_dir=tmp_path, _env_file=None)
    run = ProcessorRun(RecommenderProcessor(settings, SharedChatAnalysis(ChatAnalyzer())))
    run.feed(_live_room(minutes=22, boosted="fabric_material", flat="style_design", room="room-zh", lang="zh")
             + [("chat", StreamMarker(room_id="room-zh", stream_ms=22 * 60_000, marker="end"))])
    path = tmp_path / "attribution" / "apparel.json"
    assert path.exists(), "the ended room's attribution was not stored"
    prior = CategoryPriorStore(tmp_path / "attribution").prior("apparel")
    assert prior["fabric_material"]["beta"]["orders"] > prior["style_design"]["beta"]["orders"]

    fresh = ProcessorRun(RecommenderProcessor(settings, SharedChatAnalysis(ChatAnalyzer())))
    quiet = [e for e in _live_room(minutes=3, boosted="none", flat="none", room="room-en", lang="en", seed=8)
             if isinstance(e, tuple) or not isinstance(e, SellingPoint)]
    outputs = fresh.feed(quiet)
    attribution = fresh.states["room-en"].attribution
    warm = attribution.uplift("fabric_material")
    assert warm.from_prior_only and warm.uplift == pytest.approx(math.expm1(prior["fabric_material"]["beta"]["orders"]), abs=1e-3)
    assert warm.uplift > attribution.uplift("style_design").uplift
    picks = [o.event for o in outputs if o.event.rec_type == "explain_next"]
    assert picks and picks[0].evidence["label"] == "fabric_material", [r.evidence.get("label") for r in picks]
    assert "Fabric" in picks[0].message_en.title()
