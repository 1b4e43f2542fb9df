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
