"""Processor helpers: each message is decoded once per worker, kinds still checked per processor."""

from __future__ import annotations


class _FakeTopic:
    def __init__(self):
        self.sent: list[bytes] = []

    async def send(self, key, value):
        self.sent.append(value)


class _FakeContext:
    def __init__(self):
        from streams.settings import Settings

        self.settings = Settings()
        self.dead = _FakeTopic()

    def topic(self, name):
        assert name == "dead_letters"
        return self.dead


async def test_each_message_is_decoded_once_per_worker_and_kinds_still_checked_per_processor():
    from processors.base import Processor
    from streams.schemas import ChatInsight, ChatMessage, decode_event

    ctx = _FakeContext()
    chat, other = Processor(ctx, "chat"), Processor(ctx, "other")
    raw = ChatMessage(room_id="r1", stream_ms=5, user_id="u1", text="多少钱").to_bytes()
    first = await chat.decode(raw, "chat", (ChatMessage,))
    assert await chat.decode(raw, "chat", (ChatMessage,)) is first  # same bytes object: parsed once
    assert first == decode_event(raw)
    # equal bytes in another object are parsed again (identity, not content, is the key)
    assert await chat.decode(bytes(bytearray(raw)), "chat", (ChatMessage,)) is not first
    # a processor that does not accept the kind still dead-letters it, cached or not
    assert await other.decode(raw, "chat_insights", (ChatInsight,)) is None
    assert len(ctx.dead.sent) == 1 and b"unexpected kind" in ctx.dead.sent[0]


async def test_inputs_and_outputs_are_counted_per_processor_and_kind():
    from prometheus_client import REGISTRY

    from processors.base import Processor
    from streams.schemas import ChatMessage, CommerceEvent, Recommendation

    class _Context(_FakeContext):
        def topic(self, name):
            return self.dead  # any topic: a list of what was sent

    def value(metric, **labels):
        return REGISTRY.get_sample_value(metric, labels) or 0.0

    proc = Processor(_Context(), "count-test", budget_ms=300)
    before_chat = value("livelens_events_in_total", processor="count-test", kind="chat")
    for i in range(3):  # distinct bytes each time: the decode cache must not hide an input
        await proc.decode(ChatMessage(room_id="r1", stream_ms=i, user_id="u", text=f"m{i}").to_bytes(),
                          "chat", (ChatMessage, CommerceEvent))
    await proc.decode(CommerceEvent(room_id="r1", stream_ms=9, type="like").to_bytes(), "commerce",
                      (ChatMessage, CommerceEvent))
    assert value("livelens_events_in_total", processor="count-test", kind="chat") == before_chat + 3
    assert value("livelens_events_in_total", processor="count-test", kind="commerce") >= 1
    before_out = value("livelens_events_out_total", processor="count-test", kind="recommendation")
    before_latency = value("livelens_latency_seconds_count", processor="count-test")
    for _ in range(2):
        await proc.emit("recommendations", Recommendation(
            room_id="r1", stream_ms=9, ingested_at=1.0, rec_type="pin_product", message_zh="置顶",
            message_en="pin it", reason="asked", priority=1, expires_ms=10, dedup_key="k"))
    assert value("livelens_events_out_total", processor="count-test", kind="recommendation") == before_out + 2
    assert value("livelens_latency_seconds_count", processor="count-test") == before_latency + 2
    assert value("livelens_budget_breaches_total", processor="count-test") >= 2  # ingested in 1970


async def test_an_own_agent_keeps_going_after_a_failing_event_which_is_dead_lettered_then_released():
    from types import SimpleNamespace

    from processors.base import Processor

    failed, order = [], []

    class _Ctx(_FakeContext):
        async def handler_failed(self, processor, event, exc):
            failed.append((processor, event.message.offset, str(exc)))
            order.append("dead-lettered")

    proc = Processor(_Ctx(), "asr")
    events = [SimpleNamespace(value=b"x", message=SimpleNamespace(topic="t.audio", partition=0, offset=i))
              for i in range(3)]
    handled = []
    for event in events:  # the shape of an agent's loop
        async with proc.guard(event, on_failure=lambda: order.append("released")):
            if event.message.offset == 1:
                raise RuntimeError("decoder bug")
            handled.append(event.message.offset)
    assert handled == [0, 2]
    assert failed == [("asr", 1, "decoder bug")]
    assert order == ["dead-lettered", "released"]  # acked only after its dead letter is written
