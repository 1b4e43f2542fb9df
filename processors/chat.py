"""Chat understanding: each message → sentiment, emotion, live-commerce intent (``chat_insights``);
per room and window → sentiment/emotion mix, intent counts, most-asked questions (``chat_windows``).

The models are :class:`models.understanding.chat.ChatAnalyzer` (~0.05 ms per message, on the loop)
and :class:`models.understanding.streaming.ChatAggregator`, whose window state lives in the faust
table ``chat_rooms`` (JSON snapshot, written at each offset commit: :class:`streams.state.RoomStates`),
so a restarted worker continues the open window.
"""

from __future__ import annotations

from models.understanding.chat import ChatAnalysis, ChatAnalyzer
from models.understanding.streaming import ChatAggregator
from processors.base import Processor
from streams.app import AppContext
from streams.schemas import ChatInsight, ChatMessage, ChatWindow, StreamMarker

NAME = "chat"
TABLE = "chat_rooms"
TEXT_KEEP = 256  # chars of the message carried on the insight (the full text stays on the input topic)


class SharedChatAnalysis:
    """One :class:`ChatAnalyzer` per worker, and one analysis per chat message.

    Why: the recommender reads the chat topic itself instead of this processor's insights (one
    broker hop, ~50-100 ms under load, sooner); when both run in one worker, whichever sees a
    message first analyses it and the other reuses the result (bounded, oldest dropped first).
    """

    MAX_KEPT = 4096

    def __init__(self, analyzer: ChatAnalyzer):
        self.analyzer = analyzer
        self._by_event: dict[str, ChatAnalysis] = {}

    def __call__(self, message: ChatMessage) -> ChatAnalysis:
        hit = self._by_event.pop(message.event_id, None)  # the second reader is the last: forget it
        if hit is not None:
            return hit
        analysis = self.analyzer.analyze(message.text)
        if len(self._by_event) >= self.MAX_KEPT:
            del self._by_event[next(iter(self._by_event))]
        self._by_event[message.event_id] = analysis
        return analysis


def shared_analysis(ctx: AppContext) -> SharedChatAnalysis:
    """The worker's :class:`SharedChatAnalysis` (made by whichever processor asks first)."""
    if "chat_analysis" not in ctx.extras:
        weights = ctx.settings.understanding.chat_weights
        ctx.extras["chat_analysis"] = SharedChatAnalysis(ChatAnalyzer(weights) if weights else ChatAnalyzer())
    return ctx.extras["chat_analysis"]


def register(ctx: AppContext) -> None:
    s = ctx.settings
    u = s.understanding
    proc = Processor(ctx, NAME, s.budgets.chat)
    table = ctx.app.Table(TABLE, default=None, partitions=s.partitions)
    ctx.tables.append(TABLE)
    analyze = shared_analysis(ctx)

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

    @ctx.app.agent(ctx.topic("chat"), name=f"{s.app_id}.chat")
    async def chat_agent(stream):
        async for event in stream.events():
            ev = await proc.decode(event.value, "chat", (ChatMessage, StreamMarker))
            if ev is None:
                continue
            if isinstance(ev, StreamMarker):
                if ev.marker in ("end", "flush"):
                    agg = rooms.get(ev.room_id, event.message.partition)
                    windows = agg.flush()
                    await rooms.applied(ev.room_id, emit_windows(ev.room_id, windows, ev.ingested_at))
                continue
            analysis = analyze(ev)
            await proc.emit("chat_insights", ChatInsight(
                room_id=ev.room_id, event_id=f"{ev.event_id}:insight", stream_ms=ev.stream_ms,
                ingested_at=ev.ingested_at, message_id=ev.event_id, user_id=ev.user_id, text=ev.text[:TEXT_KEEP],
                sentiment=analysis.sentiment.label, emotion=analysis.emotion.label, intent=analysis.intent.label,
                confidence=min(max(analysis.confidence, 0.0), 1.0)))
            agg = rooms.get(ev.room_id, event.message.partition)
            windows = agg.add(ev.stream_ms, ev.text, analysis)
            await rooms.applied(ev.room_id, emit_windows(ev.room_id, windows, ev.ingested_at) if windows else None)
