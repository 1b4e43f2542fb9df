"""The recommender processor: rate rules from its own windows over chat and commerce (no
``room_metrics`` hop), redeliveries not counted twice, a room forgotten at its end."""

from __future__ import annotations

import pytest

from processors.recommender import RecommenderProcessor
from processors.shared import SharedChatAnalysis
from processors.testing import ProcessorRun
from models.understanding.chat import ChatAnalyzer
from streams.schemas import ChatMessage, CommerceEvent, StreamMarker
from streams.settings import Settings

ROOM = "rec-unit"
WINDOW_MS = 5_000


class _Recommend:
    """``feed(topic, event, offset)`` runs the recommender on one event; ``emitted`` holds its
    recommendations."""

    def __init__(self):
        settings = Settings(metrics_window_ms=WINDOW_MS, _env_file=None)
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
