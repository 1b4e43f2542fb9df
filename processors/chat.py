"""Chat understanding: each message → sentiment, emotion, live-commerce intent (``chat_insights``);
per room and window → sentiment/emotion mix, intent counts, most-asked questions (``chat_windows``).

The models are :class:`models.understanding.chat.ChatAnalyzer` (~0.05 ms per message, on the loop)
and :class:`models.understanding.streaming.ChatAggregator`, whose window state lives in the faust
table ``chat_rooms`` (JSON snapshot, written at each offset commit: :class:`streams.state.RoomStates`),
so a restarted worker continues the open window.

Insights leave as one ``ChatInsights`` record per room and flush interval
(``understanding.insight_batch_ms``, :class:`InsightBatcher`): a hot room's 50 messages/s are 10
records, not 50.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from models.understanding.streaming import ChatAggregator
from processors.base import Processor
from processors.shared import TEXT_KEEP, shared_chat_analysis
from streams.app import AppContext
from streams.schemas import ChatInsight, ChatInsights, ChatMessage, ChatWindow, StreamMarker

NAME = "chat"
TABLE = "chat_rooms"


class InsightBatcher:
    """Pending chat insights per room, sent as one :class:`ChatInsights` per room and flush.

    A flush happens every ``insight_batch_ms`` (a faust timer), when a room holds ``max_items``,
    at a room's end marker, and right before offsets are committed (``app.livelens_before_commit``):
    like room state (streams/state.py), a committed input's insight is always with the producer,
    which faust flushes before the commit. One lock orders the flushes, so a room's batches go
    out oldest first and a commit never passes a flush still sending.
    """

    def __init__(self, send: Callable[[ChatInsights], Awaitable[None]], max_items: int):
        self._send = send
        self.max_items = max(1, max_items)
        self._pending: dict[str, list[ChatInsight]] = {}
        self._lock = asyncio.Lock()

    async def add(self, insight: ChatInsight) -> None:
        items = self._pending.setdefault(insight.room_id, [])
        items.append(insight)
        if len(items) >= self.max_items:
            await self.flush(insight.room_id)

    async def flush(self, room_id: str | None = None) -> int:
        """Send the pending insights of ``room_id`` (None: of every room); the records sent."""
        async with self._lock:
            sent = 0
            for room in [room_id] if room_id is not None else list(self._pending):
                items = self._pending.pop(room, None)
                if items:
                    await self._send(ChatInsights(
                        room_id=room, event_id=f"{items[0].event_id}s", stream_ms=items[-1].stream_ms,
                        ingested_at=min(i.ingested_at for i in items), items=items))
                    sent += 1
            return sent

    def pending(self) -> int:
        return sum(len(items) for items in self._pending.values())


def register(ctx: AppContext) -> None:
    s = ctx.settings
    u = s.understanding
    proc = Processor(ctx, NAME, s.budgets.chat)
    table = ctx.app.Table(TABLE, default=None, partitions=s.partitions)
    ctx.tables.append(TABLE)
    analyze = shared_chat_analysis(ctx.extras, s)

    async def send_insights(batch: ChatInsights) -> None:
        now = time.time()
        for item in batch.items:
            item.processor, item.emitted_at = NAME, now
        await proc.emit("chat_insights", batch)

    batch_s = u.insight_batch_ms / 1000.0
    insights = InsightBatcher(send_insights, u.insight_batch_max if batch_s > 0 else 1)
    ctx.app.livelens_before_commit.append(insights.flush)
    if batch_s > 0:
        @ctx.app.timer(batch_s, name=f"{s.app_id}.chat-insights-flush")
        async def flush_insights() -> None:  # no parameters: faust passes the app to a task that has one
            await insights.flush()

    rooms = ctx.room_states(
        table, load=lambda saved: ChatAggregator.from_state(saved) if saved else ChatAggregator(
            u.chat_window_ms, u.top_questions), dump=ChatAggregator.to_state)

    async def emit_windows(room_id: str, windows, ingested_at: float) -> None:
        for w in windows:
            await proc.emit("chat_windows", ChatWindow(
                room_id=room_id, event_id=f"{room_id}:chat_window:{w.start_ms}", stream_ms=w.end_ms,
                ingested_at=ingested_at, start_ms=w.start_ms, end_ms=w.end_ms, messages=w.messages,
                sentiment_mix=w.sentiment_mix, emotion_mix=w.emotion_mix, intent_counts=w.intent_counts,
                top_questions=[q for q, _n in w.top_questions], top_question_counts=[n for _q, n in w.top_questions]))

    async def on_chat(event) -> None:
        ev = await proc.decode(event.value, "chat", (ChatMessage, StreamMarker))
        if ev is None:
            return
        if isinstance(ev, StreamMarker):
            if ev.marker in ("end", "flush"):
                await insights.flush(ev.room_id)
                agg = rooms.get(ev.room_id, event.message.partition)
                windows = agg.flush()
                await rooms.applied(ev.room_id, emit_windows(ev.room_id, windows, ev.ingested_at))
            return
        analysis = analyze(ev)
        await insights.add(ChatInsight(
            room_id=ev.room_id, event_id=f"{ev.event_id}:insight", stream_ms=ev.stream_ms,
            ingested_at=ev.ingested_at, message_id=ev.event_id, user_id=ev.user_id, text=ev.text[:TEXT_KEEP],
            sentiment=analysis.sentiment.label, emotion=analysis.emotion.label, intent=analysis.intent.label,
            confidence=min(max(analysis.confidence, 0.0), 1.0)))
        agg = rooms.get(ev.room_id, event.message.partition)
        windows = agg.add(ev.stream_ms, ev.text, analysis)
        await rooms.applied(ev.room_id, emit_windows(ev.room_id, windows, ev.ingested_at) if windows else None)

    ctx.on_event(NAME, ["chat"], on_chat)
