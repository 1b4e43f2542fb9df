"""The Redis sink writes a batch of chat insights as its items: what the dashboard and readers of
``stream:chat_insight`` see is one entry per chat message, deduplicated per message."""

from __future__ import annotations

from sinks.redis import RedisSink
from streams.embedded import EmbeddedRedis, free_port
from streams.schemas import ChatInsight, ChatInsights


def _insight(i: int) -> ChatInsight:
    return ChatInsight(room_id="batch-room", event_id=f"m{i}:insight", stream_ms=10 * i, message_id=f"m{i}",
                       text=f"t{i}", sentiment="positive", emotion="joy", intent="praise", confidence=0.8)


async def test_a_batch_is_written_as_its_items_once_each():
    server = EmbeddedRedis(port=free_port()).start()
    sink = RedisSink(server.url)
    try:
        first = ChatInsights(room_id="batch-room", stream_ms=20, items=[_insight(1), _insight(2)])
        assert await sink.write_many([first]) == [True, True]
        # a redelivery after a crash may batch differently: items already written are skipped
        again = ChatInsights(room_id="batch-room", stream_ms=30, items=[_insight(2), _insight(3)])
        assert await sink.write_many([again]) == [False, True]
        written = await sink.events("batch-room", "chat_insight")
        assert [e["message_id"] for e in written] == ["m1", "m2", "m3"]
        assert all(e["kind"] == "chat_insight" for e in written)
        assert await sink.events("batch-room", "chat_insights") == []
        state = await sink.state("batch-room")
        assert '"m3"' in state["last:chat_insight"]
    finally:
        await sink.close()
        server.stop()
