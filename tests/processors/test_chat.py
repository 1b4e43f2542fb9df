"""InsightBatcher: a room's chat insights leave as one ChatInsights record per flush, in order."""

from __future__ import annotations

import asyncio

from processors.chat import InsightBatcher
from streams.schemas import ChatInsight, ChatInsights, decode_event


def insight(room: str, i: int, ingested_at: float = 1_700_000_000.0) -> ChatInsight:
    return ChatInsight(room_id=room, event_id=f"{room}-m{i}:insight", stream_ms=100 * i, ingested_at=ingested_at,
                       message_id=f"{room}-m{i}", text=f"msg {i}", sentiment="neutral", emotion="neutral",
                       intent="chit_chat", confidence=0.5)


class Sent:
    def __init__(self):
        self.batches: list[ChatInsights] = []
        self.release = asyncio.Event()
        self.release.set()
        self.sending = asyncio.Event()  # set once a send has started (and may be held by release)

    async def __call__(self, batch: ChatInsights) -> None:
        self.sending.set()
        await self.release.wait()
        # what goes on the wire: the batch must survive its own encoding
        self.batches.append(decode_event(batch.to_bytes()))


async def test_a_flush_sends_one_record_per_room_with_its_insights_in_order():
    sent = Sent()
    batcher = InsightBatcher(sent, max_items=100)
    await batcher.add(insight("a", 1, ingested_at=1_700_000_002.0))
    await batcher.add(insight("b", 1))
    await batcher.add(insight("a", 2, ingested_at=1_700_000_001.0))
    assert sent.batches == [] and batcher.pending() == 3
    assert await batcher.flush() == 2
    by_room = {b.room_id: b for b in sent.batches}
    assert [i.message_id for i in by_room["a"].items] == ["a-m1", "a-m2"]
    assert [i.message_id for i in by_room["b"].items] == ["b-m1"]
    # the batch's latency is its slowest item's; its stream time the newest item's
    assert by_room["a"].ingested_at == 1_700_000_001.0 and by_room["a"].stream_ms == 200
    assert batcher.pending() == 0 and await batcher.flush() == 0


async def test_a_room_at_max_items_goes_out_at_once_and_alone():
    sent = Sent()
    batcher = InsightBatcher(sent, max_items=3)
    await batcher.add(insight("quiet", 1))
    for i in range(7):
        await batcher.add(insight("hot", i))
    assert [len(b.items) for b in sent.batches] == [3, 3]
    assert all(b.room_id == "hot" for b in sent.batches)
    assert batcher.pending() == 2  # hot's 7th insight and quiet's one wait for the next flush
    assert await batcher.flush("hot") == 1 and sent.batches[-1].items[0].message_id == "hot-m6"
    assert batcher.pending() == 1


async def test_max_items_one_sends_every_insight_alone():
    """insight_batch_ms = 0 (no timer) means one record per message."""
    sent = Sent()
    batcher = InsightBatcher(sent, max_items=1)
    for i in range(3):
        await batcher.add(insight("a", i))
    assert [len(b.items) for b in sent.batches] == [1, 1, 1] and batcher.pending() == 0


async def test_a_flush_waits_for_one_still_sending_and_keeps_a_rooms_order():
    """The commit's flush must not return while the timer's flush is still sending."""
    sent = Sent()
    batcher = InsightBatcher(sent, max_items=100)
    await batcher.add(insight("a", 1))
    sent.release.clear()
    timer_flush = asyncio.create_task(batcher.flush())
    await asyncio.wait_for(sent.sending.wait(), 10)  # it popped a-m1 and waits in send
    await batcher.add(insight("a", 2))
    commit_flush = asyncio.create_task(batcher.flush())
    for _ in range(50):  # every task runs as far as it can (no I/O here: no wall-clock wait needed)
        await asyncio.sleep(0)
    assert not commit_flush.done(), "a flush passed one that was still sending"
    sent.release.set()
    assert await timer_flush == 1 and await commit_flush == 1
    assert [b.items[0].message_id for b in sent.batches] == ["a-m1", "a-m2"]


def _chat_processor():
    from models.understanding.chat import ChatAnalyzer
    from processors.chat import ChatProcessor
    from processors.shared import SharedChatAnalysis
    from streams.settings import Settings

    return ChatProcessor(Settings(_env_file=None), SharedChatAnalysis(ChatAnalyzer()))


def _room_chat():
    from streams.schemas import ChatMessage, StreamMarker

    lines = ["这个多少钱", "多少钱啊", "已拍", "太贵了吧", "how much is it", "绝绝子😍"]
    events = [ChatMessage(room_id="c-room", event_id=f"m{i}", stream_ms=1_000 * i, user_id=f"u{i}", text=t)
              for i, t in enumerate(lines)]
    return events + [StreamMarker(room_id="c-room", stream_ms=12_000, marker="end")]


def test_chat_processor_gives_an_insight_per_message_and_the_window_at_the_end():
    from processors.testing import run_processor

    outputs = run_processor(_chat_processor(), _room_chat())
    insights = [o.event for o in outputs if o.topic == "chat_insights"]
    windows = [o.event for o in outputs if o.topic == "chat_windows"]
    assert len(insights) == 6 and insights[0].intent == insights[1].intent  # both ask the price
    assert insights[2].intent == "purchase_signal" and insights[3].sentiment == "negative"
    assert windows and sum(w.messages for w in windows) == 6
    assert any("多少钱" in q for q in windows[-1].top_questions)


def test_chat_processor_state_survives_its_table_round_trip():
    from processors.testing import run_processor

    events = _room_chat()
    plain = run_processor(_chat_processor(), events)
    restored = run_processor(_chat_processor(), events, restore_every=1)
    dump = lambda outs: [o.event.model_dump(exclude={"emitted_at"}) for o in outs]  # noqa: E731
    assert dump(restored) == dump(plain)


# --- the encoder heads refine insight batches (understanding.chat_encoder) -----------------------

def _processor_with_encoder(encoder: str = "use-multilingual", batch: int = 64, process: bool = False):
    from models.understanding.chat import ChatAnalyzer
    from processors.chat import ChatProcessor
    from processors.shared import SharedChatAnalysis
    from streams.settings import Settings

    settings = Settings(_env_file=None)
    settings.understanding.chat_encoder, settings.understanding.chat_encoder_batch = encoder, batch
    settings.understanding.chat_encoder_process = process  # the child process: its own tests below
    return ChatProcessor(settings, SharedChatAnalysis(ChatAnalyzer(encoder=None)))


def _messages(room: str, lines: list[str]):
    from streams.schemas import ChatMessage

    return [ChatMessage(room_id=room, event_id=f"{room}-m{i}", stream_ms=1_000 * i, user_id=f"u{i}", text=t)
            for i, t in enumerate(lines)]


def test_fast_insights_carry_sentiment_score_and_the_seven_emotion_probabilities_zh_and_en():
    from models.understanding.chat_data import EMOTIONS
    from processors.testing import run_processor

    outputs = run_processor(_processor_with_encoder(), _messages("r", ["主播好漂亮", "this dress is so beautiful"]))
    insights = [o.event for o in outputs if o.topic == "chat_insights"]
    for item in insights:  # the per-message decision is the fast one: nothing refined yet
        assert item.refined_by == "" and item.sentiment == "positive" and item.sentiment_score > 0.75
        assert sorted(item.emotion_scores) == sorted(EMOTIONS)
        assert abs(sum(item.emotion_scores.values()) - 1.0) < 0.01


def test_the_encoder_refines_a_batch_of_insights_zh_and_en():
    """"这衣服质量太差了，退货！" has no emotion for the lexicon heads; the encoder heads read sadness or
    anger in it, and in its English counterpart."""
    from processors.testing import run_processor

    processor = _processor_with_encoder(batch=2)  # 3 messages: two encoder calls
    lines = ["这衣服质量太差了，退货！", "this dress is awful, I want a refund", "主播好漂亮"]
    insights = [o.event for o in run_processor(processor, _messages("r", lines)) if o.topic == "chat_insights"]
    assert [i.emotion for i in insights[:2]] == ["none", "none"]
    assert processor.refine(insights) == 3
    assert all(i.refined_by == "use-multilingual" for i in insights)
    assert insights[0].emotion in ("sadness", "anger", "disgust") and insights[0].intent == "complaint"
    assert insights[1].emotion in ("sadness", "anger", "disgust") and insights[1].sentiment == "negative"
    assert insights[2].sentiment == "positive" and insights[2].emotion == "like"
    assert all(0.0 <= i.sentiment_score <= 1.0 and len(i.emotion_scores) == 7 for i in insights)


def test_refinement_takes_bad_input_without_a_crash():
    from processors.testing import run_processor

    processor = _processor_with_encoder()
    lines = ["", "x" * 10_000, "😍😍😍🔥", "这件dress好nice呀 yyds", "a\x00b\x07c\x1b[31m 好看"]
    insights = [o.event for o in run_processor(processor, _messages("r", lines)) if o.topic == "chat_insights"]
    assert processor.refine(insights) == len(lines)
    for item in insights:
        assert item.refined_by and item.sentiment in ("positive", "neutral", "negative")
        assert len(item.emotion_scores) == 7 and 0.0 <= item.confidence <= 1.0
    assert len(insights[1].text) <= 256  # the insight (and what the encoder sees) is cut


def test_no_encoder_means_no_refinement():
    processor = _processor_with_encoder(encoder="none")
    processor.load_models()
    assert processor.refiner is None and processor.refine([insight("a", 1)]) == 0


class RecordingRefiner:
    """A fake encoder: records the message ids of each call and marks the insights refined."""

    def __init__(self):
        self.calls: list[list[str]] = []

    async def __call__(self, items):
        self.calls.append([i.message_id for i in items])
        for i in items:
            i.refined_by = "test-encoder"


async def test_a_flush_refines_every_rooms_insights_in_one_call_before_sending():
    sent = Sent()
    refine = RecordingRefiner()
    calls = refine.calls
    batcher = InsightBatcher(sent, max_items=100, refine=refine)
    await batcher.add(insight("a", 1))
    await batcher.add(insight("b", 1))
    await batcher.add(insight("a", 2))
    assert await batcher.flush() == 2
    assert calls == [["a-m1", "a-m2", "b-m1"]]
    assert all(i.refined_by == "test-encoder" for b in sent.batches for i in b.items)
    assert await batcher.flush() == 0 and len(calls) == 1  # nothing pending: no call


def test_refinement_past_its_deadline_leaves_the_rest_with_the_fast_decision():
    import time

    from processors.testing import run_processor

    processor = _processor_with_encoder(batch=2)
    lines = ["这衣服质量太差了，退货！", "主播好漂亮", "this dress is awful, I want a refund", "多少钱", "好看"]
    insights = [o.event for o in run_processor(processor, _messages("r", lines)) if o.topic == "chat_insights"]
    assert processor.refine(insights, deadline=time.monotonic() - 1) == 2  # the first call always runs
    assert [bool(i.refined_by) for i in insights] == [True, True, False, False, False]
    assert insights[2].emotion == "none" and insights[2].sentiment == "negative"  # the fast decision stands


async def test_a_full_batch_waiting_for_the_refiner_does_not_hold_back_the_next_input():
    """With a refiner, a room that reaches max_items is flushed by a task of its own: ``add``
    (the dispatch agent, every light processor's inputs) returns while the encoder works; the
    room's batches still leave oldest first, and ``flush`` (before a commit) waits for them all."""
    sent = Sent()
    encoder_free = asyncio.Event()

    async def slow_refine(items):
        await encoder_free.wait()
        for i in items:
            i.refined_by = "test-encoder"

    batcher = InsightBatcher(sent, max_items=2, refine=slow_refine)
    for i in range(5):  # two full batches of "hot" start flushing; its 5th insight stays pending
        await asyncio.wait_for(batcher.add(insight("hot", i)), timeout=30)
    assert sent.batches == [] and batcher.pending() == 1
    final = asyncio.ensure_future(batcher.flush())
    await asyncio.sleep(0)
    assert not final.done()  # the commit's flush waits for the encoder too
    encoder_free.set()
    await asyncio.wait_for(final, timeout=30)
    assert [[i.message_id for i in b.items] for b in sent.batches] == [["hot-m0", "hot-m1"], ["hot-m2", "hot-m3"], ["hot-m4"]]
    assert all(i.refined_by == "test-encoder" for b in sent.batches for i in b.items)


async def test_the_encoder_heads_in_a_child_process_decide_as_in_this_one_zh_and_en():
    from processors.testing import run_processor

    lines = ["这衣服质量太差了，退货！", "this dress is awful, I want a refund", "主播好漂亮", "多少钱呀", "",
             "a\x00b\x07c 好看"]
    here = _processor_with_encoder(batch=4)
    child = _processor_with_encoder(batch=4, process=True)
    assert child.child is not None and here.child is None
    try:
        ref = [o.event for o in run_processor(here, _messages("r", lines)) if o.topic == "chat_insights"]
        out = [o.event for o in run_processor(child, _messages("r", lines)) if o.topic == "chat_insights"]
        assert here.refine(ref) == len(lines)
        assert await child.refine_off_loop(out) == len(lines)
        assert child.refiner is None  # nothing loaded in this process
        for a, b in zip(ref, out):
            assert (b.sentiment, b.emotion, b.intent, b.refined_by) == (a.sentiment, a.emotion, a.intent, a.refined_by)
            assert abs(b.confidence - a.confidence) < 1e-6 and b.emotion_scores == a.emotion_scores
        assert out[0].emotion in ("sadness", "anger", "disgust") and out[0].intent == "complaint"
    finally:
        child.child.close()


async def test_insights_go_to_the_refiner_as_they_come_and_a_flush_waits_only_for_the_rest():
    sent = Sent()
    refine = RecordingRefiner()
    calls = refine.calls
    batcher = InsightBatcher(sent, max_items=100, refine=refine, prefetch_ms=60_000, prefetch_items=2)
    for i in range(3):
        await batcher.add(insight("a", i))
    await batcher.add(insight("b", 0))
    await batcher.add(insight("a", 3))
    await asyncio.sleep(0)  # the hand-offs run as tasks
    assert calls == [["a-m0", "a-m1"], ["a-m2", "b-m0"]] and sent.batches == []  # nothing sent before a flush
    assert await batcher.flush() == 2
    assert calls[-1] == ["a-m3"]  # the flush handed over only what was still waiting
    by_room = {b.room_id: [i.message_id for i in b.items] for b in sent.batches}
    assert by_room == {"a": ["a-m0", "a-m1", "a-m2", "a-m3"], "b": ["b-m0"]}
    assert all(i.refined_by == "test-encoder" for b in sent.batches for i in b.items)
    assert batcher._refining == {}  # nothing left behind
